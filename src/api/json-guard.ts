import type { RequestHandler } from 'express';
import { AppError } from '../errors.js';

/** How deep a JSON body (and a Camunda 7 `Json` variable) may nest. Documented in the README. */
export const MAX_JSON_DEPTH = 64;

const FORBIDDEN_KEYS = new Set(['__proto__']);

/**
 * Why a parsed JSON value cannot be stored, or undefined. PostgreSQL's jsonb refuses NUL
 * characters and lone UTF-16 surrogates (the request then failed with a 500 after the
 * engine had run), deep nesting costs every later reader a recursion, and a `__proto__`
 * key is a prototype waiting for an `Object.assign`. Iterative: a hostile depth cannot
 * overflow the stack here.
 */
export function jsonValueProblem(root: unknown, maxDepth = MAX_JSON_DEPTH): string | undefined {
  const stack: Array<{ value: unknown; depth: number; path: string }> = [{ value: root, depth: 0, path: '' }];
  while (stack.length) {
    const { value, depth, path } = stack.pop()!;
    if (typeof value === 'string') {
      const problem = textProblem(value);
      if (problem) return `${path || '(body)'}: ${problem}`;
      continue;
    }
    if (typeof value !== 'object' || value === null) continue;
    if (depth >= maxDepth) return `${path || '(body)'}: nests deeper than ${maxDepth} levels`;
    if (Array.isArray(value)) {
      value.forEach((item, index) => stack.push({ value: item, depth: depth + 1, path: `${path}[${index}]` }));
      continue;
    }
    for (const key of Object.keys(value)) {
      const where = path ? `${path}.${key.slice(0, 64)}` : key.slice(0, 64);
      if (FORBIDDEN_KEYS.has(key)) return `${where}: the key "__proto__" is not allowed`;
      const keyProblem = textProblem(key);
      if (keyProblem) return `${where}: a key ${keyProblem.replace(/^the text /, '')}`;
      stack.push({ value: (value as Record<string, unknown>)[key], depth: depth + 1, path: where });
    }
  }
  return undefined;
}

const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

function textProblem(text: string): string | undefined {
  if (text.includes('\u0000')) return 'the text holds a NUL character (\\u0000)';
  if (LONE_SURROGATE.test(text)) return 'the text holds a lone UTF-16 surrogate (not valid Unicode)';
  return undefined;
}

/** Refuses a parsed JSON body that {@link jsonValueProblem} objects to, with a 400. */
export const guardJsonBody: RequestHandler = (req, _res, next) => {
  if (req.body === undefined || typeof req.body !== 'object' || req.body === null) return next();
  const problem = jsonValueProblem(req.body);
  next(problem ? new AppError('VALIDATION_FAILED', `the JSON body cannot be stored: ${problem}`) : undefined);
};
