/**
 * How a system other than regenflow is rolled back: an operator declares, per system, a
 * webhook that `entropy.rollback` posts to (file named by REGENFLOW_ROLLBACK_HOOKS, YAML or
 * JSON, read once at start). Only server configuration decides where a rollback goes —
 * never process variables, which any process starter sets.
 *
 * ```yaml
 * hooks:
 *   - system: orders-api                       # the service.name
 *     url: https://deploy.internal/hooks/rollback
 *     token: s3cret                            # optional: "Authorization: Bearer s3cret"
 *     tokenHeader: X-Rollback-Token            # optional: the token as-is in this header instead
 *     timeoutMs: 10000                         # optional, default 10000
 * ```
 */
import { readFileSync } from 'node:fs';
import { parse } from 'yaml';
import { z } from 'zod';

const HookSchema = z.strictObject({
  system: z.string().min(1).max(200),
  url: z.url({ protocol: /^https?$/ }),
  token: z.string().min(1).optional(),
  tokenHeader: z
    .string()
    .regex(/^[A-Za-z0-9-]+$/, 'must be an HTTP header name')
    .optional(),
  timeoutMs: z.number().int().min(100).max(300_000).default(10_000),
});
const HooksFileSchema = z.strictObject({ hooks: z.array(HookSchema).default([]) });

export type RollbackHook = z.infer<typeof HookSchema>;

/** The declared hooks by system. */
export type RollbackHooks = ReadonlyMap<string, RollbackHook>;

/** Reads and checks the hooks file; no path, no hooks. Throws (at start) when the file is wrong. */
export function loadRollbackHooks(path: string | undefined): RollbackHooks {
  if (!path) return new Map();
  let parsed;
  try {
    parsed = HooksFileSchema.safeParse(parse(readFileSync(path, 'utf8')) ?? {});
  } catch (error) {
    throw new Error(`REGENFLOW_ROLLBACK_HOOKS: cannot read ${path}: ${(error as Error).message}`);
  }
  if (!parsed.success) {
    throw new Error(`REGENFLOW_ROLLBACK_HOOKS (${path}): ${parsed.error.issues.map((issue) => `${issue.path.join('.')}: ${issue.message}`).join('; ')}`);
  }
  const hooks = new Map<string, RollbackHook>();
  for (const hook of parsed.data.hooks) {
    if (hooks.has(hook.system)) throw new Error(`REGENFLOW_ROLLBACK_HOOKS (${path}): system ${hook.system} is declared twice`);
    hooks.set(hook.system, hook);
  }
  return hooks;
}

export interface RollbackRequest {
  system: string;
  cycleInstanceId: string;
  strategyId: string | null;
  snapshot: Record<string, unknown> | null;
  entropyBefore: number | null;
  entropyAfter: number | null;
}

export interface HookResult {
  ok: boolean;
  status: number | null;
  reason: string;
}

/**
 * POSTs the rollback request as JSON with an `Idempotency-Key` header (the same for every
 * attempt of one rollback task: handlers run at least once). Success is a 2xx answer and
 * nothing else; redirects are not followed.
 */
export async function callRollbackHook(hook: RollbackHook, request: RollbackRequest, idempotencyKey: string): Promise<HookResult> {
  const headers: Record<string, string> = { 'content-type': 'application/json', 'idempotency-key': idempotencyKey, 'user-agent': 'regenflow-rollback' };
  if (hook.token) {
    if (hook.tokenHeader) headers[hook.tokenHeader.toLowerCase()] = hook.token;
    else headers.authorization = `Bearer ${hook.token}`;
  }
  const target = new URL(hook.url);
  const where = `${target.origin}${target.pathname}`; // never the query string: it may hold a secret
  const signal = AbortSignal.timeout(hook.timeoutMs);
  try {
    const response = await fetch(hook.url, {
      method: 'POST',
      headers,
      body: JSON.stringify({ ...request, requestedAt: new Date().toISOString() }),
      redirect: 'manual',
      signal,
    });
    const text = (await response.text().catch(() => '')).slice(0, 300);
    if (response.status >= 200 && response.status < 300) return { ok: true, status: response.status, reason: `the rollback hook ${where} answered ${response.status}` };
    return { ok: false, status: response.status, reason: `the rollback hook ${where} answered ${response.status}${text ? `: ${text}` : ''}` };
  } catch (error) {
    const cause = (error as { cause?: { code?: string; message?: string } }).cause;
    return {
      ok: false,
      status: null,
      reason: signal.aborted
        ? `the rollback hook ${where} did not answer within ${hook.timeoutMs} ms`
        : `the rollback hook ${where} could not be reached: ${cause?.code ?? cause?.message ?? (error as Error).message}`,
    };
  }
}
