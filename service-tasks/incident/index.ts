import { z } from 'zod';
import type { ServiceTaskDefinition } from '../registry.js';
import { analyseTask } from './analyse.js';
import { featureFlagRemediation, type BuiltInRemediation } from './built-in-remediations.js';
import { checkResolvedTask } from './check-resolved.js';
import type { IncidentTaskDependencies } from './dependencies.js';
import { escalateTask } from './escalate.js';
import { learnTask } from './learn.js';
import { recordApprovalTask } from './record-approval.js';
import { recordFixTask } from './record-fix.js';
import { remediateTask } from './remediate.js';
import { rollbackTask } from './rollback.js';
import type { FeatureFlagStore, IncidentStore } from '../../src/store/incident-store.js';
import type { IncidentSettings } from './schemas.js';

export { featureFlagRemediation, type BuiltInRemediation } from './built-in-remediations.js';
export type { IncidentTaskDependencies } from './dependencies.js';
export type { IncidentSettings } from './schemas.js';

/** regenflow's own remediations, by topic. */
export function builtInRemediations(flags: FeatureFlagStore): Map<string, BuiltInRemediation> {
  const list: BuiltInRemediation[] = [featureFlagRemediation(flags) as unknown as BuiltInRemediation];
  return new Map(list.map((remediation) => [remediation.topic, remediation]));
}

/**
 * The service tasks of processes/incident-response.bpmn, and each built-in remediation
 * as a topic of its own (a diagram may call `remediation.feature-flag` directly).
 */
export function incidentTasks(options: { store: IncidentStore; flags: FeatureFlagStore; settings: IncidentSettings }): ServiceTaskDefinition[] {
  const remediations = builtInRemediations(options.flags);
  const deps: IncidentTaskDependencies = { store: options.store, remediations, settings: options.settings };
  const tasks = [
    analyseTask(deps),
    recordApprovalTask(deps),
    recordFixTask(deps),
    remediateTask(deps),
    rollbackTask(deps),
    checkResolvedTask(deps),
    learnTask(deps),
    escalateTask(deps),
  ] as unknown as ServiceTaskDefinition[];
  for (const remediation of remediations.values()) tasks.push(remediationTopic(remediation));
  return tasks;
}

const RemediationOutput = z.object({ remediationResult: z.record(z.string(), z.unknown()), remediationUndo: z.record(z.string(), z.unknown()) });

function remediationTopic(remediation: BuiltInRemediation): ServiceTaskDefinition {
  return {
    topic: remediation.topic,
    description: remediation.description,
    input: remediation.params,
    output: RemediationOutput,
    mode: 'inline',
    async handler(input, context) {
      const { result, undo } = await remediation.apply(input, context);
      return { remediationResult: result, remediationUndo: undo };
    },
  };
}
