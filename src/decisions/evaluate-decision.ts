import { evaluate as evaluateFeel, unaryTest } from 'feelin';
import { AppError } from '../errors.js';
import { feelDataOf } from '../engine/expressions.js';
import type { Aggregation, DecisionModel, DecisionRequirements, DecisionTable, HitPolicy, TableOutput } from './dmn-model.js';

/** One result entry: output name -> value (Camunda 7's DmnDecisionResultEntries). */
export type ResultEntry = Record<string, unknown>;

export interface MatchedRule {
  id: string;
  /** 1-based position in the table, as the editor numbers rules. */
  index: number;
  description: string | null;
  outputs: ResultEntry;
}

/** What one decision of a DRG did: the audit record of its evaluation. */
export interface EvaluatedDecision {
  decisionId: string;
  decisionName: string | null;
  kind: 'table' | 'literal';
  hitPolicy: HitPolicy | null;
  aggregation: Aggregation | null;
  inputs: Array<{ id: string; label: string | null; expression: string; value: unknown }>;
  matchedRules: MatchedRule[];
  result: ResultEntry[];
  /** COLLECT with an aggregation, or a literal expression: the single value. */
  resultValue?: unknown;
}

export interface DrgEvaluation {
  decisionId: string;
  /** The requested decision's result (list of entries). */
  result: ResultEntry[];
  /** Every decision evaluated, required ones first, the requested one last. */
  evaluated: EvaluatedDecision[];
}

export interface EvaluationLimits {
  /** Wall-clock budget for one evaluation, checked before each rule and decision. @default 1000 */
  timeoutMs?: number;
}

/**
 * Thrown when a decision cannot produce a result: a hit policy violated (UNIQUE, ANY), an
 * expression that fails, an output of the wrong type, the time budget spent. `code` is stable.
 */
export class DecisionError extends AppError {
  constructor(code: DecisionErrorCode, message: string, details: { decisionId: string; elementId?: string; [key: string]: unknown }) {
    super(code, message, { details });
    this.name = 'DecisionError';
  }
}

export type DecisionErrorCode =
  | 'DECISION_UNIQUE_VIOLATION'
  | 'DECISION_ANY_VIOLATION'
  | 'DECISION_EXPRESSION_FAILED'
  | 'DECISION_TYPE_MISMATCH'
  | 'DECISION_TIMEOUT'
  | 'DECISION_NO_LOGIC';

/**
 * Evaluates `decisionId` of a DRG over `variables`: its required decisions first (each
 * once, in dependency order), their results added to the context of the ones requiring them.
 */
export function evaluateDrg(drg: DecisionRequirements, decisionId: string, variables: Record<string, unknown>, limits: EvaluationLimits = {}): DrgEvaluation {
  const deadline = Date.now() + (limits.timeoutMs ?? 1000);
  const byId = new Map(drg.decisions.map((decision) => [decision.id, decision]));
  const root = byId.get(decisionId);
  if (!root) throw new AppError('NOT_FOUND', `decision '${decisionId}' is not in ${drg.id}`);
  // FEEL never sees live objects: one plain copy of the variables, as diagrams' FEEL gets.
  const base = feelDataOf(variables);
  const evaluated: EvaluatedDecision[] = [];
  const results = new Map<string, ResultEntry[]>();
  const visiting = new Set<string>();

  const visit = (decision: DecisionModel): ResultEntry[] => {
    const done = results.get(decision.id);
    if (done) return done;
    if (visiting.has(decision.id)) throw new DecisionError('DECISION_EXPRESSION_FAILED', `decision '${decision.id}' requires itself`, { decisionId: decision.id });
    visiting.add(decision.id);
    const context: Record<string, unknown> = { ...base };
    for (const requiredId of decision.requiredDecisions) {
      const required = byId.get(requiredId)!;
      Object.assign(context, requiredDecisionVariables(required, visit(required)));
    }
    checkDeadline(deadline, decision.id);
    const record = evaluateOne(decision, context, deadline);
    evaluated.push(record);
    results.set(decision.id, record.result);
    visiting.delete(decision.id);
    return record.result;
  };
  const result = visit(root);
  // FEEL values (dates, times) stayed FEEL values while deciding; results and records are JSON.
  return { decisionId, result: plain(result) as ResultEntry[], evaluated: evaluated.map((record) => plain(record) as EvaluatedDecision) };
}

/**
 * What a requiring decision reads of a required one, as in Camunda 7: each output name holds
 * its value; a decision that may hit several rules (COLLECT without aggregation, RULE ORDER,
 * OUTPUT ORDER) gives lists even when one rule matched; an empty result sets no variable. As
 * in DMN, the decision's variable holds the whole result (one value, one context, or a list).
 */
function requiredDecisionVariables(decision: DecisionModel, result: ResultEntry[]): Record<string, unknown> {
  const variables: Record<string, unknown> = {};
  if (!result.length) return variables;
  const logic = decision.logic;
  const multiple =
    logic?.kind === 'table' && ((logic.hitPolicy === 'COLLECT' && !logic.aggregation) || logic.hitPolicy === 'RULE ORDER' || logic.hitPolicy === 'OUTPUT ORDER');
  const asList = multiple || result.length > 1;
  const names = [...new Set(result.flatMap((entry) => Object.keys(entry)))];
  for (const name of names) variables[name] = asList ? result.map((entry) => entry[name] ?? null) : result[0]![name];
  const single = (entry: ResultEntry) => {
    const keys = Object.keys(entry);
    return keys.length === 1 ? entry[keys[0]!] : entry;
  };
  if (!(decision.variableName in variables)) variables[decision.variableName] = asList ? result.map(single) : single(result[0]!);
  return variables;
}

function evaluateOne(decision: DecisionModel, context: Record<string, unknown>, deadline: number): EvaluatedDecision {
  const logic = decision.logic;
  if (!logic) throw new DecisionError('DECISION_NO_LOGIC', `decision '${decision.id}' has no decision logic`, { decisionId: decision.id });
  if (logic.kind === 'literal') {
    const value = coerce(feel(logic.text, context, decision.id, logic.id), logic.typeRef, decision.id, logic.id);
    return {
      decisionId: decision.id,
      decisionName: decision.name,
      kind: 'literal',
      hitPolicy: null,
      aggregation: null,
      inputs: [],
      matchedRules: [],
      result: [{ [logic.variableName]: value }],
      resultValue: value,
    };
  }
  return evaluateTable(decision, logic, context, deadline);
}

function evaluateTable(decision: DecisionModel, table: DecisionTable, context: Record<string, unknown>, deadline: number): EvaluatedDecision {
  const inputs = table.inputs.map((input) => {
    const raw = input.expression ? feel(input.expression, context, decision.id, input.id) : null;
    return { id: input.id, label: input.label, expression: input.expression, value: coerce(raw, input.typeRef, decision.id, input.id) };
  });
  // The context a rule's unary tests see for each input: `?` and the input variable are its value.
  const cellContexts = table.inputs.map((input, index) => ({ ...context, '?': inputs[index]!.value, [input.inputVariable]: inputs[index]!.value }));

  const matched: MatchedRule[] = [];
  for (const [ruleIndex, rule] of table.rules.entries()) {
    checkDeadline(deadline, decision.id);
    const matches = rule.inputEntries.every((entry, index) => {
      if (entry.text === '' || entry.text === '-') return true;
      return test(entry.text, cellContexts[index]!, decision.id, entry.id) === true;
    });
    if (!matches) continue;
    matched.push({ id: rule.id, index: ruleIndex + 1, description: rule.description, outputs: {} });
    // FIRST needs no more rules, and the others' outputs are computed only for matches.
    if (table.hitPolicy === 'FIRST') break;
  }
  for (const rule of matched) {
    const entries = table.rules[rule.index - 1]!.outputEntries;
    table.outputs.forEach((output, index) => {
      const entry = entries[index]!;
      if (entry.text === '') return;
      rule.outputs[output.name] = coerce(feel(entry.text, context, decision.id, entry.id), output.typeRef, decision.id, entry.id);
    });
  }

  const base = {
    decisionId: decision.id,
    decisionName: decision.name,
    kind: 'table' as const,
    hitPolicy: table.hitPolicy,
    aggregation: table.aggregation,
    inputs,
  };
  switch (table.hitPolicy) {
    case 'UNIQUE':
      if (matched.length > 1) {
        throw new DecisionError(
          'DECISION_UNIQUE_VIOLATION',
          `hit policy UNIQUE of decision '${decision.id}' allows one matching rule, but ${matched.length} matched: ${matched.map((rule) => rule.id).join(', ')}`,
          { decisionId: decision.id, elementId: table.id, matchedRules: matched.map((rule) => rule.id) },
        );
      }
      return { ...base, matchedRules: matched, result: matched.map((rule) => rule.outputs) };
    case 'FIRST':
      return { ...base, matchedRules: matched, result: matched.map((rule) => rule.outputs) };
    case 'ANY': {
      const distinct = new Set(matched.map((rule) => canonical(rule.outputs)));
      if (distinct.size > 1) {
        throw new DecisionError(
          'DECISION_ANY_VIOLATION',
          `hit policy ANY of decision '${decision.id}' needs equal outputs, but the matching rules ${matched.map((rule) => rule.id).join(', ')} differ`,
          { decisionId: decision.id, elementId: table.id, matchedRules: matched.map((rule) => rule.id) },
        );
      }
      return { ...base, matchedRules: matched, result: matched.slice(0, 1).map((rule) => rule.outputs) };
    }
    case 'PRIORITY': {
      const ordered = byPriority(matched, table.outputs, decision.id);
      return { ...base, matchedRules: matched, result: ordered.slice(0, 1).map((rule) => rule.outputs) };
    }
    case 'OUTPUT ORDER':
      return { ...base, matchedRules: matched, result: byPriority(matched, table.outputs, decision.id).map((rule) => rule.outputs) };
    case 'RULE ORDER':
      return { ...base, matchedRules: matched, result: matched.map((rule) => rule.outputs) };
    case 'COLLECT': {
      if (!table.aggregation) return { ...base, matchedRules: matched, result: matched.map((rule) => rule.outputs) };
      const name = table.outputs[0]!.name;
      const value = aggregate(table.aggregation, matched.map((rule) => rule.outputs[name]), decision.id, table.id);
      // As Camunda 7: one entry with the aggregate; no entry when nothing matched (COUNT is 0).
      const result = value === undefined ? [] : [{ [name]: value }];
      return { ...base, matchedRules: matched, result, resultValue: value ?? null };
    }
  }
}

function aggregate(aggregation: Aggregation, values: unknown[], decisionId: string, elementId: string): unknown {
  const present = values.filter((value) => value !== null && value !== undefined);
  if (aggregation === 'COUNT') return present.length;
  if (!present.length) return undefined;
  if (!present.every((value) => typeof value === 'number')) {
    throw new DecisionError('DECISION_TYPE_MISMATCH', `aggregation ${aggregation} of decision '${decisionId}' needs numbers, got ${present.map((value) => JSON.stringify(value)).join(', ')}`, {
      decisionId,
      elementId,
    });
  }
  const numbers = present as number[];
  if (aggregation === 'SUM') return numbers.reduce((sum, value) => sum + value, 0);
  if (aggregation === 'MIN') return Math.min(...numbers);
  return Math.max(...numbers);
}

/**
 * PRIORITY and OUTPUT ORDER rank by the outputs' allowed values (`outputValues`): the first
 * listed value ranks highest; outputs are compared in order; equal rank keeps rule order.
 */
function byPriority(rules: MatchedRule[], outputs: TableOutput[], decisionId: string): MatchedRule[] {
  const rankings = outputs.map((output) => {
    if (!output.outputValues) return null;
    const listed = plain(feel(`[${output.outputValues}]`, {}, decisionId, output.id));
    return Array.isArray(listed) ? listed.map(canonical) : null;
  });
  const rank = (rule: MatchedRule) =>
    rankings.map((ranking, index) => {
      if (!ranking) return 0;
      const position = ranking.indexOf(canonical(plain(rule.outputs[outputs[index]!.name] ?? null)));
      return position < 0 ? ranking.length : position;
    });
  const ranked = rules.map((rule, order) => ({ rule, order, rank: rank(rule) }));
  ranked.sort((a, b) => {
    for (let index = 0; index < a.rank.length; index++) if (a.rank[index] !== b.rank[index]) return a.rank[index]! - b.rank[index]!;
    return a.order - b.order;
  });
  return ranked.map((entry) => entry.rule);
}

function checkDeadline(deadline: number, decisionId: string): void {
  if (Date.now() > deadline) {
    throw new DecisionError('DECISION_TIMEOUT', `decision '${decisionId}' ran over its time budget`, { decisionId });
  }
}

/** A FEEL expression's value, as FEEL gives it (a date stays a date for the unary tests that follow). */
function feel(text: string, context: Record<string, unknown>, decisionId: string, elementId: string): unknown {
  try {
    return evaluateFeel(text, context).value ?? null;
  } catch (error) {
    throw new DecisionError('DECISION_EXPRESSION_FAILED', `decision '${decisionId}', ${elementId}: ${text}: ${(error as Error).message}`, { decisionId, elementId });
  }
}

function test(text: string, context: Record<string, unknown>, decisionId: string, elementId: string): boolean | null {
  try {
    return unaryTest(text, context).value;
  } catch (error) {
    throw new DecisionError('DECISION_EXPRESSION_FAILED', `decision '${decisionId}', ${elementId}: ${text}: ${(error as Error).message}`, { decisionId, elementId });
  }
}

/** FEEL values as JSON data: temporal values as their ISO text, functions and ranges refused. */
function plain(value: unknown): unknown {
  if (value === null || value === undefined) return null;
  if (typeof value !== 'object') return typeof value === 'function' ? null : value;
  if (Array.isArray(value)) return value.map(plain);
  const toJson = (value as { toJSON?: () => unknown }).toJSON;
  if (typeof toJson === 'function') return toJson.call(value);
  const out: Record<string, unknown> = {};
  for (const [key, item] of Object.entries(value)) out[key] = plain(item);
  return out;
}

/** A FEEL temporal value (feelin's FeelDate, FeelDateTime, FeelTime, durations): an object that turns itself into JSON. */
function isTemporal(value: unknown): boolean {
  return typeof value === 'object' && value !== null && !Array.isArray(value) && typeof (value as { toJSON?: unknown }).toJSON === 'function';
}

function canonical(value: unknown): string {
  return JSON.stringify(value, (_key, item) =>
    item && typeof item === 'object' && !Array.isArray(item) ? Object.fromEntries(Object.entries(item).sort(([a], [b]) => a.localeCompare(b))) : item,
  );
}

/**
 * Camunda 7's typed values: a value of an input or output with a `typeRef` is converted to that
 * type, and one that cannot be is an error (never a silent string where a number belongs).
 */
export function coerce(value: unknown, typeRef: string | null, decisionId: string, elementId: string): unknown {
  if (value === null || value === undefined || !typeRef) return value ?? null;
  const fail = (): never => {
    throw new DecisionError('DECISION_TYPE_MISMATCH', `decision '${decisionId}', ${elementId}: ${JSON.stringify(value)} is not a ${typeRef}`, { decisionId, elementId, typeRef });
  };
  switch (typeRef.toLowerCase()) {
    case 'string':
      return typeof value === 'string' ? value : typeof value === 'number' || typeof value === 'boolean' ? String(value) : fail();
    case 'boolean':
      if (typeof value === 'boolean') return value;
      return value === 'true' ? true : value === 'false' ? false : fail();
    case 'integer':
    case 'long': {
      const number = typeof value === 'string' && value.trim() !== '' ? Number(value) : value;
      return typeof number === 'number' && Number.isInteger(number) ? number : fail();
    }
    case 'double':
    case 'number': {
      const number = typeof value === 'string' && value.trim() !== '' ? Number(value) : value;
      return typeof number === 'number' && Number.isFinite(number) ? number : fail();
    }
    case 'date':
    case 'datetime':
    case 'date and time': {
      // As Camunda 7, a typed date takes its ISO text (yyyy-MM-dd'T'HH:mm:ss, or a FEEL date's
      // yyyy-MM-dd); it becomes a FEEL value, so unary tests compare dates, not strings.
      if (isTemporal(value)) return value;
      if (typeof value !== 'string' || Number.isNaN(Date.parse(value))) return fail();
      const dateOnly = /^\d{4}-\d{2}-\d{2}$/.test(value);
      try {
        const converted = evaluateFeel(dateOnly && typeRef.toLowerCase() === 'date' ? 'date(value)' : 'date and time(value)', { value }).value;
        return converted ?? fail();
      } catch {
        return fail();
      }
    }
    default:
      return value; // other types (contexts, lists, time, durations) pass as FEEL gives them
  }
}
