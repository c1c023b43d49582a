import type { Knex } from 'knex';
import type { AuditEntry } from '../store/audit-entries.js';
import type { InstanceRow } from '../store/transitions.js';
import type { DefinitionAnalysis } from './definitions/analyse-definition.js';
import type { CompiledDefinition, DefinitionCache } from './definition-cache.js';
import type { ProcessRuntime, WarmInstance } from './runtime/process-runtime.js';
import type { ProcessSettings } from './timer-schedule.js';
import type { TransitionEvent, TransitionOutcome, Variables } from './types.js';

export interface WorkflowEngineOptions {
  knex: Knex;
  runtime: ProcessRuntime;
  analyse: (xml: string, options: { allowScripts: boolean }) => Promise<DefinitionAnalysis>;
  /** Names this node in job and external-task locks. */
  nodeId: string;
  allowScripts?: boolean;
  /** What timer start events read as `${environment.settings.NAME}`; the runtime gets the same. */
  settings?: ProcessSettings;
  /** Attempts of one transition against concurrent updates. @default 8 */
  maxAttempts?: number;
  /** How long a claimed job stays with this node. @default 60000 */
  jobLeaseMs?: number;
  /** Back-off before a failed job runs again. @default 10000 */
  jobRetryDelayMs?: number;
  /** Leases a job may outlive (claimed again after its lease ran out) before it is quarantined as an incident. @default 3 */
  jobMaxLeases?: number;
  /** Parked engines of recently moved instances kept per node, so their next transition skips recover; 0 turns it off. @default 64 */
  warmInstances?: number;
  /** Days an ended instance and its history are kept (Camunda 7's history time to live); 0 keeps them forever. @default 0 */
  historyRetentionDays?: number;
  /** This node's clock against the database's (NodeClockOffset): history times are written as `t − offset`. @default the same clock */
  clock?: { current(): Promise<number>; known(): number; now(): Date };
}

export interface DeployResource {
  name: string;
  xml: string;
}

export interface DeployedDefinition {
  id: string;
  key: string;
  version: number;
  name: string | null;
  executable: boolean;
  /** False when the same content was already the latest version. */
  created: boolean;
  warnings: DefinitionAnalysis['warnings'];
}

export interface Deployment {
  id: string;
  name: string;
  definitions: DeployedDefinition[];
}

export interface StartOptions {
  processKey?: string;
  definitionId?: string;
  variables?: Variables;
  businessKey?: string | null;
  audit?: AuditEntry;
  /** A timer, message or signal start event to fire now ("run now"); absent: the none start event. */
  startEventId?: string;
}

export interface CorrelateOptions {
  messageName: string;
  businessKey?: string;
  processInstanceId?: string;
  /** Process variables the instance must have (Camunda 7 `correlationKeys`). */
  correlationKeys?: Variables;
  variables?: Variables;
  /** Deliver to every matching subscription instead of exactly one. */
  all?: boolean;
  audit?: AuditEntry;
  /**
   * Runs in the commit of each delivery to a waiting execution: its writes commit with the
   * delivery or not at all, and throwing rolls the delivery back (the error is the call's). Not
   * run for a start by a message start event.
   */
  inCommit?: (trx: Knex.Transaction) => Promise<void>;
}

/** How a new instance starts: its variables and the event its first transition applies. */
export interface StartRunOptions {
  variables?: Variables;
  businessKey?: string | null;
  event?: TransitionEvent;
  /** A timer start event whose job fired. */
  dueNow?: string;
  parentExecutionId?: string;
  audit?: AuditEntry;
  /** A called instance's id, derived from its call activity's stable key. */
  id?: string;
}

/** A new instance run in memory, ready to be written (with its call activities' children). */
export interface PreparedInstance {
  id: string;
  definition: CompiledDefinition;
  businessKey: string | null;
  parentExecutionId?: string;
  outcome: TransitionOutcome;
  children: PreparedInstance[];
  /** The row as written, once it is. */
  row?: InstanceRow;
  /** Its engine, parked: kept warm once the row committed (see runtime/warm-instances.ts). */
  warm?: WarmInstance;
}

export interface CorrelationResult {
  resultType: 'Execution' | 'ProcessDefinition';
  instanceId: string;
}

/** The options with their defaults applied. */
export type ResolvedEngineOptions = Required<Omit<WorkflowEngineOptions, 'knex' | 'runtime' | 'analyse'>> & WorkflowEngineOptions;

/** What every engine module shares: the database, the runtime, the definition cache, the options, and the facade's events. */
export interface EngineContext {
  readonly knex: Knex;
  readonly runtime: ProcessRuntime;
  readonly definitions: DefinitionCache;
  readonly options: ResolvedEngineOptions;
  emit(event: string, ...args: unknown[]): boolean;
}
