import { RE2JS } from 're2js';
import { evaluateExpression } from '../engine/expressions.js';
import type { FormField } from './form-schema.js';

/** One field that a submission got wrong, named by its variable path. */
export interface FieldViolation {
  field: string;
  component: string;
  label?: string;
  message: string;
}

/** form-js's own email and phone checks, run on RE2 like every pattern here. */
const EMAIL = RE2JS.compile("^[a-zA-Z0-9.!#$%&'*+/=?^_`{|}~-]+@[a-zA-Z0-9](?:[a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?(?:\\.[a-zA-Z0-9](?:[a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?)*$");
const PHONE = RE2JS.compile('^(\\+|00)[1-9]\\d{5,22}$');
const DATE = /^\d{4}-\d{2}-\d{2}$/;
const TIME = /^\d{2}:\d{2}(:\d{2})?(Z|[+-]\d{2}:?\d{2})?$/;
const FORBIDDEN = new Set(['__proto__', 'constructor', 'prototype']);
/** Largest list a dynamic list, checklist or taglist submission may hold. */
const MAX_ITEMS = 1000;
/** Longest text matched against a pattern: RE2 is linear, but a megabyte still takes about a second of the event loop. */
const MAX_PATTERN_INPUT = 10_000;

const patterns = new Map<string, RE2JS>();
function compiled(pattern: string): RE2JS | null {
  let regex = patterns.get(pattern);
  if (!regex) {
    try {
      regex = RE2JS.compile(pattern);
    } catch {
      return null; // refused at deploy; a stored one that no longer compiles fails closed below
    }
    if (patterns.size > 1000) patterns.clear();
    patterns.set(pattern, regex);
  }
  return regex;
}

/**
 * Checks submitted variables against a form's fields as form-js's Validator does in the
 * browser, plus what its widgets guarantee there (types, options). `context` is what the
 * form's conditions read (the instance's variables, then the submission over them).
 * Variables the form does not declare pass through, as Camunda's task completion takes them.
 */
export function validateSubmission(fields: FormField[], submitted: Record<string, unknown>, context: Record<string, unknown> = {}): FieldViolation[] {
  const violations: FieldViolation[] = [];
  const forbidden = forbiddenKey(submitted, [], 0);
  if (forbidden) violations.push({ field: forbidden, component: '', message: 'a key named __proto__, constructor or prototype is not allowed' });
  const data = { ...context, ...submitted };
  check(fields, submitted, data, [], violations);
  return violations;
}

function check(fields: FormField[], values: Record<string, unknown>, data: Record<string, unknown>, prefix: string[], violations: FieldViolation[]): void {
  for (const field of fields) {
    if (field.hide?.some((condition) => isTrue(condition, data))) continue;
    const name = [...prefix, ...field.path].join('.');
    const value = read(values, field.path);
    const fail = (message: string) => violations.push({ field: name, component: field.id, ...(field.label ? { label: field.label } : {}), message });
    if (field.type === 'dynamiclist') {
      if (value === undefined || value === null) continue;
      if (!Array.isArray(value)) {
        fail('must be a list');
        continue;
      }
      if (value.length > MAX_ITEMS) {
        fail(`must hold at most ${MAX_ITEMS} items`);
        continue;
      }
      value.forEach((item, index) => {
        if (!isRecord(item)) fail(`item ${index + 1} must be an object`);
        else check(field.items ?? [], item, { ...data, ...item }, [...prefix, ...field.path, String(index)], violations);
      });
      continue;
    }
    const problem = fieldProblem(field, value);
    if (problem) fail(problem);
  }
}

function fieldProblem(field: FormField, value: unknown): string | null {
  const empty = value === undefined || value === null || value === '' || (Array.isArray(value) && value.length === 0);
  if (field.required && (empty || (field.type === 'checkbox' && value === false))) return 'is required';
  if (empty) return null;
  switch (field.type) {
    case 'textfield':
    case 'textarea':
      return typeof value === 'string' ? textProblem(field, value) : 'must be text';
    case 'number':
      return numberProblem(field, value);
    case 'checkbox':
      return typeof value === 'boolean' ? null : 'must be true or false';
    case 'radio':
    case 'select':
      if (typeof value !== 'string' && typeof value !== 'number' && typeof value !== 'boolean') return 'must be one of its options';
      return field.options && !field.options.some((option) => option === value) ? `must be one of ${describeOptions(field.options)}` : null;
    case 'checklist':
    case 'taglist': {
      if (!Array.isArray(value)) return 'must be a list of its options';
      if (value.length > MAX_ITEMS) return `must hold at most ${MAX_ITEMS} values`;
      const unknown = field.options ? value.find((item) => !field.options!.some((option) => option === item)) : undefined;
      return unknown !== undefined ? `holds ${JSON.stringify(unknown).slice(0, 60)}, which is not one of ${describeOptions(field.options!)}` : null;
    }
    case 'datetime':
      return datetimeProblem(field.subtype ?? 'date', value);
    default:
      return null; // expression (computed in the browser), filepicker (a reference)
  }
}

function textProblem(field: FormField, value: string): string | null {
  // form-js measures trimmed lengths.
  const length = value.trim().length;
  if (field.minLength !== undefined && length < field.minLength) return `must have at least ${field.minLength} characters`;
  if (field.maxLength !== undefined && length > field.maxLength) return `must have at most ${field.maxLength} characters`;
  if (field.pattern) {
    if (value.length > MAX_PATTERN_INPUT) return `must have at most ${MAX_PATTERN_INPUT} characters to be matched against its pattern`;
    const regex = compiled(field.pattern);
    if (!regex || !regex.matcher(value).find()) return field.patternErrorMessage || `must match the pattern ${field.pattern}`;
  }
  if (field.validationType === 'email' && !EMAIL.matches(value)) return 'must be an email address';
  if (field.validationType === 'phone' && !PHONE.matches(value.replace(/[\s()-]/g, ''))) return 'must be an international phone number (e.g. +4930664040900)';
  return null;
}

function numberProblem(field: FormField, value: unknown): string | null {
  // form-js submits numbers, or numeric text when the field serialises to string.
  const number = typeof value === 'number' ? value : typeof value === 'string' && /^-?\d{1,300}(\.\d{1,300})?$/.test(value) ? Number(value) : NaN;
  if (!Number.isFinite(number)) return 'must be a number';
  if (field.decimalDigits !== undefined) {
    const decimals = (String(value).split('.')[1] ?? '').length;
    if (decimals > field.decimalDigits) return field.decimalDigits === 0 ? 'must be a whole number' : `must have at most ${field.decimalDigits} decimal digits`;
  }
  if (field.min !== undefined && number < field.min) return `must be at least ${field.min}`;
  if (field.max !== undefined && number > field.max) return `must be at most ${field.max}`;
  return null;
}

function datetimeProblem(subtype: string, value: unknown): string | null {
  if (typeof value !== 'string' || value.length > 64) return 'must be a date or time as text';
  const valid =
    subtype === 'time'
      ? TIME.test(value)
      : subtype === 'datetime'
        ? /^\d{4}-\d{2}-\d{2}T/.test(value) && !Number.isNaN(Date.parse(value))
        : DATE.test(value) && !Number.isNaN(Date.parse(value));
  return valid ? null : subtype === 'time' ? 'must be a time (HH:mm)' : subtype === 'datetime' ? 'must be a date and time (ISO 8601)' : 'must be a date (YYYY-MM-DD)';
}

function describeOptions(options: unknown[]): string {
  const shown = options.slice(0, 10).map((option) => JSON.stringify(option)).join(', ');
  return options.length > 10 ? `${shown}, ...` : shown;
}

/** A hide condition that fails to evaluate leaves the field shown, and so checked. */
function isTrue(condition: string, data: Record<string, unknown>): boolean {
  try {
    return evaluateExpression(condition, { variables: data }) === true;
  } catch {
    return false;
  }
}

function read(values: Record<string, unknown>, path: string[]): unknown {
  let current: unknown = values;
  for (const segment of path) {
    if (!isRecord(current) || !Object.hasOwn(current, segment)) return undefined;
    current = current[segment];
  }
  return current;
}

function forbiddenKey(value: unknown, path: string[], depth: number): string | null {
  if (depth > 64 || typeof value !== 'object' || value === null) return null;
  for (const [key, inner] of Object.entries(value)) {
    if (FORBIDDEN.has(key)) return [...path, key].join('.');
    const found = forbiddenKey(inner, [...path, key], depth + 1);
    if (found) return found;
  }
  return null;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
