import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { RequestHandler } from 'express';
import { AppError } from '../errors.js';

/**
 * Roles, from most to least powerful. `admin` may do everything: deploying a diagram is
 * deploying code. `owner` starts and steers instances, `operator` views and works tasks and
 * incidents, `worker` serves external tasks, `alert` may only post alerts, `telemetry` may
 * only send spans and metrics (`POST /v1/traces`, `/v1/metrics`: the token a collector or
 * another system's SDK holds).
 */
export const ROLES = ['admin', 'owner', 'operator', 'worker', 'alert', 'telemetry'] as const;
export type Role = (typeof ROLES)[number];

interface StoredToken {
  role: Role;
  digest: Buffer;
  /** Topic patterns a worker token may serve (`ci.*` matches `ci.unit`); absent: every topic. */
  topics?: string[];
}

/** What a presented token grants. */
export interface Grant {
  role: Role;
  topics?: string[];
}

const digest = (token: string) => createHash('sha256').update(token, 'utf8').digest();

/** Bearer tokens held only as SHA-256 digests; looked up in constant time. */
export class TokenRegistry {
  private readonly tokens: StoredToken[];

  constructor(pairs: Array<{ role: Role; token: string; topics?: string[] }>) {
    this.tokens = pairs.map(({ role, token, topics }) => ({ role, digest: digest(token), topics }));
  }

  get size(): number {
    return this.tokens.length;
  }

  /** What a presented token grants, or null. Every stored token is compared, always. */
  grantOf(presented: string): Grant | null {
    return this.grantOfDigest(digest(presented));
  }

  /** As grantOf, for a token already hashed (the request path hashes it once, for the actor too). */
  grantOfDigest(candidate: Buffer): Grant | null {
    let found: Grant | null = null;
    for (const stored of this.tokens) {
      if (timingSafeEqual(stored.digest, candidate) && !found) found = { role: stored.role, topics: stored.topics };
    }
    return found;
  }
}

/**
 * Parses `role:token,role:token`; a worker token may name the topics it serves,
 * `worker[ci.*|agent.review]:token`. A malformed pair or an unknown role is a start-up error.
 */
export function parseTokens(text: string | undefined): Array<{ role: Role; token: string; topics?: string[] }> {
  if (!text) return [];
  return text
    .split(',')
    .map((pair) => pair.trim())
    .filter(Boolean)
    .map((pair) => {
      const at = pair.indexOf(':');
      const head = /^(\w+)(?:\[([^\]]*)\])?$/.exec(pair.slice(0, Math.max(at, 0)));
      const role = head?.[1] as Role;
      const token = pair.slice(at + 1);
      if (at <= 0 || !head || !ROLES.includes(role)) throw new Error(`REGENFLOW_TOKENS: '${pair.slice(0, Math.max(at, 0))}' is not a role (${ROLES.join(', ')})`);
      if (token.length < 8) throw new Error(`REGENFLOW_TOKENS: the ${role} token is shorter than 8 characters`);
      if (head[2] === undefined) return { role, token };
      if (role !== 'worker') throw new Error(`REGENFLOW_TOKENS: only worker tokens name topics, not ${role}`);
      const topics = head[2].split('|').map((topic) => topic.trim()).filter(Boolean);
      if (!topics.length) throw new Error('REGENFLOW_TOKENS: worker[...] names no topic');
      return { role, token, topics };
    });
}

const LOOPBACK = /^(127\.\d+\.\d+\.\d+|::1|localhost)$/;

/**
 * The tokens a server runs with. With none configured, a server on loopback creates an
 * admin token in the data folder (and reuses it); any other address refuses to start.
 */
export function resolveTokens(options: { tokens?: string; host: string; dataDir: string }): {
  registry: TokenRegistry;
  generated?: { path: string };
} {
  const configured = parseTokens(options.tokens);
  if (configured.length) return { registry: new TokenRegistry(configured) };
  if (!LOOPBACK.test(options.host)) {
    throw new AppError(
      'NO_TOKENS',
      `refusing to listen on ${options.host} without REGENFLOW_TOKENS; set role:token pairs, or bind to 127.0.0.1`,
    );
  }
  const path = join(options.dataDir, 'admin-token');
  if (!existsSync(path)) {
    mkdirSync(options.dataDir, { recursive: true });
    writeFileSync(path, `${randomBytes(24).toString('base64url')}\n`, { mode: 0o600 });
  }
  chmodSync(path, 0o600);
  const token = readFileSync(path, 'utf8').trim();
  return { registry: new TokenRegistry([{ role: 'admin', token }]), generated: { path } };
}

declare module 'express-serve-static-core' {
  interface Request {
    role?: Role;
    /** Topic patterns the worker token is limited to; undefined: every topic. */
    topics?: string[];
    /** `<role>:<first 12 hex of the token's SHA-256>`: names the token in the audit log without revealing it. */
    actor?: string;
  }
}

/** Reads the bearer token (only from the Authorization header) and sets `req.role`. */
export function authenticate(registry: TokenRegistry): RequestHandler {
  return (req, _res, next) => {
    const header = req.headers.authorization;
    if (!header) return next(new AppError('UNAUTHENTICATED', 'missing Authorization: Bearer <token> header'));
    const match = /^Bearer\s+(\S+)$/i.exec(header);
    if (!match) return next(new AppError('UNAUTHENTICATED', 'the Authorization header must be "Bearer <token>"'));
    const hashed = digest(match[1] as string);
    const grant = registry.grantOfDigest(hashed);
    if (!grant) return next(new AppError('UNAUTHENTICATED', 'the token is not valid'));
    const { role } = grant;
    req.role = role;
    req.topics = grant.topics;
    req.actor = `${role}:${hashed.toString('hex', 0, 6)}`;
    next();
  };
}

/** Lets a request through when its role is one of `roles` (admin always passes). */
export function allow(...roles: Role[]): RequestHandler {
  return (req, _res, next) => {
    if (req.role === 'admin' || (req.role && roles.includes(req.role))) return next();
    next(new AppError('FORBIDDEN', `the ${req.role ?? 'anonymous'} role may not ${req.method} ${req.baseUrl}${req.path}`));
  };
}

/** Whether a token limited to `patterns` may serve `topic` (a pattern ending in `*` is a prefix). */
export function topicAllowed(patterns: string[] | undefined, topic: string): boolean {
  if (!patterns) return true;
  return patterns.some((pattern) => (pattern.endsWith('*') ? topic.startsWith(pattern.slice(0, -1)) : topic === pattern));
}
