import type { Knex } from 'knex';
import { activityStats, topicsInUse } from '../../store/activity-stats.js';
import { instanceListExtras } from '../../store/instance-list.js';
import * as store from '../../store/queries.js';
import type { InstanceRow } from '../../store/transitions.js';

/** An instance row as the native API answers it. */
export function describeInstance(row: InstanceRow) {
  return {
    id: row.id,
    definitionId: row.definition_id,
    processKey: row.process_key,
    businessKey: row.business_key,
    status: row.status,
    variables: row.variables,
    parentInstanceId: row.parent_instance_id,
    errorMessage: row.error_message,
    startedAt: row.started_at,
    endedAt: row.ended_at,
  };
}

/**
 * What operators look at through the native API and the UI (src/store/queries.ts,
 * instance-list.ts and activity-stats.ts), bound to the engine's database: the routers ask
 * here instead of running store functions.
 */
export class OperatorQueries {
  constructor(private readonly knex: Knex) {}

  listInstances(filter: Parameters<typeof store.listInstances>[1]) {
    return store.listInstances(this.knex, filter);
  }

  countInstances(filter: Parameters<typeof store.countInstances>[1]) {
    return store.countInstances(this.knex, filter);
  }

  /** Beyond one page of listed instances: open incidents, the end event reached, each version's name. */
  instanceListExtras(rows: Parameters<typeof instanceListExtras>[1]) {
    return instanceListExtras(this.knex, rows);
  }

  /** The instance with what it waits on: active activities, wait rows, open incidents. */
  async instanceDetail(row: InstanceRow) {
    return { ...describeInstance(row), ...(await store.instanceWaits(this.knex, row.id)) };
  }

  instanceHistory(instanceId: string) {
    return store.instanceHistory(this.knex, instanceId);
  }

  listUserTasks(filter: Parameters<typeof store.listUserTasks>[1]) {
    return store.listUserTasks(this.knex, filter);
  }

  findUserTask(id: string) {
    return store.findUserTask(this.knex, id);
  }

  listIncidents(filter: Parameters<typeof store.listIncidents>[1]) {
    return store.listIncidents(this.knex, filter);
  }

  listJobs(filter: Parameters<typeof store.listJobs>[1]) {
    return store.listJobs(this.knex, filter);
  }

  listExternalTasks(filter: Parameters<typeof store.listExternalTasks>[1]) {
    return store.listExternalTasks(this.knex, filter);
  }

  /** Counts and durations per activity over every instance of one definition (the heatmap). */
  activityStats(definitionId: string) {
    return activityStats(this.knex, definitionId);
  }

  /** Topics external tasks wait on now, and topics deployed definitions name. */
  topicsInUse() {
    return topicsInUse(this.knex);
  }
}
