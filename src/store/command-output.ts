import type { Knex } from 'knex';

/** One entry of a live log: a run's start, a batch of its output, or its end with the result. */
export interface CommandOutputEntry {
  instanceId: string;
  activityId: string;
  run: string;
  kind: 'start' | 'output' | 'end';
  text: string;
  data?: unknown;
}

export interface CommandOutputRow {
  id: string | number;
  instance_id: string;
  activity_id: string;
  run: string;
  kind: 'start' | 'output' | 'end';
  text: string;
  data: unknown;
  at: Date;
}

/** Where runners write their live log (service-tasks get this, never the knex handle). */
export interface CommandOutputStore {
  append(entries: CommandOutputEntry[]): Promise<void>;
}

export function createCommandOutputStore(knex: Knex): CommandOutputStore {
  return {
    async append(entries) {
      if (!entries.length) return;
      await knex('command_output').insert(
        entries.map((entry) => ({
          instance_id: entry.instanceId,
          activity_id: entry.activityId,
          run: entry.run,
          kind: entry.kind,
          // PostgreSQL text refuses NUL bytes, which a command may well print.
          text: entry.text.replace(/\0/g, '\uFFFD'),
          data: entry.data === undefined ? null : JSON.stringify(entry.data),
        })),
      );
    },
  };
}

/** An instance's live log after `after` (the last id a reader saw), oldest first. */
export async function listCommandOutput(knex: Knex, instanceId: string, options: { after: number; limit: number }): Promise<CommandOutputRow[]> {
  const rows: CommandOutputRow[] = await knex('command_output')
    .where('instance_id', instanceId)
    .andWhere('id', '>', options.after)
    .orderBy('id')
    .limit(options.limit)
    .select('id', 'instance_id', 'activity_id', 'run', 'kind', 'text', 'data', 'at');
  for (const row of rows) if (typeof row.data === 'string') row.data = JSON.parse(row.data);
  return rows;
}

/** The instance's status, or undefined when there is no such instance. */
export async function instanceStatus(knex: Knex, instanceId: string): Promise<string | undefined> {
  const row = await knex('process_instances').where('id', instanceId).first('status');
  return row?.status;
}
