import { z } from 'zod';
import { AppError } from '../../errors.js';
import { jsonValueProblem } from '../json-guard.js';

/** Camunda 7 typed variables: `{ name: { value, type, valueInfo } }`. */
export const TypedValueSchema = z.object({
  value: z.unknown(),
  type: z.string().optional(),
  valueInfo: z.record(z.string(), z.unknown()).optional(),
});
export const TypedVariablesSchema = z.record(z.string(), TypedValueSchema);
export type TypedVariables = z.infer<typeof TypedVariablesSchema>;

const FORBIDDEN_NAMES = new Set(['__proto__', 'constructor', 'prototype']);

export function fromTyped(typed: TypedVariables | undefined): Record<string, unknown> {
  const variables: Record<string, unknown> = {};
  for (const [name, { value, type }] of Object.entries(typed ?? {})) {
    if (FORBIDDEN_NAMES.has(name)) throw new AppError('VALIDATION_FAILED', `variable name '${name}' is not allowed`);
    variables[name] = convert(name, value, type?.toLowerCase());
  }
  return variables;
}

function convert(name: string, value: unknown, type: string | undefined): unknown {
  if (value === null || value === undefined) return null;
  const fail = (): never => {
    throw new AppError('VALIDATION_FAILED', `variable '${name}': cannot read ${JSON.stringify(value)} as ${type}`);
  };
  switch (type) {
    case undefined:
    case 'object':
      return value;
    case 'string':
      return typeof value === 'string' ? value : String(value);
    case 'integer':
    case 'long':
    case 'short': {
      const number = Number(value);
      return Number.isInteger(number) ? number : fail();
    }
    case 'double': {
      const number = Number(value);
      return Number.isFinite(number) ? number : fail();
    }
    case 'boolean':
      return typeof value === 'boolean' ? value : value === 'true' ? true : value === 'false' ? false : fail();
    case 'null':
      return null;
    case 'json': {
      if (typeof value !== 'string') return value;
      let parsed: unknown;
      try {
        parsed = JSON.parse(value);
      } catch {
        return fail();
      }
      // The text is parsed here, after the body guard: the same rules (no __proto__, NUL, depth).
      const problem = jsonValueProblem(parsed);
      if (problem) throw new AppError('VALIDATION_FAILED', `variable '${name}': ${problem}`);
      return parsed;
    }
    case 'date':
      return typeof value === 'string' && !Number.isNaN(Date.parse(value)) ? value : fail();
    case 'file':
    case 'bytes':
      return typeof value === 'string' ? { base64: value } : fail();
    default:
      throw new AppError('VALIDATION_FAILED', `variable '${name}': unsupported type '${type}'`);
  }
}

export function toTyped(variables: Record<string, unknown>, only?: string[]): TypedVariables {
  const typed: TypedVariables = {};
  for (const [name, value] of Object.entries(variables ?? {})) {
    if (only && !only.includes(name)) continue;
    typed[name] = typeOf(value);
  }
  return typed;
}

function typeOf(value: unknown): z.infer<typeof TypedValueSchema> {
  if (value === null || value === undefined) return { value: null, type: 'Null', valueInfo: {} };
  switch (typeof value) {
    case 'string':
      return { value, type: 'String', valueInfo: {} };
    case 'boolean':
      return { value, type: 'Boolean', valueInfo: {} };
    case 'number':
      return Number.isInteger(value)
        ? { value, type: Math.abs(value) > 2147483647 ? 'Long' : 'Integer', valueInfo: {} }
        : { value, type: 'Double', valueInfo: {} };
    default:
      return { value: JSON.stringify(value), type: 'Json', valueInfo: {} };
  }
}
