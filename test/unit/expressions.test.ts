import { EventEmitter } from 'node:events';
import { Engine } from 'bpmn-engine';
import {
  compileExpression,
  createDisabledScripts,
  createSafeExpressions,
  evaluateExpression,
  ExpressionError,
  SCRIPTS_DISABLED_MESSAGE,
  validateExpressionSyntax,
} from '../../src/engine/expressions.js';

/** The context shape bpmn-elements builds: `{ environment, ...message }`. */
function contextWith(variables: Record<string, unknown>, extra: Record<string, unknown> = {}) {
  return { environment: { variables, services: {}, output: {}, settings: {} }, ...extra };
}

const expressions = createSafeExpressions();
const resolve = (text: string, variables: Record<string, unknown> = {}, extra: Record<string, unknown> = {}) =>
  expressions.resolveExpression(text, contextWith(variables, extra));

function expressionError(fn: () => unknown): ExpressionError {
  try {
    fn();
  } catch (err) {
    if (err instanceof ExpressionError) return err;
    throw err;
  }
  throw new Error('expected an ExpressionError');
}

// Security tests set this flag from attacker text; it must stay unset.
type Pwnable = { __regenflowPwned?: unknown };
const pwned = () => (globalThis as Pwnable).__regenflowPwned;

afterEach(() => {
  delete (globalThis as Pwnable).__regenflowPwned;
});

describe('safe expressions: literals', () => {
  it('when an expression is a number, string, boolean or null literal, then its value is returned raw', () => {
    expect(resolve('${42}')).toBe(42);
    expect(resolve('${3.5}')).toBe(3.5);
    expect(resolve('${1e3}')).toBe(1000);
    expect(resolve('${"double"}')).toBe('double');
    expect(resolve("${'single'}")).toBe('single');
    expect(resolve("${'it\\'s'}")).toBe("it's");
    expect(resolve('${true}')).toBe(true);
    expect(resolve('${false}')).toBe(false);
    expect(resolve('${null}')).toBeNull();
  });

  it('when a text has no expression, then it is returned unchanged', () => {
    expect(resolve('Approve order')).toBe('Approve order');
    expect(resolve('PT5M')).toBe('PT5M');
    expect(expressions.resolveExpression(undefined as unknown as string, {})).toBeUndefined();
  });

  it('when a string literal contains a closing brace, then it does not end the expression', () => {
    expect(resolve('${"a}b"}')).toBe('a}b');
  });
});

describe('safe expressions: paths and name resolution', () => {
  const variables = { score: 85, order: { lines: [{ sku: 'A1' }, { sku: 'B2' }], 'odd key': 7 }, list: [10, 20, 30] };

  it('when a bare name is used, then it resolves to the process variable', () => {
    expect(resolve('${score}', variables)).toBe(85);
  });

  it('when a dotted, bracketed or indexed path is used, then own properties are walked', () => {
    expect(resolve('${order.lines[1].sku}', variables)).toBe('B2');
    expect(resolve('${order["odd key"]}', variables)).toBe(7);
    expect(resolve("${order['lines'][0]['sku']}", variables)).toBe('A1');
    expect(resolve('${list[0]}', variables)).toBe(10);
    expect(resolve('${list[1 + 1]}', variables)).toBe(30);
    expect(resolve('${list.length}', variables)).toBe(3);
  });

  it('when an array index is negative, then it counts from the end (as bpmn-elements does)', () => {
    expect(resolve('${list[-1]}', variables)).toBe(30);
    expect(resolve('${list[-4]}', variables)).toBeUndefined();
  });

  it('when the bpmn-engine dialect is used, then environment, content, properties and fields resolve', () => {
    const extra = { content: { output: { x: 3 } }, properties: { type: 'flow' }, fields: { routingKey: 'run.end' } };
    expect(resolve('${environment.variables.score}', variables, extra)).toBe(85);
    expect(resolve('${content.output.x}', variables, extra)).toBe(3);
    expect(resolve('${properties.type}', variables, extra)).toBe('flow');
    expect(resolve('${fields.routingKey}', variables, extra)).toBe('run.end');
    expect(resolve('${variables.score}', variables, extra)).toBe(85);
  });

  it('when a variable is named like a reserved root, then the root wins and the variable stays reachable through variables', () => {
    const forged = { environment: { variables: { approved: true } }, approved: false };
    expect(resolve('${environment.variables.approved}', forged)).toBe(false);
    expect(resolve('${variables.environment.variables.approved}', forged)).toBe(true);
  });

  it('when environment.services holds a function, then the function value is returned (not called)', () => {
    let calls = 0;
    const myFn = () => {
      calls++;
    };
    const context = { environment: { variables: {}, services: { myFn } } };
    expect(expressions.resolveExpression('${environment.services.myFn}', context)).toBe(myFn);
    expect(calls).toBe(0);
  });

  it('when the environment is a real bpmn-elements Environment (prototype getters), then variables and services still resolve', async () => {
    const { Environment } = await import('bpmn-elements');
    const myFn = () => undefined;
    const environment = new Environment({ variables: { score: 12 }, services: { myFn } });
    expect(expressions.resolveExpression('${environment.variables.score}', { environment })).toBe(12);
    expect(expressions.resolveExpression('${score}', { environment })).toBe(12);
    expect(expressions.resolveExpression('${environment.services.myFn}', { environment })).toBe(myFn);
  });

  it('when no environment is given, then context.variables are the process variables', () => {
    expect(evaluateExpression('${a + 1}', { variables: { a: 1 } })).toBe(2);
  });

  it('when a name or path does not exist, then it is undefined and never throws', () => {
    expect(resolve('${missing}')).toBeUndefined();
    expect(resolve('${missing.deeper.still}')).toBeUndefined();
    expect(resolve('${score.digits}', { score: 5 })).toBeUndefined();
    expect(expressions.resolveExpression('${x}', undefined)).toBeUndefined();
  });

  it('when a keyword is used after a dot, then it is a property name', () => {
    expect(resolve('${a.empty}', { a: { empty: 'no' } })).toBe('no');
  });
});

describe('safe expressions: operators and precedence', () => {
  it('when arithmetic is used, then * / % bind tighter than + -, and unary minus works', () => {
    expect(resolve('${1 + 2 * 3}')).toBe(7);
    expect(resolve('${(1 + 2) * 3}')).toBe(9);
    expect(resolve('${10 - 4 - 3}')).toBe(3);
    expect(resolve('${7 % 4}')).toBe(3);
    expect(resolve('${9 / 2}')).toBe(4.5);
    expect(resolve('${-2 - -3}')).toBe(1);
    expect(resolve('${-a}', { a: 4 })).toBe(-4);
  });

  it('when comparisons are used, then they return booleans', () => {
    expect(resolve('${a == 1}', { a: 1 })).toBe(true);
    expect(resolve('${a != 1}', { a: 1 })).toBe(false);
    expect(resolve('${a < 2 && a <= 1 && a > 0 && a >= 1}', { a: 1 })).toBe(true);
    expect(resolve('${"abc" < "abd"}')).toBe(true);
  });

  it('when boolean operators are combined, then && binds tighter than || and ! binds tightest', () => {
    expect(resolve('${true || false && false}')).toBe(true);
    expect(resolve('${!true || true}')).toBe(true);
    expect(resolve('${!(true || true)}')).toBe(false);
    expect(resolve('${1 + 1 == 2 && 3 > 2}')).toBe(true);
  });

  it('when the JUEL word operators are used, then they mean the same as the symbols', () => {
    const v = { a: 5 };
    expect(resolve('${a eq 5 and a ne 6}', v)).toBe(true);
    expect(resolve('${a lt 6 and a le 5 and a gt 4 and a ge 5}', v)).toBe(true);
    expect(resolve('${not (a gt 5) or false}', v)).toBe(true);
    expect(resolve('${a div 2}', v)).toBe(2.5);
    expect(resolve('${a mod 2}', v)).toBe(1);
  });

  it('when a ternary is used, then it picks a branch, and nested ternaries associate to the right', () => {
    expect(resolve('${score >= 80 ? "high" : "low"}', { score: 90 })).toBe('high');
    expect(resolve('${score >= 80 ? "high" : score >= 50 ? "mid" : "low"}', { score: 60 })).toBe('mid');
    expect(resolve('${score >= 80 ? "high" : score >= 50 ? "mid" : "low"}', { score: 10 })).toBe('low');
  });

  it('when && or || short-circuit, then the skipped side is not evaluated (no error from it)', () => {
    expect(resolve('${false && ("x" * 2 > 1)}')).toBe(false);
    expect(resolve('${true || ("x" * 2 > 1)}')).toBe(true);
  });

  it('when "empty" is used, then null, undefined, "", [] and {} are empty', () => {
    expect(resolve('${empty missing}')).toBe(true);
    expect(resolve('${empty n}', { n: null })).toBe(true);
    expect(resolve('${empty s}', { s: '' })).toBe(true);
    expect(resolve('${empty l}', { l: [] })).toBe(true);
    expect(resolve('${empty o}', { o: {} })).toBe(true);
    expect(resolve('${empty s}', { s: 'x' })).toBe(false);
    expect(resolve('${not empty l}', { l: [1] })).toBe(true);
    expect(resolve('${empty zero}', { zero: 0 })).toBe(false);
  });

  it('when "+" has a string operand, then it concatenates (null/undefined as "")', () => {
    expect(resolve('${"Hello " + name}', { name: 'Ann' })).toBe('Hello Ann');
    expect(resolve('${"n=" + missing}')).toBe('n=');
  });
});

describe('safe expressions: missing variables and coercions (documented defaults)', () => {
  // JUEL-ish: comparisons with null/undefined are false (== null is true), arithmetic
  // treats them as 0, boolean operators treat them as false.
  it('when a variable is missing, then ordering comparisons are false and == null is true', () => {
    expect(resolve('${missing > 5}')).toBe(false);
    expect(resolve('${missing < 5}')).toBe(false);
    expect(resolve('${missing >= 0}')).toBe(false);
    expect(resolve('${missing == 5}')).toBe(false);
    expect(resolve('${missing != 5}')).toBe(true);
    expect(resolve('${missing == null}')).toBe(true);
    expect(resolve('${missing && true}')).toBe(false);
    expect(resolve('${!missing}')).toBe(true);
  });

  it('when a missing variable is used in arithmetic, then it counts as 0', () => {
    expect(resolve('${count + 1}')).toBe(1);
  });

  it('when numbers meet numeric strings, then they compare as numbers; "true"/"false" strings act as booleans', () => {
    expect(resolve('${a == 80}', { a: '80' })).toBe(true);
    expect(resolve('${a >= 80}', { a: '90' })).toBe(true);
    expect(resolve('${a * 2}', { a: '4' })).toBe(8);
    expect(resolve('${a == true}', { a: 'true' })).toBe(true);
    expect(resolve('${a && true}', { a: 'false' })).toBe(false);
    expect(resolve('${a == "x"}', { a: 1 })).toBe(false);
  });

  it('when arithmetic meets a non-numeric value, then it fails with EXPRESSION_FAILED', () => {
    const err = expressionError(() => resolve('${a * 2}', { a: 'abc' }));
    expect(err.code).toBe('EXPRESSION_FAILED');
    expect(err.message).toContain('${a * 2}');
  });
});

describe('safe expressions: templates', () => {
  it('when text embeds expressions, then they are interpolated as a string', () => {
    expect(resolve('Hello ${name}, you scored ${score}!', { name: 'Ann', score: 9 })).toBe('Hello Ann, you scored 9!');
    expect(resolve('order-${id}', { id: 7 })).toBe('order-7');
  });

  it('when an interpolated value is undefined or null, then it becomes an empty string', () => {
    expect(resolve('[${missing}]')).toBe('[]');
    expect(resolve('[${n}]', { n: null })).toBe('[]');
  });

  it('when an interpolated value is an object, then it is rendered as JSON', () => {
    expect(resolve('data: ${o}', { o: { a: 1 } })).toBe('data: {"a":1}');
  });

  it('when the text is exactly one expression surrounded by whitespace, then the raw value is returned', () => {
    expect(resolve('\n   ${score > 80}\n  ', { score: 10 })).toBe(false);
    const list = [1];
    expect(resolve('${list}', { list })).toBe(list);
  });

  it('when isExpression and hasExpression are asked, then they tell whole expressions from embedded ones', () => {
    expect(expressions.isExpression('${a}')).toBe(true);
    expect(expressions.isExpression('=a + 1')).toBe(true);
    expect(expressions.isExpression('x ${a}')).toBe(false);
    expect(expressions.isExpression('plain')).toBe(false);
    expect(expressions.isExpression(undefined)).toBe(false);
    expect(expressions.hasExpression('x ${a}')).toBe(true);
    expect(expressions.hasExpression('=a')).toBe(true);
    expect(expressions.hasExpression('plain')).toBe(false);
    expect(expressions.hasExpression(42)).toBe(false);
  });
});

describe('safe expressions: FEEL', () => {
  it('when the text starts with "=", then it is evaluated as FEEL over the process variables', () => {
    expect(resolve('=score >= 80', { score: 85 })).toBe(true);
    expect(resolve('=score >= 80', { score: 50 })).toBe(false);
    expect(resolve('= if score > 50 then "pass" else "fail"', { score: 51 })).toBe('pass');
    expect(resolve('=sum(items)', { items: [1, 2, 3] })).toBe(6);
  });

  it('when FEEL reads the bpmn-engine roots, then environment, content and variables are available', () => {
    expect(resolve('=environment.variables.score + 1', { score: 1 })).toBe(2);
    expect(resolve('=content.output.x * 2', {}, { content: { output: { x: 4 } } })).toBe(8);
    expect(resolve('=variables.score', { score: 3 })).toBe(3);
  });

  it('when a FEEL variable is missing, then the result is null (falsy)', () => {
    expect(resolve('=missing > 5')).toBeNull();
  });

  it('when FEEL text does not parse, then it is an EXPRESSION_INVALID error with a position', () => {
    const err = expressionError(() => resolve('=score >='));
    expect(err.code).toBe('EXPRESSION_INVALID');
    expect(err.position).toBeGreaterThan(0);
    expect(validateExpressionSyntax('=score >=')).toMatch(/invalid expression/);
    expect(validateExpressionSyntax('=score >= 80')).toBeNull();
  });
});

describe('safe expressions: syntax errors, validation and caching', () => {
  it('when an expression does not parse, then an ExpressionError names the text and position', () => {
    const err = expressionError(() => resolve('${a +}'));
    expect(err).toBeInstanceOf(Error);
    expect(err.code).toBe('EXPRESSION_INVALID');
    expect(err.position).toBe(5);
    expect(err.message).toBe('invalid expression "${a +}" at position 5: unexpected end of expression');
  });

  it('when common mistakes are made, then the messages say what is wrong', () => {
    expect(validateExpressionSyntax('${a = 1}')).toMatch(/use "==" \(or "eq"\)/);
    expect(validateExpressionSyntax('${a & b}')).toMatch(/use "&&"/);
    expect(validateExpressionSyntax('${"open}')).toMatch(/unterminated string/);
    expect(validateExpressionSyntax('text ${a')).toMatch(/missing "}"/);
    expect(validateExpressionSyntax('${}')).toMatch(/empty expression/);
    expect(validateExpressionSyntax('${a b}')).toMatch(/unexpected "b"/);
    expect(validateExpressionSyntax('${a..b}')).toMatch(/property name/);
    expect(validateExpressionSyntax('${(a}')).toMatch(/expected "\)"/);
    expect(validateExpressionSyntax('${and}')).toMatch(/unexpected keyword/);
  });

  it('when every expression in a diagram is valid, then validateExpressionSyntax returns null', () => {
    for (const text of ['plain', '${a}', 'x ${a.b[0]} y ${c ? 1 : 2}', '=a > 1']) {
      expect(validateExpressionSyntax(text)).toBeNull();
    }
  });

  it('when nesting or length is absurd, then parsing refuses instead of overflowing the stack', () => {
    expect(validateExpressionSyntax('${' + '('.repeat(500) + '1' + ')'.repeat(500) + '}')).toMatch(/nested deeper/);
    expect(validateExpressionSyntax('${' + Array(5000).fill('1').join('+') + '}')).toMatch(/more than 2000 tokens/);
  });

  it('when the same text is compiled twice, then the cached compilation is reused (errors too)', () => {
    expect(compileExpression('${cached + 1}')).toBe(compileExpression('${cached + 1}'));
    const first = expressionError(() => compileExpression('${cached +}'));
    expect(expressionError(() => compileExpression('${cached +}'))).toBe(first);
  });

  it('when the cache is full, then old entries are evicted and results stay correct', () => {
    for (let i = 0; i < 1500; i++) expect(evaluateExpression(`\${${i} + 1}`, {})).toBe(i + 1);
    expect(evaluateExpression('${0 + 1}', {})).toBe(1);
  });
});

describe('safe expressions: security', () => {
  it('when an expression tries to call Function via constructor.constructor, then it is a parse error and nothing runs', () => {
    const err = expressionError(() =>
      resolve("${environment.constructor.constructor('globalThis.__regenflowPwned = true; return process')()}"),
    );
    expect(err.code).toBe('EXPRESSION_INVALID');
    expect(err.message).toContain('calls are not allowed');
    expect(validateExpressionSyntax("${environment.constructor.constructor('return process')()}")).toMatch(/calls are not allowed/);
    expect(pwned()).toBeUndefined();
  });

  it('when an expression reads constructor, __proto__ or prototype, then it gets undefined', () => {
    expect(resolve('${environment.constructor}')).toBeUndefined();
    expect(resolve('${environment.constructor.constructor}')).toBeUndefined();
    expect(resolve('${constructor}')).toBeUndefined();
    expect(resolve('${constructor.prototype}')).toBeUndefined();
    expect(resolve('${a.__proto__}', { a: {} })).toBeUndefined();
    expect(resolve('${a.__proto__.polluted}', { a: {} })).toBeUndefined();
    expect(resolve('${a["__proto__"]}', { a: {} })).toBeUndefined();
    expect(resolve('${a["con" + "structor"]}', { a: {} })).toBeUndefined();
    expect(resolve('${list.constructor}', { list: [] })).toBeUndefined();
    expect(resolve('${s.constructor}', { s: 'x' })).toBeUndefined();
    expect(resolve('${a.hasOwnProperty}', { a: {} })).toBeUndefined();
    expect(resolve('${a.toString}', { a: {} })).toBeUndefined();
  });

  it('when a path reaches a function, then its properties are not walked', () => {
    const services = { fn: Object.assign(() => undefined, { secret: 1 }) };
    const context = { environment: { variables: {}, services } };
    expect(expressions.resolveExpression('${environment.services.fn.secret}', context)).toBeUndefined();
    expect(expressions.resolveExpression('${environment.services.fn.call}', context)).toBeUndefined();
    expect(expressions.resolveExpression('${environment.services.fn.prototype}', context)).toBeUndefined();
  });

  it('when the environment view is walked, then only variables, services, output and settings are visible', () => {
    const context = { environment: { variables: {}, scripts: { danger: true }, expressions: {}, options: {} } };
    expect(expressions.resolveExpression('${environment.scripts}', context)).toBeUndefined();
    expect(expressions.resolveExpression('${environment.options}', context)).toBeUndefined();
  });

  it('when an object has a getter, then expressions never invoke it', () => {
    const obj = {
      get secret() {
        (globalThis as Pwnable).__regenflowPwned = true;
        return 'leaked';
      },
    };
    expect(resolve('${obj.secret}', { obj })).toBeUndefined();
    expect(pwned()).toBeUndefined();
  });

  it('when variables come from JSON with a "__proto__" key, then nothing is polluted and the key is unreadable', () => {
    const variables = JSON.parse('{"__proto__": {"polluted": 1}, "a": {"__proto__": {"polluted": 2}}}') as Record<string, unknown>;
    expect(resolve('${__proto__.polluted}', variables)).toBeUndefined();
    expect(resolve('${a.__proto__.polluted}', variables)).toBeUndefined();
    expect(resolve('${variables.__proto__}', variables)).toBeUndefined();
    expect(resolve('=a.polluted', variables)).toBeNull();
    expect(resolve('=polluted', variables)).toBeNull();
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });

  it('when FEEL is given functions, getters or prototype paths, then it cannot call or reach them', () => {
    let calls = 0;
    const fn = () => {
      calls++;
      (globalThis as Pwnable).__regenflowPwned = true;
      return 1;
    };
    class Holder {
      get secret(): string {
        (globalThis as Pwnable).__regenflowPwned = true;
        return 'leaked';
      }
    }
    const context = {
      environment: { variables: { fn, holder: new Holder(), o: {} }, services: { fn } },
    };
    expect(expressions.resolveExpression('=fn(1)', context)).toBeNull();
    expect(expressions.resolveExpression('=environment.services.fn(1)', context)).toBeNull();
    expect(expressions.resolveExpression('=holder.secret', context)).toBeNull();
    expect(expressions.resolveExpression('=o.constructor', context)).toBeNull();
    expect(expressions.resolveExpression('=o.__proto__', context)).toBeNull();
    expect(calls).toBe(0);
    expect(pwned()).toBeUndefined();
  });

  it('after all the attacks, then Object.prototype is untouched and no flag was set', () => {
    const attempts = [
      '${constructor.prototype.polluted}',
      '${a.__proto__.polluted}',
      '${environment.constructor.prototype}',
      '${variables.constructor.prototype.polluted}',
      '=__proto__.polluted',
    ];
    for (const text of attempts) {
      try {
        resolve(text, { a: {} });
      } catch {
        // a refusal is fine too; only execution or pollution would fail this test
      }
    }
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    expect(Object.prototype).not.toHaveProperty('polluted');
    expect(pwned()).toBeUndefined();
  });
});

describe('disabled scripts', () => {
  it('when a script task script is requested, then executing it calls back with SCRIPTS_DISABLED', () => {
    const scripts = createDisabledScripts();
    const task = { id: 'task1', type: 'bpmn:ScriptTask', behaviour: { scriptFormat: 'javascript', script: 'next()' } };
    expect(scripts.register(task)).toBeDefined();
    const script = scripts.getScript('javascript', task);
    const calls: unknown[][] = [];
    script!.execute({}, (...args: unknown[]) => calls.push(args));
    expect(calls).toHaveLength(1);
    const [err] = calls[0] as [Error & { code: string }];
    expect(err.code).toBe('SCRIPTS_DISABLED');
    expect(err.message).toBe(SCRIPTS_DISABLED_MESSAGE);
    expect(err.message).toBe('script tasks are disabled; start the server with --allow-scripts');
  });

  it('when a conditional event carries a JavaScript condition, then register() returns a script that refuses to run', () => {
    const scripts = createDisabledScripts();
    const definition = {
      id: 'cond/0',
      type: 'bpmn:ConditionalEventDefinition',
      behaviour: { scriptFormat: 'javascript', script: 'globalThis.__regenflowPwned = true; next(null, true)' },
    };
    const results: unknown[] = [];
    scripts.register(definition)!.execute({}, (err: unknown) => results.push(err));
    expect((results[0] as { code?: string }).code).toBe('SCRIPTS_DISABLED');
    expect(pwned()).toBeUndefined();
  });

  it('when a sequence flow has no condition language, then no script is returned (its body is an expression)', () => {
    const scripts = createDisabledScripts();
    const flow = { id: 'f', type: 'bpmn:SequenceFlow', behaviour: { conditionExpression: { body: '${a}' } } };
    expect(scripts.register(flow)).toBeUndefined();
    expect(scripts.getScript(undefined, flow)).toBeUndefined();
  });

  it('when a sequence flow condition is FEEL or JUEL by language, then it is evaluated safely instead of refused', () => {
    const scripts = createDisabledScripts();
    const feelFlow = { id: 'f', type: 'bpmn:SequenceFlow', behaviour: { conditionExpression: { language: 'feel', body: 'a > 1' } } };
    const juelFlow = { id: 'g', type: 'bpmn:SequenceFlow', behaviour: { conditionExpression: { language: 'juel', body: '${a > 1}' } } };
    const scope = { environment: { variables: { a: 2 } } };
    const results: unknown[] = [];
    scripts.getScript('feel', feelFlow)!.execute(scope, (err: unknown, result: unknown) => results.push(err, result));
    scripts.getScript('juel', juelFlow)!.execute(scope, (err: unknown, result: unknown) => results.push(err, result));
    expect(results).toEqual([null, true, null, true]);
  });
});

// ---------------------------------------------------------------------------------------
// With a real bpmn-engine
// ---------------------------------------------------------------------------------------

const BPMN_HEAD = `<?xml version="1.0" encoding="UTF-8"?>
<definitions xmlns="http://www.omg.org/spec/BPMN/20100524/MODEL"
  xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" id="defs" targetNamespace="http://regenflow.test">`;

const GATEWAY_BPMN = `${BPMN_HEAD}
  <process id="routing" isExecutable="true">
    <startEvent id="start" />
    <sequenceFlow id="toGateway" sourceRef="start" targetRef="gateway" />
    <exclusiveGateway id="gateway" default="toManual" />
    <sequenceFlow id="toHigh" sourceRef="gateway" targetRef="high">
      <conditionExpression xsi:type="tFormalExpression">\${score &gt;= 80 &amp;&amp; region == "eu"}</conditionExpression>
    </sequenceFlow>
    <sequenceFlow id="toLow" sourceRef="gateway" targetRef="low">
      <conditionExpression xsi:type="tFormalExpression">=score &lt; 80</conditionExpression>
    </sequenceFlow>
    <sequenceFlow id="toManual" sourceRef="gateway" targetRef="manual" />
    <endEvent id="high" />
    <endEvent id="low" />
    <endEvent id="manual" />
  </process>
</definitions>`;

function conditionBpmn(condition: string, language?: string): string {
  return `${BPMN_HEAD}
  <process id="evil" isExecutable="true">
    <startEvent id="start" />
    <sequenceFlow id="toGateway" sourceRef="start" targetRef="gateway" />
    <exclusiveGateway id="gateway" default="toSafe" />
    <sequenceFlow id="toEvil" sourceRef="gateway" targetRef="evilEnd">
      <conditionExpression xsi:type="tFormalExpression"${language ? ` language="${language}"` : ''}>${condition}</conditionExpression>
    </sequenceFlow>
    <sequenceFlow id="toSafe" sourceRef="gateway" targetRef="safeEnd" />
    <endEvent id="evilEnd" />
    <endEvent id="safeEnd" />
  </process>
</definitions>`;
}

function serviceBpmn(implementation: string): string {
  return `${BPMN_HEAD}
  <process id="svc" isExecutable="true">
    <startEvent id="start" />
    <sequenceFlow id="f1" sourceRef="start" targetRef="task" />
    <serviceTask id="task" implementation="${implementation}" />
    <sequenceFlow id="f2" sourceRef="task" targetRef="end" />
    <endEvent id="end" />
  </process>
</definitions>`;
}

const SCRIPT_TASK_BPMN = `${BPMN_HEAD}
  <process id="script" isExecutable="true">
    <startEvent id="start" />
    <sequenceFlow id="f1" sourceRef="start" targetRef="task" />
    <scriptTask id="task" scriptFormat="javascript"><script>globalThis.__regenflowPwned = true; next();</script></scriptTask>
    <sequenceFlow id="f2" sourceRef="task" targetRef="end" />
    <endEvent id="end" />
  </process>
</definitions>`;

interface RunResult {
  ended: string[];
  error?: Error & { code?: string; inner?: Error & { code?: string } };
}

/** Runs one instance to its end (or error); `safe` = our expressions and scripts, else bpmn-engine's defaults. */
async function runEngine(source: string, variables: Record<string, unknown>, safe = true): Promise<RunResult> {
  const engine = new Engine({
    name: 'expressions-test',
    source,
    ...(safe && { expressions: createSafeExpressions(), scripts: createDisabledScripts() }),
  });
  const listener = new EventEmitter();
  const ended: string[] = [];
  listener.on('activity.end', (api: { id: string }) => ended.push(api.id));
  return new Promise<RunResult>((resolvePromise) => {
    engine.once('end', () => resolvePromise({ ended }));
    // Always listen for `error`: unhandled, it would kill the test process.
    engine.once('error', (error: RunResult['error']) => resolvePromise({ ended, error }));
    engine.execute({ listener, variables }).catch((error: RunResult['error']) => resolvePromise({ ended, error }));
  });
}

/** bpmn-elements wraps handler errors in ActivityError; the original is `inner` (or `source`). */
function codeOf(error: RunResult['error']): string | undefined {
  const withSource = error as (Error & { code?: string; inner?: { code?: string }; source?: { error?: { code?: string } } }) | undefined;
  return withSource?.code ?? withSource?.inner?.code;
}

describe('safe expressions inside a real bpmn-engine', () => {
  it('when score is 90 in the eu, then the ${...} condition routes to "high"', async () => {
    const { ended, error } = await runEngine(GATEWAY_BPMN, { score: 90, region: 'eu' });
    expect(error).toBeUndefined();
    expect(ended).toContain('high');
    expect(ended).not.toContain('low');
    expect(ended).not.toContain('manual');
  });

  it('when score is 50, then the FEEL condition routes to "low"', async () => {
    const { ended, error } = await runEngine(GATEWAY_BPMN, { score: 50, region: 'eu' });
    expect(error).toBeUndefined();
    expect(ended).toContain('low');
    expect(ended).not.toContain('high');
  });

  it('when score is 90 outside the eu, then no condition holds and the default flow is taken', async () => {
    const { ended, error } = await runEngine(GATEWAY_BPMN, { score: 90, region: 'us' });
    expect(error).toBeUndefined();
    expect(ended).toContain('manual');
  });

  it('when a condition tries to call Function, then the run fails with EXPRESSION_INVALID and nothing executes', async () => {
    const { ended, error } = await runEngine(
      conditionBpmn("${environment.constructor.constructor('globalThis.__regenflowPwned = true')()}"),
      {},
    );
    expect(error).toBeDefined();
    expect(codeOf(error)).toBe('EXPRESSION_INVALID');
    expect(ended).not.toContain('evilEnd');
    expect(pwned()).toBeUndefined();
  });

  it('when a service implementation builds a Function, then bpmn-engine defaults run it but safe expressions do not', async () => {
    // No parentheses inside: bpmn-elements' path regex stops at the first ")". The tagged
    // template calls the engine's callback so the control run ends.
    const payload = '${environment.constructor.constructor(&quot;globalThis.__regenflowPwned = true; arguments[1]``&quot;)}';
    // Control: proves the payload is real against bpmn-engine's default expressions.
    await runEngine(serviceBpmn(payload), {}, false);
    expect(pwned()).toBe(true);
    delete (globalThis as Pwnable).__regenflowPwned;

    const { ended, error } = await runEngine(serviceBpmn(payload), {});
    expect(codeOf(error)).toBe('EXPRESSION_INVALID');
    expect(ended).not.toContain('end');
    expect(pwned()).toBeUndefined();
  });

  it('when a service implementation names a registered service, then it still resolves and runs', async () => {
    const engine = new Engine({
      name: 'service-ok',
      source: serviceBpmn('${environment.services.double}'),
      expressions: createSafeExpressions(),
      scripts: createDisabledScripts(),
      services: {
        double(_scope: unknown, next: (err: Error | null, value?: unknown) => void) {
          next(null, 2);
        },
      },
    });
    await new Promise<void>((resolvePromise, reject) => {
      engine.once('end', () => resolvePromise());
      engine.once('error', reject);
      engine.execute().catch(reject);
    });
  });

  it('when a sequence-flow condition is JavaScript, then the run fails with SCRIPTS_DISABLED and the script does not run', async () => {
    const { ended, error } = await runEngine(
      conditionBpmn('globalThis.__regenflowPwned = true; next(null, true);', 'javascript'),
      {},
    );
    expect(codeOf(error)).toBe('SCRIPTS_DISABLED');
    expect(ended).not.toContain('evilEnd');
    expect(pwned()).toBeUndefined();
  });

  it('when a script task runs, then it fails with SCRIPTS_DISABLED and the script does not run', async () => {
    const { ended, error } = await runEngine(SCRIPT_TASK_BPMN, {});
    expect(codeOf(error)).toBe('SCRIPTS_DISABLED');
    expect(error?.message).toContain('--allow-scripts');
    expect(ended).not.toContain('end');
    expect(pwned()).toBeUndefined();
  });
});
