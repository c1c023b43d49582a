import { z } from 'zod';
import { notFound } from '../errors.js';
import type { CommandOutputRow } from '../store/command-output.js';
import { route, type RouteSpec } from './route-spec.js';

const Uuid = z.string().regex(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i, 'must be a UUID');

export const LogsQuery = z
  .object({
    /** The cursor of the last entry seen (0: from the start). */
    after: z.coerce.number().int().min(0).max(Number.MAX_SAFE_INTEGER).default(0),
    limit: z.coerce.number().int().min(1).max(1000).default(200),
    /** Long poll: with nothing new, wait up to this long for an entry (or the instance's end). */
    waitMs: z.coerce.number().int().min(0).max(25_000).default(0),
  })
  .strict();

const Entry = z.object({
  cursor: z.number(),
  activityId: z.string(),
  run: z.string(),
  kind: z.enum(['start', 'output', 'end']),
  text: z.string(),
  data: z.unknown().nullable(),
  at: z.string(),
});
const LogsAnswer = z.object({ instanceId: z.string(), status: z.string(), cursor: z.number(), entries: z.array(Entry) });

/** What the live log route reads (the worktrees module, whose table command_output is, binds it to the store). */
export interface LiveLogReader {
  /** The instance's status, or undefined when there is no such instance. */
  instanceStatus(instanceId: string): Promise<string | undefined>;
  /** An instance's live log after `after` (the last id a reader saw), oldest first. */
  list(instanceId: string, options: { after: number; limit: number }): Promise<CommandOutputRow[]>;
}

const describe = (row: CommandOutputRow) => ({
  cursor: Number(row.id),
  activityId: row.activity_id,
  run: row.run,
  kind: row.kind,
  text: row.text,
  data: row.data ?? null,
  at: new Date(row.at).toISOString(),
});

/**
 * `GET /api/process-instances/:id/logs`: the live log of an instance's long work (validation
 * phases, agent commands), written in batches while it runs. A reader continues from the
 * cursor it got; `waitMs` makes it a long poll that answers as soon as something new is
 * stored (every node sees it: it polls the table, not an in-process event), the instance
 * ends, the client goes or the server drains.
 */
export function commandOutputRoutes(reader: LiveLogReader, options: { draining?: () => boolean; pollMs?: number } = {}): RouteSpec[] {
  const pollMs = options.pollMs ?? 400;
  return [
    route({
      method: 'get',
      path: '/process-instances/:id/logs',
      tag: 'instances',
      summary: "The live log of an instance's validation phases and agent commands after a cursor: each run's start, its output in batches, and its end with the result. `waitMs` long-polls for new entries.",
      roles: ['owner', 'operator'],
      params: z.object({ id: Uuid }),
      query: LogsQuery,
      responses: { 200: { description: 'entries after the cursor, and the cursor to continue from', schema: LogsAnswer }, 404: { description: 'no such instance' } },
      handler: async ({ params, query }, _req, res) => {
        let status = await reader.instanceStatus(params.id);
        if (!status) throw notFound('process instance', params.id);
        let gone = false;
        // The response's close, not the request's: a GET's request stream may close once read.
        res.once('close', () => (gone = true));
        const deadline = Date.now() + query.waitMs;
        let rows = await reader.list(params.id, { after: query.after, limit: query.limit });
        while (!rows.length && status === 'active' && Date.now() < deadline && !gone && !options.draining?.()) {
          await new Promise((resolve) => setTimeout(resolve, Math.min(pollMs, Math.max(0, deadline - Date.now()))));
          rows = await reader.list(params.id, { after: query.after, limit: query.limit });
          // The run's last batch is written before its task completes: rows first, then the status.
          if (!rows.length) status = (await reader.instanceStatus(params.id)) ?? 'deleted';
        }
        if (gone) return;
        res.json({ instanceId: params.id, status, cursor: rows.length ? Number(rows.at(-1)!.id) : query.after, entries: rows.map(describe) });
      },
    }),
  ];
}
