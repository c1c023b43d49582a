import { RE2JS } from 're2js';
import { AppError } from '../errors.js';
import { validateExpressionSyntax } from '../engine/expressions.js';

/**
 * What a submission of one form field must pass, derived once at deploy from the form-js
 * component: the same checks form-js's Validator runs in the browser (required, min/max,
 * minLength/maxLength, pattern, email/phone, number digits), plus the ones the browser gets
 * for free from its widgets (the value's type, a select's or radio's value among its options).
 */
export interface FormField {
  /** The component's id in the schema, to name it. */
  id: string;
  /** The variable path it writes (a group's or list's `path` prefixes it; dots nest). */
  path: string[];
  type: string;
  label?: string;
  required?: boolean;
  min?: number;
  max?: number;
  minLength?: number;
  maxLength?: number;
  pattern?: string;
  patternErrorMessage?: string;
  validationType?: 'email' | 'phone';
  decimalDigits?: number;
  /** Static options of a select, radio, checklist or taglist (dynamic ones come from variables and are not checked). */
  options?: unknown[];
  /** datetime: date, time or datetime. */
  subtype?: string;
  /** FEEL conditions (`=...`, its own and its groups'): when one is true the field is hidden and not checked (form-js drops hidden values). */
  hide?: string[];
  /** A dynamic list's item fields, checked for each item. */
  items?: FormField[];
}

export interface ParsedForm {
  /** The schema's `id`: forms are versioned per id. */
  key: string;
  versionTag: string | null;
  schema: Record<string, unknown>;
  fields: FormField[];
}

/** form-js 1.x component types (`@bpmn-io/form-js-viewer` formFields). */
const INPUT_TYPES = new Set(['textfield', 'textarea', 'number', 'checkbox', 'checklist', 'radio', 'select', 'taglist', 'datetime', 'expression', 'filepicker']);
const CONTAINER_TYPES = new Set(['group', 'dynamiclist']);
const PRESENTATION_TYPES = new Set(['text', 'html', 'image', 'button', 'spacer', 'separator', 'iframe', 'table', 'documentPreview']);
const KNOWN_TYPES = [...INPUT_TYPES, ...CONTAINER_TYPES, ...PRESENTATION_TYPES];
const OPTION_TYPES = new Set(['checklist', 'radio', 'select', 'taglist']);
const FORBIDDEN_SEGMENTS = new Set(['__proto__', 'constructor', 'prototype']);

/** Bounds that keep one form cheap to check: a schema is a few dozen components. */
export const FORM_LIMITS = { components: 500, depth: 10, patternLength: 1000, options: 1000 };

export const isFormResource = (name: string): boolean => /\.form$/i.test(name);

class FormProblem extends Error {
  constructor(
    readonly component: string | null,
    message: string,
  ) {
    super(message);
  }
}

/**
 * Parses a `.form` resource as a form-js schema: JSON, a `default` root with an `id`, known
 * component types, unique keys, patterns RE2 can run in linear time, FEEL conditions that
 * parse. A rejected form is a 400 (INVALID_DEFINITION) naming the resource and the component.
 */
export function parseForm(resourceName: string, text: string): ParsedForm {
  try {
    return parse(text);
  } catch (error) {
    if (!(error instanceof FormProblem)) throw error;
    const where = error.component ? ` (component ${error.component})` : '';
    throw new AppError('INVALID_DEFINITION', `${resourceName} was rejected${where}: ${error.message}`, {
      details: { resource: resourceName, errors: [{ severity: 'error', rule: 'form-schema', ...(error.component ? { elementId: error.component } : {}), message: error.message }], warnings: [] },
    });
  }
}

function parse(text: string): ParsedForm {
  let schema: unknown;
  try {
    schema = JSON.parse(text.charCodeAt(0) === 0xfeff ? text.slice(1) : text);
  } catch (error) {
    throw new FormProblem(null, `not JSON: ${(error as Error).message}`);
  }
  if (!isRecord(schema)) throw new FormProblem(null, 'a form-js schema is a JSON object');
  if (schema.type !== 'default') throw new FormProblem(null, `the root's type is '${String(schema.type)}', a form-js schema's is 'default'`);
  if (typeof schema.id !== 'string' || !/^[A-Za-z_][\w.-]{0,254}$/.test(schema.id)) {
    throw new FormProblem(null, 'the schema needs an id (a name such as "approve-fix"): forms are deployed and linked by it');
  }
  if (!Array.isArray(schema.components)) throw new FormProblem(null, 'the schema has no components array');
  const state = { counter: { n: 0 }, keys: new Map<string, string>(), ids: new Set<string>() };
  const fields = readComponents(schema.components, [], state, 0);
  const versionTag = isRecord(schema.versionTag) ? null : typeof schema.versionTag === 'string' ? schema.versionTag : null;
  return { key: schema.id, versionTag, schema, fields };
}

interface WalkState {
  counter: { n: number };
  /** Full variable path -> the component that writes it. */
  keys: Map<string, string>;
  ids: Set<string>;
}

function readComponents(components: unknown[], prefix: string[], state: WalkState, depth: number): FormField[] {
  if (depth > FORM_LIMITS.depth) throw new FormProblem(null, `components are nested deeper than ${FORM_LIMITS.depth} levels`);
  const fields: FormField[] = [];
  components.forEach((component, index) => {
    if (++state.counter.n > FORM_LIMITS.components) throw new FormProblem(null, `more than ${FORM_LIMITS.components} components`);
    if (!isRecord(component)) throw new FormProblem(`#${index + 1}`, 'a component is a JSON object');
    const id = typeof component.id === 'string' && component.id ? component.id : `#${index + 1}${prefix.length ? ` in ${prefix.join('.')}` : ''}`;
    if (typeof component.id === 'string') {
      if (state.ids.has(component.id)) throw new FormProblem(id, `component id '${component.id}' appears twice`);
      state.ids.add(component.id);
    }
    const type = component.type;
    if (typeof type !== 'string' || !KNOWN_TYPES.includes(type)) {
      throw new FormProblem(id, `unknown component type '${String(type)}' (form-js knows ${KNOWN_TYPES.join(', ')})`);
    }
    const hide = conditionOf(id, component);
    if (CONTAINER_TYPES.has(type)) {
      if (!Array.isArray(component.components)) throw new FormProblem(id, `a ${type} has a components array`);
      const own = component.path === undefined || component.path === '' ? [] : pathOf(id, component.path, 'path');
      if (type === 'dynamiclist') {
        if (!own.length) throw new FormProblem(id, 'a dynamic list needs a path: the variable that holds its items');
        claim(state, [...prefix, ...own], id);
        // Item keys are relative to each item: their own key space.
        const items = readComponents(component.components, [], { ...state, keys: new Map() }, depth + 1);
        fields.push({ id, path: [...prefix, ...own], type, ...label(component), ...(hide ? { hide: [hide] } : {}), items });
      } else {
        const inner = readComponents(component.components, [...prefix, ...own], state, depth + 1);
        fields.push(...(hide ? inner.map((field) => ({ ...field, hide: [hide, ...(field.hide ?? [])] })) : inner));
      }
      return;
    }
    if (!INPUT_TYPES.has(type)) return;
    if (component.key === undefined || component.key === '') throw new FormProblem(id, `a ${type} needs a key: it names the variable it sets`);
    const path = [...prefix, ...pathOf(id, component.key, 'key')];
    claim(state, path, id);
    fields.push({ id, path, type, ...label(component), ...(hide ? { hide: [hide] } : {}), ...checksOf(id, type, component) });
  });
  return fields;
}

function claim(state: WalkState, path: string[], id: string): void {
  const joined = path.join('.');
  const other = state.keys.get(joined);
  if (other) throw new FormProblem(id, `key '${joined}' is also the key of component ${other}: field keys must be unique`);
  state.keys.set(joined, id);
}

function pathOf(id: string, value: unknown, what: string): string[] {
  if (typeof value !== 'string' || value.length > 255) throw new FormProblem(id, `its ${what} must be text of at most 255 characters`);
  const segments = value.split('.');
  for (const segment of segments) {
    if (!/^[A-Za-z_$][\w$-]*$/.test(segment)) throw new FormProblem(id, `its ${what} '${value}' is not a variable name (letters, digits, _ and -; dots nest)`);
    if (FORBIDDEN_SEGMENTS.has(segment)) throw new FormProblem(id, `its ${what} '${value}' names an object's prototype`);
  }
  return segments;
}

function label(component: Record<string, unknown>): { label?: string } {
  return typeof component.label === 'string' && component.label && !component.label.startsWith('=') ? { label: component.label } : {};
}

function conditionOf(id: string, component: Record<string, unknown>): string | undefined {
  const hide = isRecord(component.conditional) ? component.conditional.hide : undefined;
  if (hide === undefined || hide === null || hide === '') return undefined;
  if (typeof hide !== 'string' || !hide.startsWith('=')) throw new FormProblem(id, 'its hide condition must be a FEEL expression starting with =');
  const problem = validateExpressionSyntax(hide);
  if (problem) throw new FormProblem(id, `its hide condition does not parse: ${problem}`);
  return hide;
}

/** A static number, or undefined for an absent or FEEL-computed (`=...`) one, which the browser evaluates. */
function numberOf(id: string, validate: Record<string, unknown>, name: string): number | undefined {
  const value = validate[name];
  if (value === undefined || value === null || value === '' || (typeof value === 'string' && value.startsWith('='))) return undefined;
  const number = typeof value === 'string' ? Number(value) : value;
  if (typeof number !== 'number' || !Number.isFinite(number)) throw new FormProblem(id, `validate.${name} must be a number`);
  return number;
}

function checksOf(id: string, type: string, component: Record<string, unknown>): Partial<FormField> {
  const checks: Partial<FormField> = {};
  const validate = isRecord(component.validate) ? component.validate : {};
  if (validate.required === true) checks.required = true;
  for (const name of ['min', 'max', 'minLength', 'maxLength'] as const) {
    const value = numberOf(id, validate, name);
    if (value !== undefined) checks[name] = value;
  }
  if (typeof validate.pattern === 'string' && validate.pattern) {
    if (validate.pattern.length > FORM_LIMITS.patternLength) throw new FormProblem(id, `its pattern is longer than ${FORM_LIMITS.patternLength} characters`);
    // Submissions are matched with RE2 (linear time); a pattern it cannot run is refused here, not at a user's submit.
    try {
      RE2JS.compile(validate.pattern);
    } catch (error) {
      throw new FormProblem(id, `its pattern cannot be matched in linear time (backreferences and lookarounds are not supported): ${(error as Error).message}`);
    }
    checks.pattern = validate.pattern;
    if (typeof validate.patternErrorMessage === 'string') checks.patternErrorMessage = validate.patternErrorMessage.slice(0, 500);
  }
  if (validate.validationType === 'email' || validate.validationType === 'phone') checks.validationType = validate.validationType;
  if (type === 'number' && typeof component.decimalDigits === 'number' && component.decimalDigits >= 0) checks.decimalDigits = component.decimalDigits;
  if (type === 'datetime') checks.subtype = typeof component.subtype === 'string' ? component.subtype : 'date';
  if (OPTION_TYPES.has(type) && Array.isArray(component.values) && component.valuesKey === undefined && component.valuesExpression === undefined) {
    if (component.values.length > FORM_LIMITS.options) throw new FormProblem(id, `more than ${FORM_LIMITS.options} options`);
    checks.options = component.values.map((option, index) => {
      if (!isRecord(option) || !('value' in option)) throw new FormProblem(id, `option ${index + 1} has no value`);
      return option.value;
    });
  }
  return checks;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
