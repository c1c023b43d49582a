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
 *     timeoutMs: 10000                         # optional, default 10000 (per attempt)
 * ```
 *
 * A 5xx answer or no connection is tried again twice (after 0.5 s, then 2 s) before the
 * rollback is left to a person; a 4xx is final.
 */
import { readFileSync } from 'node:fs';
import { parse } from 'yaml';
import { z } from 'zod';

const HookSchema = z.strictObject({
  system: z.string().min(1).max(200),
  url: z.url({ protocol: /^https?$/ }).refine((url) => {
    const parsed = new URL(url);
    return !parsed.username && !parsed.password;
  }, 'must not carry credentials (user:pass@): they would be logged with the URL; use token (and tokenHeader)'),
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

/** What of an answer's body goes into a reason (process variables, the cycle record). */
const REASON_BODY_CHARS = 500;
/** At most this much of an answer's body is read at all. */
const BODY_READ_BYTES = 16 * 1024;
/** Waits before the second and third attempt. */
export const HOOK_RETRY_DELAYS_MS = [500, 2000];

/**
 * POSTs the rollback request as JSON with an `Idempotency-Key` header (the same for every
 * attempt: handlers run at least once, and a 5xx or lost connection is tried again — see
 * HOOK_RETRY_DELAYS_MS). Success is a 2xx answer and nothing else; redirects are not followed.
 */
export async function callRollbackHook(hook: RollbackHook, request: RollbackRequest, idempotencyKey: string, delaysMs: readonly number[] = HOOK_RETRY_DELAYS_MS): Promise<HookResult> {
  let result = await post(hook, request, idempotencyKey);
  let attempts = 1;
  for (const delay of delaysMs) {
    if (result.ok || (result.status !== null && result.status < 500)) break;
    await new Promise((resolve) => setTimeout(resolve, delay));
    result = await post(hook, request, idempotencyKey);
    attempts++;
  }
  return attempts > 1 && !result.ok ? { ...result, reason: `${result.reason} (after ${attempts} attempts)` } : result;
}

/** Reads at most `limit` bytes of a body, then stops reading (the rest is never buffered). */
async function readCapped(response: Response, limit: number): Promise<string> {
  if (!response.body) return '';
  const reader = response.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  try {
    while (size < limit) {
      const { done, value } = await reader.read();
      if (done) break;
      chunks.push(value);
      size += value.byteLength;
    }
  } finally {
    await reader.cancel().catch(() => undefined);
  }
  return Buffer.concat(chunks).subarray(0, limit).toString('utf8');
}

async function post(hook: RollbackHook, request: RollbackRequest, idempotencyKey: string): Promise<HookResult> {
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
    const body = await readCapped(response, BODY_READ_BYTES).catch(() => '');
    const text = body.length > REASON_BODY_CHARS ? `${body.slice(0, REASON_BODY_CHARS)}…` : body;
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
