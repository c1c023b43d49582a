import { FeelAnalyzer } from '@bpmn-io/feel-analyzer';
import { lintExpression } from '@bpmn-io/feel-lint';
import type { Finding } from '../engine/definitions/analysis-types.js';
import type { DecisionModel, DecisionRequirements, DecisionTable } from './dmn-model.js';

/** Rule and input counts above these are refused: evaluation runs on the event loop. */
export const DECISION_LIMITS = { rules: 2000, inputs: 50, outputs: 50, decisions: 100 };

/** FEEL's built-in functions: names an expression may use without declaring them. */
const FEEL_BUILTINS = new Set(
  'number|string|date|date and time|time|duration|years and months duration|now|today|not|substring|string length|upper case|lower case|substring before|substring after|replace|contains|matches|starts with|ends with|split|string join|list contains|list replace|count|min|max|sum|mean|all|any|sublist|append|concatenate|insert before|remove|reverse|index of|union|distinct values|flatten|product|median|stddev|mode|decimal|floor|ceiling|abs|round up|round down|round half up|round half down|modulo|sqrt|log|exp|odd|even|is|before|after|meets|met by|overlaps|overlaps before|overlaps after|finishes|finished by|includes|during|starts|started by|coincides|day of year|day of week|month of year|week of year|sort|get value|get entries|context|context merge|context put'.split(
    '|',
  ),
);

/**
 * Lints a parsed DRG at deploy: FEEL syntax of every expression and unary test
 * (`@bpmn-io/feel-lint`), references to inputs the DRG does not declare, rules that overlap
 * under hit policy UNIQUE, hit policies that need output values, cycles, and size limits.
 * Every finding names its element.
 */
export function lintDecisions(drg: DecisionRequirements): Finding[] {
  const findings: Finding[] = [];
  const error = (elementId: string, rule: string, message: string) => findings.push({ severity: 'error', rule, elementId, message });
  const warn = (elementId: string, rule: string, message: string) => findings.push({ severity: 'warning', rule, elementId, message });
  if (!drg.decisions.length) error(drg.id, 'dmn-no-decision', 'the DMN file defines no decision');
  if (drg.decisions.length > DECISION_LIMITS.decisions) error(drg.id, 'dmn-size', `more than ${DECISION_LIMITS.decisions} decisions`);
  const byId = new Map(drg.decisions.map((decision) => [decision.id, decision]));
  for (const decision of drg.decisions) {
    if (requiresItself(decision, byId)) error(decision.id, 'dmn-cycle', `decision '${decision.id}' requires itself through its required decisions`);
    const known = knownNames(decision, byId);
    const logic = decision.logic;
    if (!logic) {
      error(decision.id, 'dmn-no-logic', 'the decision has no decision table or literal expression');
      continue;
    }
    if (FORBIDDEN_NAMES.has(decision.variableName)) error(decision.id, 'dmn-forbidden-name', `the variable name '${decision.variableName}' is not allowed (it would reach an object's prototype)`);
    if (logic.kind === 'literal') {
      if (FORBIDDEN_NAMES.has(logic.variableName) && logic.variableName !== decision.variableName) {
        error(logic.id, 'dmn-forbidden-name', `the variable name '${logic.variableName}' is not allowed (it would reach an object's prototype)`);
      }
      lintFeel(logic.text, 'expression', logic.id, error);
      unknownReferences(logic.text, 'expression', known, logic.id, error);
      continue;
    }
    lintTable(decision, logic, known, error, warn);
  }
  return findings;
}

/** Names that would set or read an object's prototype where outputs and inputs become keys. */
const FORBIDDEN_NAMES = new Set(['__proto__', 'constructor', 'prototype']);

type Report = (elementId: string, rule: string, message: string) => void;

function lintTable(decision: DecisionModel, table: DecisionTable, known: Set<string> | null, error: Report, warn: Report): void {
  const tooBig = [
    table.rules.length > DECISION_LIMITS.rules && `more than ${DECISION_LIMITS.rules} rules`,
    table.inputs.length > DECISION_LIMITS.inputs && `more than ${DECISION_LIMITS.inputs} inputs`,
    table.outputs.length > DECISION_LIMITS.outputs && `more than ${DECISION_LIMITS.outputs} outputs`,
  ].filter((reason): reason is string => Boolean(reason));
  for (const reason of tooBig) error(table.id, 'dmn-size', reason);
  // Refused anyway: its cells are not linted one by one (that work grows with the table).
  if (tooBig.length) return;
  for (const output of table.outputs) {
    if (FORBIDDEN_NAMES.has(output.name)) error(output.id, 'dmn-forbidden-name', `the output name '${output.name}' is not allowed (it would reach an object's prototype)`);
  }
  for (const input of table.inputs) {
    if (FORBIDDEN_NAMES.has(input.inputVariable)) error(input.id, 'dmn-forbidden-name', `the input variable '${input.inputVariable}' is not allowed (it would reach an object's prototype)`);
    if (!input.expression) error(input.id, 'dmn-input-expression', 'the input has no expression');
    else {
      lintFeel(input.expression, 'expression', input.id, error);
      unknownReferences(input.expression, 'expression', known, input.id, error);
    }
  }
  if ((table.hitPolicy === 'PRIORITY' || table.hitPolicy === 'OUTPUT ORDER') && !table.outputs.some((output) => output.outputValues)) {
    error(table.id, 'dmn-output-values', `hit policy ${table.hitPolicy} ranks rules by the outputs' values: give at least one output its output values`);
  }
  for (const output of table.outputs) if (output.outputValues) lintFeel(`[${output.outputValues}]`, 'expression', output.id, error);
  const cellNames = new Set(known ?? []);
  for (const input of table.inputs) cellNames.add(input.inputVariable);
  for (const rule of table.rules) {
    for (const entry of rule.inputEntries) {
      if (entry.text === '' || entry.text === '-') continue;
      lintFeel(entry.text, 'unaryTests', entry.id, error);
      if (known) unknownReferences(entry.text, 'unaryTests', cellNames, entry.id, error);
    }
    for (const entry of rule.outputEntries) {
      if (entry.text === '') continue;
      lintFeel(entry.text, 'expression', entry.id, error);
      unknownReferences(entry.text, 'expression', known, entry.id, error);
    }
  }
  if (table.hitPolicy === 'UNIQUE') {
    const { pairs, complete } = overlappingRules(table);
    for (const [first, second] of pairs) {
      error(second, 'dmn-unique-overlap', `rules '${first}' and '${second}' overlap: under hit policy UNIQUE at most one rule may match any input`);
    }
    if (!complete && !pairs.length) {
      warn(table.id, 'dmn-unique-overlap-partial', `the overlap check compared the first ${OVERLAP_PAIR_BUDGET} pairs of rules only; later rules may still overlap`);
    }
  }
  void decision;
}

function lintFeel(text: string, dialect: 'expression' | 'unaryTests', elementId: string, error: Report): void {
  const problems = lintExpression(text, { dialect }).filter((problem: { severity: string }) => problem.severity === 'error');
  if (problems.length) {
    const problem = problems[0] as { from: number; message: string };
    error(elementId, 'feel-syntax', `FEEL syntax error at ${problem.from} in '${text}': ${problem.message}`);
  }
}

const analyzers = { expression: new FeelAnalyzer({ dialect: 'expression' }), unaryTests: new FeelAnalyzer({ dialect: 'unaryTests' }) };

/**
 * Names an expression reads that the DRG does not provide. Only when the decision declares its
 * information requirements (`known` is set): a Camunda 7 table that declares none reads
 * process variables, which deploy cannot know.
 */
function unknownReferences(text: string, dialect: 'expression' | 'unaryTests', known: Set<string> | null, elementId: string, error: Report): void {
  if (!known) return;
  let inputs: Array<{ name: string }>;
  try {
    inputs = analyzers[dialect].analyzeExpression(text).inputs ?? [];
  } catch {
    return; // a syntax error is reported by lintFeel
  }
  for (const { name } of inputs) {
    if (!known.has(name) && !FEEL_BUILTINS.has(name)) {
      error(elementId, 'dmn-unknown-input', `'${text}' reads '${name}', which is neither a required input nor a required decision of this decision`);
    }
  }
}

/** The names a decision may read, or null when it declares no requirements at all. */
function knownNames(decision: DecisionModel, byId: Map<string, DecisionModel>): Set<string> | null {
  if (!decision.requiredInputs.length && !decision.requiredDecisions.length) return null;
  const names = new Set(decision.requiredInputs);
  for (const requiredId of decision.requiredDecisions) {
    const required = byId.get(requiredId);
    if (!required) continue;
    names.add(required.variableName);
    if (required.logic?.kind === 'table') for (const output of required.logic.outputs) names.add(output.name);
    if (required.logic?.kind === 'literal') names.add(required.logic.variableName);
  }
  return names;
}

function requiresItself(decision: DecisionModel, byId: Map<string, DecisionModel>): boolean {
  const seen = new Set<string>();
  const stack = [...decision.requiredDecisions];
  while (stack.length) {
    const id = stack.pop()!;
    if (id === decision.id) return true;
    if (seen.has(id)) continue;
    seen.add(id);
    stack.push(...(byId.get(id)?.requiredDecisions ?? []));
  }
  return false;
}

// ------------------------------------------------------------------ overlap under UNIQUE

/**
 * What an input entry accepts, when it can be told statically: anything, a set of literal
 * values (strings, booleans), or a union of numeric intervals. `unknown` (variables, function
 * calls, `not(...)`, dates) never counts as overlapping: the check reports only sure overlaps.
 */
type Accepts =
  | { kind: 'any' }
  | { kind: 'values'; values: Set<string> }
  | { kind: 'intervals'; intervals: Interval[] }
  | { kind: 'unknown' };
interface Interval {
  low: number;
  lowOpen: boolean;
  high: number;
  highOpen: boolean;
}

/** Pairs of rules compared at most: the check is pairwise, so its cost is bounded here. */
export const OVERLAP_PAIR_BUDGET = 200_000;

function overlappingRules(table: DecisionTable): { pairs: Array<[string, string]>; complete: boolean } {
  const accepted = table.rules.map((rule) => rule.inputEntries.map((entry) => acceptsOf(entry.text)));
  const pairs: Array<[string, string]> = [];
  let compared = 0;
  for (let a = 0; a < accepted.length; a++) {
    for (let b = a + 1; b < accepted.length; b++) {
      if (++compared > OVERLAP_PAIR_BUDGET) return { pairs, complete: false };
      if (accepted[a]!.every((entry, index) => intersects(entry, accepted[b]![index]!))) pairs.push([table.rules[a]!.id, table.rules[b]!.id]);
      if (pairs.length >= 20) return { pairs, complete: true };
    }
  }
  return { pairs, complete: true };
}

function intersects(a: Accepts, b: Accepts): boolean {
  if (a.kind === 'unknown' || b.kind === 'unknown') return false;
  if (a.kind === 'any' || b.kind === 'any') return true;
  if (a.kind === 'values' && b.kind === 'values') return [...a.values].some((value) => b.values.has(value));
  if (a.kind === 'intervals' && b.kind === 'intervals') return a.intervals.some((x) => b.intervals.some((y) => intervalsMeet(x, y)));
  return false;
}

function intervalsMeet(x: Interval, y: Interval): boolean {
  // Empty when one ends before the other starts (an open end at the same point does not touch).
  const below = (end: number, endOpen: boolean, start: number, startOpen: boolean) => end < start || (end === start && (endOpen || startOpen));
  return !below(x.high, x.highOpen, y.low, y.lowOpen) && !below(y.high, y.highOpen, x.low, x.lowOpen);
}

const NUMBER = String.raw`-?\d+(?:\.\d+)?`;
const COMPARISON = new RegExp(String.raw`^(<=|>=|<|>|=)?\s*(${NUMBER})$`);
const RANGE = new RegExp(String.raw`^([\[\]\(])\s*(${NUMBER})\s*\.\.\s*(${NUMBER})\s*([\[\]\)])$`);

function acceptsOf(text: string): Accepts {
  if (text === '' || text === '-') return { kind: 'any' };
  const parts = splitTopLevel(text);
  if (!parts) return { kind: 'unknown' };
  const values = new Set<string>();
  const intervals: Interval[] = [];
  for (const part of parts) {
    if (/^"(?:[^"\\]|\\.)*"$/.test(part) || part === 'true' || part === 'false' || part === 'null') {
      values.add(part);
      continue;
    }
    const comparison = COMPARISON.exec(part);
    if (comparison) {
      const value = Number(comparison[2]);
      const op = comparison[1] ?? '=';
      if (op === '=') intervals.push({ low: value, lowOpen: false, high: value, highOpen: false });
      if (op === '<') intervals.push({ low: -Infinity, lowOpen: true, high: value, highOpen: true });
      if (op === '<=') intervals.push({ low: -Infinity, lowOpen: true, high: value, highOpen: false });
      if (op === '>') intervals.push({ low: value, lowOpen: true, high: Infinity, highOpen: true });
      if (op === '>=') intervals.push({ low: value, lowOpen: false, high: Infinity, highOpen: true });
      continue;
    }
    const range = RANGE.exec(part);
    if (range) {
      intervals.push({ low: Number(range[2]), lowOpen: range[1] !== '[', high: Number(range[3]), highOpen: range[4] !== ']' });
      continue;
    }
    return { kind: 'unknown' };
  }
  if (values.size && intervals.length) return { kind: 'unknown' };
  return values.size ? { kind: 'values', values } : { kind: 'intervals', intervals };
}

/** Splits `a, b, c` at top-level commas (not inside quotes or brackets); null when unbalanced. */
function splitTopLevel(text: string): string[] | null {
  const parts: string[] = [];
  let depth = 0;
  let quoted = false;
  let start = 0;
  for (let index = 0; index < text.length; index++) {
    const char = text[index]!;
    if (quoted) {
      if (char === '\\') index++;
      else if (char === '"') quoted = false;
      continue;
    }
    if (char === '"') quoted = true;
    else if ('[('.includes(char)) depth++;
    else if ('])'.includes(char)) depth--;
    else if (char === ',' && depth === 0) {
      parts.push(text.slice(start, index).trim());
      start = index + 1;
    }
  }
  if (quoted) return null;
  parts.push(text.slice(start).trim());
  return parts;
}

/**
 * Every name the DRG's expressions and unary tests read (roots of paths; function names may be
 * among them, which costs nothing), or null when one cannot be analysed: then an evaluation
 * gets all variables.
 */
export function referencedNames(drg: DecisionRequirements): string[] | null {
  const names = new Set<string>();
  const read = (text: string, dialect: 'expression' | 'unaryTests'): boolean => {
    if (text === '' || text === '-') return true;
    try {
      const analysis = analyzers[dialect].analyzeExpression(text) as { valid?: boolean; inputs?: Array<{ name: string }> };
      if (analysis.valid === false) return false;
      for (const { name } of analysis.inputs ?? []) names.add(name);
      return true;
    } catch {
      return false;
    }
  };
  for (const decision of drg.decisions) {
    const logic = decision.logic;
    if (!logic) continue;
    if (logic.kind === 'literal') {
      if (!read(logic.text, 'expression')) return null;
      continue;
    }
    for (const input of logic.inputs) if (input.expression && !read(input.expression, 'expression')) return null;
    for (const rule of logic.rules) {
      for (const entry of rule.inputEntries) if (!read(entry.text, 'unaryTests')) return null;
      for (const entry of rule.outputEntries) if (!read(entry.text, 'expression')) return null;
    }
  }
  return [...names].sort();
}
