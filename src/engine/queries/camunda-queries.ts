import type { Knex } from 'knex';
import * as store from '../../store/camunda-queries.js';
import type { DefinitionFilter, IncidentFilter, InstanceFilter, Page, TaskFilter } from '../../store/camunda-queries.js';

/**
 * The reads of the Camunda 7 REST subset (src/store/camunda-queries.ts), bound to the engine's
 * database: the routers ask here instead of running store functions themselves.
 */
export class CamundaQueries {
  constructor(private readonly knex: Knex) {}

  listDefinitions(filter: DefinitionFilter, page: Page) {
    return store.listDefinitions(this.knex, filter, page);
  }

  countDefinitions(filter: DefinitionFilter) {
    return store.countDefinitions(this.knex, filter);
  }

  listInstances(filter: InstanceFilter, page: Page) {
    return store.listInstances(this.knex, filter, page);
  }

  countInstances(filter: InstanceFilter) {
    return store.countInstances(this.knex, filter);
  }

  findInstance(id: string) {
    return store.findInstance(this.knex, id);
  }

  listTasks(filter: TaskFilter, page: Page) {
    return store.listTasks(this.knex, filter, page);
  }

  countTasks(filter: TaskFilter) {
    return store.countTasks(this.knex, filter);
  }

  listIncidents(filter: IncidentFilter, page: Page) {
    return store.listIncidents(this.knex, filter, page);
  }

  countIncidents(filter: IncidentFilter) {
    return store.countIncidents(this.knex, filter);
  }
}
