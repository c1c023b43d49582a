import type { Knex } from 'knex';
import * as store from '../store/task-filters.js';
import type { TaskFilterInput, TaskFilterRow, TaskFilterSearch } from '../store/task-filters.js';

/**
 * Saved task filters (Camunda 7's filters: a name, an owner and a task query), bound to the
 * engine's database: the filter router asks here instead of running store functions.
 */
export class TaskFilters {
  constructor(private readonly knex: Knex) {}

  list(search: TaskFilterSearch, page: { firstResult: number; maxResults: number }): Promise<TaskFilterRow[]> {
    return store.listTaskFilters(this.knex, search, page);
  }

  count(search: TaskFilterSearch): Promise<number> {
    return store.countTaskFilters(this.knex, search);
  }

  find(id: string): Promise<TaskFilterRow | undefined> {
    return store.findTaskFilter(this.knex, id);
  }

  create(input: TaskFilterInput): Promise<TaskFilterRow> {
    return store.insertTaskFilter(this.knex, input);
  }

  /** False when no such filter. */
  update(id: string, input: TaskFilterInput): Promise<boolean> {
    return store.updateTaskFilter(this.knex, id, input);
  }

  /** False when no such filter. */
  delete(id: string): Promise<boolean> {
    return store.deleteTaskFilter(this.knex, id);
  }
}
