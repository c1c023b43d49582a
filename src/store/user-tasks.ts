import type { Knex } from 'knex';

export interface UserTaskRow {
  id: string;
  instance_id: string;
  execution_id: string;
  activity_id: string;
  assignee: string | null;
  [column: string]: unknown;
}

export async function findUserTask(knex: Knex | Knex.Transaction, id: string): Promise<UserTaskRow | undefined> {
  return knex('user_tasks').where({ id }).first();
}

/** Claims a task for `userId` (null: unclaims) unless another user holds it; returns whether it did. */
export async function claimUserTask(trx: Knex.Transaction, id: string, userId: string | null): Promise<boolean> {
  const count = await trx('user_tasks')
    .where({ id })
    .andWhere((q) => (userId ? q.whereNull('assignee').orWhere('assignee', userId) : q))
    .update({ assignee: userId });
  return count > 0;
}
