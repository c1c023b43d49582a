import type { Knex } from 'knex';
import * as alerts from './alerts.js';
import * as decisions from './incident-decisions.js';
import * as flags from './feature-flags.js';
import * as patterns from './patterns.js';
import { summariseServiceSpans, type ServiceTelemetry } from './service-telemetry.js';

/**
 * The narrow interface through which the incident-response service tasks reach the
 * database (handed over by the incident module, src/modules/incident).
 */
export interface IncidentStore {
  findCandidatePatterns(match: patterns.PatternMatch): Promise<patterns.PatternRow[]>;
  touchPatterns(ids: string[]): Promise<void>;
  recentOutcomes(patternId: string, limit: number): Promise<patterns.OutcomeRow[]>;
  serviceTelemetry(service: string, windowMinutes: number): Promise<ServiceTelemetry | null>;
  recordFixAsPattern(pattern: Parameters<typeof patterns.insertPatternOnce>[1]): Promise<{ created: boolean; row: patterns.PatternRow }>;
  recordOutcome(outcome: Parameters<typeof patterns.recordOutcome>[1]): ReturnType<typeof patterns.recordOutcome>;
  recordOverride(override: Parameters<typeof patterns.recordOverride>[1]): Promise<void>;
  recordDecision(decision: Parameters<typeof decisions.recordDecision>[1]): Promise<void>;
  findAlertOccurrence(fingerprint: string, startsAt: Date): Promise<alerts.AlertRow | undefined>;
  /** Who claimed an instance's open user task of an activity (null: nobody; undefined: no such task). */
  userTaskAssignee(instanceId: string, activityId: string): Promise<string | null | undefined>;
}

/** What regenflow's own remediations may change: the feature-flag table. */
export interface FeatureFlagStore {
  get(key: string): Promise<flags.FeatureFlagRow | undefined>;
  change(change: Parameters<typeof flags.changeFlag>[1]): Promise<flags.FlagChange>;
}

export function createIncidentStore(knex: Knex): IncidentStore {
  return {
    findCandidatePatterns: (match) => patterns.findCandidatePatterns(knex, match),
    touchPatterns: (ids) => patterns.touchPatterns(knex, ids),
    recentOutcomes: (patternId, limit) => patterns.listOutcomes(knex, { patternId, limit }),
    serviceTelemetry: (service, windowMinutes) => summariseServiceSpans(knex, service, windowMinutes),
    recordFixAsPattern: (pattern) => patterns.insertPatternOnce(knex, pattern),
    recordOutcome: (outcome) => patterns.recordOutcome(knex, outcome),
    recordOverride: (override) => patterns.recordOverride(knex, override),
    recordDecision: (decision) => decisions.recordDecision(knex, decision),
    findAlertOccurrence: (fingerprint, startsAt) => alerts.findOccurrence(knex, fingerprint, startsAt),
    userTaskAssignee: async (instanceId, activityId) => {
      const task = await knex('user_tasks').where({ instance_id: instanceId, activity_id: activityId }).first('assignee');
      return task ? (task.assignee ?? null) : undefined;
    },
  };
}

export function createFeatureFlagStore(knex: Knex): FeatureFlagStore {
  return {
    get: (key) => flags.getFlag(knex, key),
    change: (change) => flags.changeFlag(knex, change),
  };
}
