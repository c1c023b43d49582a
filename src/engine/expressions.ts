/**
 * Safe expressions and disabled scripts for bpmn-engine / bpmn-elements.
 *
 * Why this exists: bpmn-elements' default `Expressions` resolves `${...}` by walking
 * object paths and CALLING the functions it finds, so a diagram can run
 * `${environment.constructor.constructor('...')()}` on the server or pollute
 * `Object.prototype` through `constructor.prototype`. Its default scripts use
 * `node:vm`, which is no sandbox. Diagrams are uploaded data, so everything here is
 * interpreted by a small hand-written parser that can only READ own data properties:
 * no `eval`, no `Function`, no `vm`, no calls, no getters (see `readProperty`).
 *
 * Two dialects:
 * - Camunda 7 / JUEL-ish `${...}` (also embedded in text: `Hello ${name}`), parsed here.
 * - Camunda 8 FEEL when the text starts with `=`, evaluated by `feelin` over a plain,
 *   function-free deep copy of the data (feelin calls JS functions it finds in its
 *   context and exposes prototype getters, so it never sees live objects).
 *
 * Name resolution for a bare identifier (`${score}`):
 * 1. The reserved roots `environment`, `content`, `properties`, `fields` (the
 *    bpmn-engine dialect: `${environment.variables.x}`, `${content.output.x}`) and
 *    `variables` (the process variables object). They win over process variables so
 *    that variables supplied at start (user data) cannot shadow or forge what a diagram
 *    reads through `environment.*` — like Camunda 7 reserves `execution`, `task`...
 *    A variable with one of these names stays reachable as `variables.content`.
 * 2. Otherwise an own property of the process variables (`context.environment.variables`,
 *    or `context.variables` when no environment is given).
 * 3. Otherwise `undefined` (Camunda 7 would throw "unknown property"; bpmn-engine returns
 *    undefined, and a condition on a variable that is not set yet is common).
 */
import { evaluate as evaluateFeel, parseExpression as parseFeelExpression, SyntaxError as FeelSyntaxError } from 'feelin';
import type { IScripts, Script } from 'bpmn-elements';
import { AppError } from '../errors.js';
import { LINEAR_REGEX_BUILTINS } from './feel-regex.js';

// ---------------------------------------------------------------------------------------
// Public API
// ---------------------------------------------------------------------------------------

/** What bpmn-engine's `expressions` option expects (bpmn-elements `IExpressions`). */
export interface SafeExpressions {
  resolveExpression(text: string, context: unknown, fnContext?: unknown): unknown;
  isExpression(text: unknown): boolean;
  hasExpression(text: unknown): boolean;
}

/**
 * The context shapes that arrive: bpmn-elements' `Environment.resolveExpression` passes
 * `{ environment, ...message }` (message = `{ fields, content, properties }`, or an
 * ExecutionScope); our own callers may pass `{ variables }` alone.
 */
export interface ExpressionContext {
  environment?: unknown;
  content?: unknown;
  properties?: unknown;
  fields?: unknown;
  variables?: unknown;
  [key: string]: unknown;
}

export interface CompiledExpression {
  /** The text as written in the diagram. */
  readonly source: string;
  /** literal: no expression; single: exactly one `${...}` (raw value); template: text with `${...}` parts (string); feel: `=...`. */
  readonly kind: 'literal' | 'single' | 'template' | 'feel';
  evaluate(context: unknown): unknown;
}

export type ExpressionErrorCode = 'EXPRESSION_INVALID' | 'EXPRESSION_FAILED';

/** EXPRESSION_INVALID: the text does not parse. EXPRESSION_FAILED: it parsed but could not be evaluated (e.g. `"abc" * 2`). */
export class ExpressionError extends AppError {
  readonly expression: string;
  readonly position: number | undefined;

  constructor(code: ExpressionErrorCode, expression: string, reason: string, position?: number, cause?: unknown) {
    const where = position === undefined ? '' : ` at position ${position}`;
    const verb = code === 'EXPRESSION_INVALID' ? 'invalid expression' : 'expression failed';
    super(code, `${verb} ${JSON.stringify(abbreviate(expression))}${where}: ${reason}`, {
      cause,
      details: { expression, ...(position !== undefined && { position }) },
    });
    this.name = 'ExpressionError';
    this.expression = expression;
    this.position = position;
  }
}

export function createSafeExpressions(): SafeExpressions {
  return {
    // fnContext is bpmn-elements' `this` for functions the path walker calls; we never call.
    resolveExpression(text: string, context: unknown, _fnContext?: unknown): unknown {
      if (typeof text !== 'string') return text;
      // Fast path: plain names ("Approve order", "PT5M") are never compiled or cached.
      if (!hasExpression(text)) return text;
      return compileExpression(text).evaluate(context);
    },
    isExpression,
    hasExpression,
  };
}

/** Parses (cached) and returns an evaluator; throws ExpressionError (EXPRESSION_INVALID). */
export function compileExpression(text: string): CompiledExpression {
  const cached = compileCache.get(text);
  if (cached !== undefined) {
    if (cached instanceof ExpressionError) throw cached;
    return cached;
  }
  let result: CompiledExpression | ExpressionError;
  try {
    result = compileUncached(text);
  } catch (err) {
    if (!(err instanceof ExpressionError)) throw err;
    result = err; // bad diagrams are evaluated repeatedly too: cache the failure
  }
  if (compileCache.size >= COMPILE_CACHE_LIMIT) {
    // Evict the oldest entry (Map keeps insertion order): cheap and good enough here.
    const oldest = compileCache.keys().next();
    if (!oldest.done) compileCache.delete(oldest.value);
  }
  compileCache.set(text, result);
  if (result instanceof ExpressionError) throw result;
  return result;
}

export function evaluateExpression(text: string, context: ExpressionContext | unknown): unknown {
  return compileExpression(text).evaluate(context);
}

/** For deploy-time checks: null when `text` parses (or is plain text), else the error message. */
export function validateExpressionSyntax(text: string): string | null {
  try {
    compileExpression(text);
    return null;
  } catch (err) {
    if (err instanceof ExpressionError) return err.message;
    throw err;
  }
}

/** True when the whole text is one expression (`${...}` or FEEL `=...`). */
export function isExpression(text: unknown): boolean {
  if (typeof text !== 'string') return false;
  if (isFeelText(text)) return true;
  if (!text.includes('${')) return false;
  try {
    return compileExpression(text).kind === 'single';
  } catch {
    const trimmed = text.trim();
    return trimmed.startsWith('${') && trimmed.endsWith('}');
  }
}

/** True when the text contains any expression (so it must go through resolveExpression). */
export function hasExpression(text: unknown): boolean {
  return typeof text === 'string' && (text.includes('${') || isFeelText(text));
}

// ---------------------------------------------------------------------------------------
// Limits and cache
// ---------------------------------------------------------------------------------------

const COMPILE_CACHE_LIMIT = 1000;
/** Bounds recursion in the parser and the evaluator (a diagram must not blow the stack). */
const MAX_NESTING = 100;
const MAX_TOKENS_PER_EXPRESSION = 2000;
/** Keys that lead to prototypes; never readable, even as own properties (JSON.parse makes own `__proto__`). */
const FORBIDDEN_KEYS = new Set(['__proto__', 'constructor', 'prototype']);

const compileCache = new Map<string, CompiledExpression | ExpressionError>();

function isFeelText(text: string): boolean {
  return text.trimStart().startsWith('=');
}

function abbreviate(text: string): string {
  return text.length > 200 ? `${text.slice(0, 197)}...` : text;
}

function compileUncached(text: string): CompiledExpression {
  if (isFeelText(text)) return compileFeel(text);
  const parts = parseTemplate(text);
  const expressions = parts.filter((part): part is ExpressionNode => typeof part !== 'string');
  if (expressions.length === 0) {
    return { source: text, kind: 'literal', evaluate: () => text };
  }
  // Exactly one `${...}`, only whitespace around it: return the raw value (number, object,
  // function...). Trimming matters: a condition body "\n  ${x > 1}\n" must yield a boolean,
  // not the truthy string " false ".
  const onlyExpression = expressions[0];
  if (onlyExpression && expressions.length === 1 && parts.every((part) => typeof part !== 'string' || part.trim() === '')) {
    return { source: text, kind: 'single', evaluate: (context) => evaluateAst(onlyExpression, createScope(context, text)) };
  }
  return {
    source: text,
    kind: 'template',
    evaluate(context) {
      const scope = createScope(context, text);
      let out = '';
      for (const part of parts) out += typeof part === 'string' ? part : interpolate(evaluateAst(part, scope));
      return out;
    },
  };
}

// ---------------------------------------------------------------------------------------
// Tokenizer
// ---------------------------------------------------------------------------------------

type Token =
  | { kind: 'number'; value: number; pos: number }
  | { kind: 'string'; value: string; pos: number }
  | { kind: 'identifier'; value: string; pos: number }
  | { kind: 'punct'; value: string; pos: number }
  | { kind: 'end'; value: '}'; pos: number };

const PUNCTUATORS = ['==', '!=', '<=', '>=', '&&', '||', '<', '>', '!', '+', '-', '*', '/', '%', '?', ':', '.', '[', ']', '(', ')', ','];
const IDENTIFIER_START = /[\p{L}_$]/u;
const IDENTIFIER_PART = /[\p{L}\p{N}_$]/u;
const NUMBER_AT = /\d+(?:\.\d+)?(?:[eE][+-]?\d+)?/y;
const STRING_ESCAPES: Record<string, string> = { '\\': '\\', "'": "'", '"': '"', n: '\n', t: '\t', r: '\r' };

/** Splits `text` into literal strings and parsed `${...}` ASTs. */
function parseTemplate(text: string): Array<string | ExpressionNode> {
  const parts: Array<string | ExpressionNode> = [];
  let cursor = 0;
  for (;;) {
    const open = text.indexOf('${', cursor);
    if (open === -1) break;
    if (open > cursor) parts.push(text.slice(cursor, open));
    const { tokens, close } = tokenize(text, open + 2);
    parts.push(new Parser(text, tokens).parseWhole());
    cursor = close + 1;
  }
  if (cursor < text.length) parts.push(text.slice(cursor));
  return parts;
}

/** Scans from `start` to the `}` that closes the expression (braces inside strings do not count). */
function tokenize(text: string, start: number): { tokens: Token[]; close: number } {
  const tokens: Token[] = [];
  let i = start;
  const fail = (reason: string, at: number): never => {
    throw new ExpressionError('EXPRESSION_INVALID', text, reason, at);
  };
  while (i < text.length) {
    const ch = text.charAt(i);
    if (/\s/.test(ch)) {
      i++;
      continue;
    }
    if (tokens.length >= MAX_TOKENS_PER_EXPRESSION) fail(`more than ${MAX_TOKENS_PER_EXPRESSION} tokens`, i);
    if (ch === '}') {
      tokens.push({ kind: 'end', value: '}', pos: i });
      return { tokens, close: i };
    }
    if (ch >= '0' && ch <= '9') {
      NUMBER_AT.lastIndex = i;
      const match = NUMBER_AT.exec(text);
      const literal = match?.[0] ?? ch;
      tokens.push({ kind: 'number', value: Number(literal), pos: i });
      i += literal.length;
      if (IDENTIFIER_START.test(text.charAt(i))) fail(`invalid number "${literal}${text.charAt(i)}"`, i);
      continue;
    }
    if (ch === '"' || ch === "'") {
      const begin = i;
      let value = '';
      i++;
      for (;;) {
        if (i >= text.length) fail('unterminated string', begin);
        const c = text.charAt(i);
        if (c === ch) break;
        if (c === '\\') {
          const escaped = STRING_ESCAPES[text.charAt(i + 1)];
          if (escaped === undefined) fail(`unknown escape "\\${text.charAt(i + 1)}"`, i);
          value += escaped;
          i += 2;
          continue;
        }
        value += c;
        i++;
      }
      i++; // closing quote
      tokens.push({ kind: 'string', value, pos: begin });
      continue;
    }
    if (IDENTIFIER_START.test(ch)) {
      const begin = i;
      while (i < text.length && IDENTIFIER_PART.test(text.charAt(i))) i++;
      tokens.push({ kind: 'identifier', value: text.slice(begin, i), pos: begin });
      continue;
    }
    const punct = PUNCTUATORS.find((p) => text.startsWith(p, i));
    if (punct) {
      tokens.push({ kind: 'punct', value: punct, pos: i });
      i += punct.length;
      continue;
    }
    if (ch === '=') fail('"=" is not an operator; use "==" (or "eq") to compare', i);
    if (ch === '&' || ch === '|') fail(`use "${ch}${ch}" for boolean operators`, i);
    fail(`unexpected character "${ch}"`, i);
  }
  return fail('missing "}" to close "${"', start - 2);
}

// ---------------------------------------------------------------------------------------
// Parser (Pratt): JUEL precedence, lowest first:
//   ?:  <  || or  <  && and  <  == != eq ne  <  < > <= >= lt gt le ge  <  + -
//   <  * / % div mod  <  unary - ! not empty  <  member . []
// ---------------------------------------------------------------------------------------

type BinaryOperator = '==' | '!=' | '<' | '<=' | '>' | '>=' | '+' | '-' | '*' | '/' | '%';

type ExpressionNode =
  | { type: 'literal'; value: string | number | boolean | null }
  | { type: 'name'; name: string }
  | { type: 'member'; object: ExpressionNode; property: string }
  | { type: 'index'; object: ExpressionNode; index: ExpressionNode }
  | { type: 'unary'; operator: '-' | '!' | 'empty'; operand: ExpressionNode }
  | { type: 'binary'; operator: BinaryOperator; left: ExpressionNode; right: ExpressionNode }
  | { type: 'logical'; operator: '&&' | '||'; left: ExpressionNode; right: ExpressionNode }
  | { type: 'conditional'; test: ExpressionNode; consequent: ExpressionNode; alternate: ExpressionNode };

type InfixOperator = BinaryOperator | '&&' | '||' | '?' | '.' | '[' | '(';

/** [left binding power, right binding power]; right > left = left-associative. */
const INFIX_POWER: Record<InfixOperator, readonly [number, number]> = {
  '?': [2, 1], // right-associative: a ? b : c ? d : e
  '||': [3, 4],
  '&&': [5, 6],
  '==': [7, 8],
  '!=': [7, 8],
  '<': [9, 10],
  '<=': [9, 10],
  '>': [9, 10],
  '>=': [9, 10],
  '+': [11, 12],
  '-': [11, 12],
  '*': [13, 14],
  '/': [13, 14],
  '%': [13, 14],
  '.': [17, 18],
  '[': [17, 18],
  '(': [17, 18], // only to reject calls with a clear message
};
const PREFIX_POWER = 15;

const WORD_OPERATORS: Record<string, InfixOperator> = {
  and: '&&',
  or: '||',
  eq: '==',
  ne: '!=',
  lt: '<',
  le: '<=',
  gt: '>',
  ge: '>=',
  div: '/',
  mod: '%',
};
const RESERVED_WORDS = new Set([...Object.keys(WORD_OPERATORS), 'true', 'false', 'null', 'not', 'empty', 'instanceof']);

class Parser {
  private index = 0;
  private depth = 0;

  constructor(
    private readonly source: string,
    private readonly tokens: Token[],
  ) {}

  /** The tokens of one `${...}` form exactly one expression. */
  parseWhole(): ExpressionNode {
    const first = this.peek();
    if (first.kind === 'end') this.fail('empty expression', first);
    const node = this.parseExpression(0);
    const rest = this.peek();
    if (rest.kind !== 'end') this.fail(`unexpected ${describe(rest)}`, rest);
    return node;
  }

  private parseExpression(minPower: number): ExpressionNode {
    if (++this.depth > MAX_NESTING) this.fail(`nested deeper than ${MAX_NESTING} levels`, this.peek());
    let left = this.parsePrefix();
    for (;;) {
      const token = this.peek();
      const operator = infixOperatorOf(token);
      if (!operator) break;
      const [leftPower, rightPower] = INFIX_POWER[operator];
      if (leftPower < minPower) break;
      this.index++;
      left = this.parseInfix(operator, left, rightPower, token);
    }
    this.depth--;
    return left;
  }

  private parsePrefix(): ExpressionNode {
    const token = this.next();
    switch (token.kind) {
      case 'number':
      case 'string':
        return { type: 'literal', value: token.value };
      case 'identifier':
        switch (token.value) {
          case 'true':
            return { type: 'literal', value: true };
          case 'false':
            return { type: 'literal', value: false };
          case 'null':
            return { type: 'literal', value: null };
          case 'not':
            return { type: 'unary', operator: '!', operand: this.parseExpression(PREFIX_POWER) };
          case 'empty':
            return { type: 'unary', operator: 'empty', operand: this.parseExpression(PREFIX_POWER) };
        }
        if (RESERVED_WORDS.has(token.value)) return this.fail(`unexpected keyword "${token.value}"`, token);
        return { type: 'name', name: token.value };
      case 'punct':
        switch (token.value) {
          case '(': {
            const inner = this.parseExpression(0);
            this.expect(')');
            return inner;
          }
          case '-':
            return { type: 'unary', operator: '-', operand: this.parseExpression(PREFIX_POWER) };
          case '!':
            return { type: 'unary', operator: '!', operand: this.parseExpression(PREFIX_POWER) };
        }
        return this.fail(`unexpected ${describe(token)}`, token);
      case 'end':
        return this.fail('unexpected end of expression', token);
    }
  }

  private parseInfix(operator: InfixOperator, left: ExpressionNode, rightPower: number, token: Token): ExpressionNode {
    switch (operator) {
      case '(':
        // The whole point of this module: an expression reads data, it never runs code.
        return this.fail('function and method calls are not allowed in expressions', token);
      case '.': {
        const name = this.next();
        // Any word is a property name after ".", keywords included (`a.empty`, `x.not`).
        if (name.kind !== 'identifier') return this.fail(`expected a property name after ".", found ${describe(name)}`, name);
        return { type: 'member', object: left, property: name.value };
      }
      case '[': {
        const index = this.parseExpression(0);
        this.expect(']');
        return { type: 'index', object: left, index };
      }
      case '?': {
        const consequent = this.parseExpression(0);
        this.expect(':');
        const alternate = this.parseExpression(rightPower);
        return { type: 'conditional', test: left, consequent, alternate };
      }
      case '&&':
      case '||':
        return { type: 'logical', operator, left, right: this.parseExpression(rightPower) };
      default:
        return { type: 'binary', operator, left, right: this.parseExpression(rightPower) };
    }
  }

  private peek(): Token {
    // The tokenizer always ends the list with an `end` token, and we never step past it.
    return this.tokens[this.index] ?? this.tokens[this.tokens.length - 1]!;
  }

  private next(): Token {
    const token = this.peek();
    if (token.kind !== 'end') this.index++;
    return token;
  }

  private expect(punct: string): void {
    const token = this.next();
    if (token.kind !== 'punct' || token.value !== punct) this.fail(`expected "${punct}", found ${describe(token)}`, token);
  }

  private fail(reason: string, token: Token): never {
    throw new ExpressionError('EXPRESSION_INVALID', this.source, reason, token.pos);
  }
}

function infixOperatorOf(token: Token): InfixOperator | undefined {
  if (token.kind === 'punct') return token.value in INFIX_POWER ? (token.value as InfixOperator) : undefined;
  if (token.kind === 'identifier') return WORD_OPERATORS[token.value];
  return undefined;
}

function describe(token: Token): string {
  switch (token.kind) {
    case 'end':
      return 'end of expression';
    case 'string':
      return `string ${JSON.stringify(token.value)}`;
    default:
      return `"${token.value}"`;
  }
}

// ---------------------------------------------------------------------------------------
// Evaluation
// ---------------------------------------------------------------------------------------

interface Scope {
  readonly source: string;
  resolveName(name: string): unknown;
}

/**
 * Reads `key` of `target` the only way an expression may: own DATA properties of
 * non-function objects (getters are never invoked), array indexes (negative = from the
 * end, as bpmn-elements allows) and `length`, and a string's `length`. Everything else,
 * including the prototype keys, is undefined.
 */
function readProperty(target: unknown, key: unknown): unknown {
  if (target === null || target === undefined) return undefined;
  if (typeof key !== 'string' && typeof key !== 'number') return undefined;
  const name = String(key);
  if (FORBIDDEN_KEYS.has(name)) return undefined;
  if (typeof target === 'string') return name === 'length' ? target.length : undefined;
  if (typeof target !== 'object') return undefined; // functions, numbers, booleans...
  if (Array.isArray(target)) {
    if (name === 'length') return target.length;
    const index = Number(key);
    if (!Number.isInteger(index) || String(index) !== name) return undefined;
    return ownDataValue(target, String(index < 0 ? target.length + index : index));
  }
  return ownDataValue(target, name);
}

function ownDataValue(target: object, name: string): unknown {
  const descriptor = Object.getOwnPropertyDescriptor(target, name);
  return descriptor && 'value' in descriptor ? descriptor.value : undefined;
}

/** See the module comment for the rules. Roots are computed lazily: most expressions touch one. */
function createScope(context: unknown, source: string): Scope {
  const roots = resolveRoots(context);
  return {
    source,
    resolveName(name) {
      switch (name) {
        case 'environment':
          return roots.environment();
        case 'content':
        case 'properties':
        case 'fields':
          return typeof context === 'object' && context !== null ? ownDataValue(context, name) : undefined;
        case 'variables':
          return roots.variables();
        default:
          return readProperty(roots.variables(), name);
      }
    },
  };
}

interface Roots {
  /** A null-prototype view of the environment: `variables`, `services`, `output`, `settings` only. */
  environment(): Record<string, unknown> | undefined;
  variables(): unknown;
}

function resolveRoots(context: unknown): Roots {
  let environmentView: Record<string, unknown> | undefined | null = null;
  const environment = (): Record<string, unknown> | undefined => {
    if (environmentView !== null) return environmentView;
    const live = typeof context === 'object' && context !== null ? ownDataValue(context, 'environment') : undefined;
    if (typeof live !== 'object' || live === null) return (environmentView = undefined);
    // bpmn-elements' Environment keeps `variables` and `services` behind prototype getters,
    // so these four names are read the ordinary way, from the server's own object; the
    // view hides everything else (`constructor`, `scripts`, `expressions`...).
    const source = live as Record<string, unknown>;
    const view: Record<string, unknown> = Object.create(null);
    view.variables = source.variables;
    view.services = source.services;
    view.output = source.output;
    view.settings = source.settings;
    return (environmentView = view);
  };
  return {
    environment,
    variables() {
      const view = environment();
      if (view && view.variables !== undefined) return view.variables;
      return typeof context === 'object' && context !== null ? ownDataValue(context, 'variables') : undefined;
    },
  };
}

function evaluateAst(node: ExpressionNode, scope: Scope): unknown {
  switch (node.type) {
    case 'literal':
      return node.value;
    case 'name':
      return scope.resolveName(node.name);
    case 'member':
      return readProperty(evaluateAst(node.object, scope), node.property);
    case 'index':
      return readProperty(evaluateAst(node.object, scope), evaluateAst(node.index, scope));
    case 'unary': {
      const value = evaluateAst(node.operand, scope);
      if (node.operator === '!') return !toBoolean(value);
      if (node.operator === 'empty') return isEmpty(value);
      return -toNumber(value, scope);
    }
    case 'logical': {
      // JUEL: short-circuit, and the result is always a boolean.
      const left = toBoolean(evaluateAst(node.left, scope));
      if (node.operator === '&&') return left && toBoolean(evaluateAst(node.right, scope));
      return left || toBoolean(evaluateAst(node.right, scope));
    }
    case 'conditional':
      return toBoolean(evaluateAst(node.test, scope)) ? evaluateAst(node.consequent, scope) : evaluateAst(node.alternate, scope);
    case 'binary':
      return applyBinary(node.operator, evaluateAst(node.left, scope), evaluateAst(node.right, scope), scope);
  }
}

function applyBinary(operator: BinaryOperator, left: unknown, right: unknown, scope: Scope): unknown {
  switch (operator) {
    case '==':
      return looselyEqual(left, right);
    case '!=':
      return !looselyEqual(left, right);
    case '<': {
      const order = compare(left, right);
      return order !== undefined && order < 0;
    }
    case '<=': {
      const order = compare(left, right);
      return order !== undefined && order <= 0;
    }
    case '>': {
      const order = compare(left, right);
      return order !== undefined && order > 0;
    }
    case '>=': {
      const order = compare(left, right);
      return order !== undefined && order >= 0;
    }
    case '+':
      // Not JUEL (which only adds numbers), but what `${"Hello " + name}` writers expect.
      if (typeof left === 'string' || typeof right === 'string') return interpolate(left) + interpolate(right);
      return toNumber(left, scope) + toNumber(right, scope);
    case '-':
      return toNumber(left, scope) - toNumber(right, scope);
    case '*':
      return toNumber(left, scope) * toNumber(right, scope);
    case '/':
      return toNumber(left, scope) / toNumber(right, scope);
    case '%':
      return toNumber(left, scope) % toNumber(right, scope);
  }
}

/**
 * JUEL-ish boolean coercion: null/undefined are false, the strings "true"/"false" mean
 * what they say (form values arrive as strings) and other strings are false, numbers
 * are true unless 0/NaN, any object is true.
 */
function toBoolean(value: unknown): boolean {
  if (value === null || value === undefined) return false;
  if (typeof value === 'boolean') return value;
  if (typeof value === 'string') return value.trim().toLowerCase() === 'true';
  if (typeof value === 'number') return value !== 0 && !Number.isNaN(value);
  return true;
}

/** JUEL: null/undefined count as 0; numeric strings are numbers; anything else is an error. */
function toNumber(value: unknown, scope: Scope): number {
  if (typeof value === 'number') return value;
  if (value === null || value === undefined) return 0;
  if (typeof value === 'string') {
    const trimmed = value.trim();
    const parsed = Number(trimmed);
    if (trimmed !== '' && !Number.isNaN(parsed)) return parsed;
  }
  throw new ExpressionError('EXPRESSION_FAILED', scope.source, `cannot use ${describeValue(value)} as a number`);
}

function numericString(value: string): number | undefined {
  const trimmed = value.trim();
  const parsed = Number(trimmed);
  return trimmed !== '' && !Number.isNaN(parsed) ? parsed : undefined;
}

/**
 * `==`: null and undefined equal each other and nothing else; a number equals a numeric
 * string with the same value; a boolean equals "true"/"false"; dates compare by time;
 * other objects by identity. Mismatched types are simply unequal (JUEL would throw).
 */
function looselyEqual(left: unknown, right: unknown): boolean {
  const leftNil = left === null || left === undefined;
  const rightNil = right === null || right === undefined;
  if (leftNil || rightNil) return leftNil && rightNil;
  if (typeof left === typeof right) {
    if (left instanceof Date && right instanceof Date) return left.getTime() === right.getTime();
    return left === right;
  }
  if (typeof left === 'number' && typeof right === 'string') return numericString(right) === left;
  if (typeof left === 'string' && typeof right === 'number') return numericString(left) === right;
  if (typeof left === 'boolean' && typeof right === 'string') return right.trim().toLowerCase() === String(left);
  if (typeof left === 'string' && typeof right === 'boolean') return left.trim().toLowerCase() === String(right);
  return false;
}

/**
 * Ordering for `< <= > >=`: numbers (and numeric strings against numbers), strings by
 * code unit, dates by time. Anything else, null/undefined included, is unordered, and
 * every comparison with it is false (JUEL: "if A or B is null, return false").
 */
function compare(left: unknown, right: unknown): number | undefined {
  if (left === null || left === undefined || right === null || right === undefined) return undefined;
  const a = typeof left === 'string' && typeof right === 'number' ? numericString(left) : left;
  const b = typeof right === 'string' && typeof left === 'number' ? numericString(right) : right;
  if (typeof a === 'number' && typeof b === 'number') return Number.isNaN(a - b) ? undefined : a - b;
  if (typeof a === 'string' && typeof b === 'string') return a < b ? -1 : a > b ? 1 : 0;
  if (a instanceof Date && b instanceof Date) return a.getTime() - b.getTime();
  return undefined;
}

/** JUEL `empty`: null/undefined, '', an empty array, Map or Set, or an object with no own keys. */
function isEmpty(value: unknown): boolean {
  if (value === null || value === undefined) return true;
  if (typeof value === 'string' || Array.isArray(value)) return value.length === 0;
  if (value instanceof Map || value instanceof Set) return value.size === 0;
  if (typeof value === 'object') return Object.keys(value).length === 0;
  return false;
}

/** Text for `${...}` inside a template, and for string `+`: null/undefined become ''. */
function interpolate(value: unknown): string {
  if (value === null || value === undefined) return '';
  if (typeof value === 'string') return value;
  if (typeof value === 'number' || typeof value === 'boolean' || typeof value === 'bigint') return String(value);
  if (value instanceof Date) return Number.isNaN(value.getTime()) ? '' : value.toISOString();
  if (typeof value === 'object') {
    try {
      return JSON.stringify(value) ?? '';
    } catch {
      return ''; // cyclic: better an empty part than a failed step
    }
  }
  return ''; // functions and symbols: never their source text
}

function describeValue(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(abbreviate(value));
  if (Array.isArray(value)) return 'a list';
  if (typeof value === 'object') return value === null ? 'null' : 'an object';
  return `${typeof value} ${typeof value === 'function' || typeof value === 'symbol' ? '' : String(value)}`.trim();
}

// ---------------------------------------------------------------------------------------
// FEEL (text starting with "=")
// ---------------------------------------------------------------------------------------

const MAX_FEEL_COPY_DEPTH = 32;

function compileFeel(text: string): CompiledExpression {
  const offset = text.indexOf('=') + 1;
  const feelSource = text.slice(offset);
  if (feelSource.trim() === '') throw new ExpressionError('EXPRESSION_INVALID', text, 'empty FEEL expression', offset);
  // feelin's parser recovers from errors and leaves error nodes in the tree: find the first.
  let errorAt: number | undefined;
  parseFeelExpression(feelSource, {}, undefined).iterate({
    enter(node) {
      if (errorAt !== undefined) return false;
      if (node.type.isError) {
        errorAt = node.from;
        return false;
      }
      return undefined;
    },
  });
  if (errorAt !== undefined) throw new ExpressionError('EXPRESSION_INVALID', text, 'FEEL syntax error', offset + errorAt);
  return {
    source: text,
    kind: 'feel',
    evaluate(context) {
      try {
        return evaluateFeel(feelSource, buildFeelContext(context, feelSource)).value;
      } catch (err) {
        if (err instanceof FeelSyntaxError) {
          throw new ExpressionError('EXPRESSION_INVALID', text, err.message, offset + err.position.from, err);
        }
        throw new ExpressionError('EXPRESSION_FAILED', text, err instanceof Error ? err.message : String(err), undefined, err);
      }
    },
  };
}

/**
 * FEEL sees plain data only: variables spread at the top (then the reserved roots, which
 * win as in `${...}`), copied without functions (feelin would call them), without class
 * instances (feelin exposes prototype getters) and without prototype keys.
 */
function buildFeelContext(context: unknown, feelSource: string): Record<string, unknown> {
  const roots = resolveRoots(context);
  const variables = toFeelData(roots.variables(), 0, new WeakSet());
  const feelContext: Record<string, unknown> = {};
  if (isPlainRecord(variables)) Object.assign(feelContext, variables);
  // After the variables: a variable cannot put feelin's backtracking RegExp back.
  Object.assign(feelContext, LINEAR_REGEX_BUILTINS);
  feelContext.variables = variables;
  // Copy the other roots only when the text mentions them: content may be large.
  if (feelSource.includes('environment')) {
    const view = roots.environment();
    feelContext.environment = view && {
      variables,
      output: toFeelData(view.output, 0, new WeakSet()),
      settings: toFeelData(view.settings, 0, new WeakSet()),
    };
  }
  for (const name of ['content', 'properties', 'fields']) {
    if (!feelSource.includes(name)) continue;
    const value = typeof context === 'object' && context !== null ? ownDataValue(context, name) : undefined;
    feelContext[name] = toFeelData(value, 0, new WeakSet());
  }
  return feelContext;
}

function isPlainRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value) && !(value instanceof Date);
}

function toFeelData(value: unknown, depth: number, seen: WeakSet<object>): unknown {
  if (value === null || value === undefined) return null;
  switch (typeof value) {
    case 'string':
    case 'number':
    case 'boolean':
      return value;
    case 'bigint':
      return Number(value);
    case 'object':
      break;
    default:
      return undefined; // functions and symbols are dropped
  }
  if (depth >= MAX_FEEL_COPY_DEPTH || seen.has(value)) return null;
  if (value instanceof Date) return new Date(value.getTime());
  seen.add(value);
  try {
    if (Array.isArray(value)) {
      return value.map((item) => {
        const copy = toFeelData(item, depth + 1, seen);
        return copy === undefined ? null : copy;
      });
    }
    const copy: Record<string, unknown> = {};
    for (const key of Object.keys(value)) {
      if (FORBIDDEN_KEYS.has(key)) continue;
      const item = toFeelData(ownDataValue(value, key), depth + 1, seen);
      if (item !== undefined) copy[key] = item;
    }
    return copy;
  } finally {
    seen.delete(value); // a shared (non-cyclic) sub-object may appear twice
  }
}

// ---------------------------------------------------------------------------------------
// Scripts: off. bpmn-engine's default runs JavaScript in node:vm, which is no sandbox.
// ---------------------------------------------------------------------------------------

export const SCRIPTS_DISABLED_MESSAGE = 'script tasks are disabled; start the server with --allow-scripts';

type ScriptCallback = (err: Error | null, result?: unknown) => void;

/** bpmn-elements' `Script`, with what we add: the element id and the language. */
export interface ScriptHandle extends Script {
  readonly id: string;
  readonly language: string | undefined;
  /** bpmn-elements passes an ExecutionScope and a node-style `(err, result)` callback. */
  execute(executionScope: unknown, callback: CallableFunction): void;
}

/**
 * bpmn-elements' `IScripts` (bpmn-engine's `scripts` option). Its typings say
 * `getScript` always returns a Script, but every caller handles `undefined` (a flow
 * without a script language, an unsupported script format), and so do we.
 */
export interface DisabledScripts extends IScripts {
  register(element: unknown): ScriptHandle | undefined;
  getScript(language: string | undefined, element: unknown): ScriptHandle;
}

/** Languages of sequence-flow / conditional-event bodies that are expressions, not scripts. */
const FEEL_LANGUAGE = /^(feel|.*\/FEEL\/.*)$/i;
const JUEL_LANGUAGE = /^(juel|expression)$/i;

/** Condition languages evaluated by the safe evaluators (FEEL, JUEL-style `${…}`), never as code. */
export function safeConditionLanguage(language: string): 'feel' | 'juel' | null {
  if (FEEL_LANGUAGE.test(language)) return 'feel';
  if (JUEL_LANGUAGE.test(language)) return 'juel';
  return null;
}

/**
 * The `scripts` option: nothing is registered or stored, and every script (script task,
 * `language="javascript"` flow condition, conditional event script) fails with
 * SCRIPTS_DISABLED when it runs, so a diagram never silently skips one. A flow condition
 * whose language is FEEL or JUEL is evaluated safely instead.
 *
 * bpmn-elements calls `getScript(language, flow)` for EVERY conditional flow, so a flow
 * without `language` must get `undefined` (its body is then a plain expression); and
 * conditional events use `register()`'s return value directly, so it returns the handle.
 */
export function createDisabledScripts(): DisabledScripts {
  return {
    register(element) {
      const { type, behaviour } = describeElement(element);
      if (type === 'bpmn:SequenceFlow') return undefined; // getScript() decides when the flow is taken
      const language = stringField(behaviour, 'scriptFormat');
      return scriptFor(element, language, stringField(behaviour, 'script'));
    },
    getScript(language, element) {
      const { behaviour } = describeElement(element);
      const condition = behaviour?.conditionExpression;
      // See DisabledScripts: undefined is a legitimate answer despite the typings.
      return scriptFor(element, language, stringField(condition, 'body')) as ScriptHandle;
    },
  };
}

function scriptFor(element: unknown, language: string | undefined, body: string | undefined): ScriptHandle | undefined {
  const { id, type } = describeElement(element);
  const isFlow = type === 'bpmn:SequenceFlow';
  const isCondition = isFlow || type === 'bpmn:ConditionalEventDefinition';
  if (isFlow && !language) return undefined;
  if (isCondition && language && body !== undefined) {
    if (FEEL_LANGUAGE.test(language)) return expressionScript(id, language, isFeelText(body) ? body : `=${body}`);
    if (JUEL_LANGUAGE.test(language)) return expressionScript(id, language, body);
  }
  return {
    id,
    language,
    execute(_scope: unknown, callback?: CallableFunction) {
      const error = new AppError('SCRIPTS_DISABLED', SCRIPTS_DISABLED_MESSAGE, {
        details: { elementId: id, elementType: type, language },
      });
      if (!callback) throw error;
      (callback as ScriptCallback)(error);
    },
  };
}

function expressionScript(id: string, language: string, body: string): ScriptHandle {
  return {
    id,
    language,
    execute(executionScope: unknown, callback?: CallableFunction) {
      const done = callback as ScriptCallback | undefined;
      let result: unknown;
      try {
        result = evaluateExpression(body, executionScope);
      } catch (err) {
        if (!done) throw err;
        done(err instanceof Error ? err : new Error(String(err)));
        return;
      }
      // bpmn-elements always passes a callback; without one there is nowhere to report.
      done?.(null, result);
    },
  };
}

function describeElement(element: unknown): { id: string; type: string | undefined; behaviour: Record<string, unknown> | undefined } {
  const record = typeof element === 'object' && element !== null ? (element as Record<string, unknown>) : {};
  const behaviour = record.behaviour;
  return {
    id: typeof record.id === 'string' ? record.id : '(unknown)',
    type: typeof record.type === 'string' ? record.type : undefined,
    behaviour: typeof behaviour === 'object' && behaviour !== null ? (behaviour as Record<string, unknown>) : undefined,
  };
}

function stringField(record: unknown, name: string): string | undefined {
  if (typeof record !== 'object' || record === null) return undefined;
  const value = (record as Record<string, unknown>)[name];
  return typeof value === 'string' ? value : undefined;
}

/**
 * The plain, function-free data FEEL sees for these variables, built exactly as for a
 * diagram's `=` expression (decision tables evaluate their FEEL over it).
 */
export function feelDataOf(variables: Record<string, unknown>): Record<string, unknown> {
  return buildFeelContext({ variables }, '');
}
