import { DecisionError, evaluateDrg, lintDecisions, mapDecisionResult, parseDmn } from '../../src/decisions/index.js';
import { dmn, type TableSpec } from '../support/dmn.js';

const table = (spec: Partial<TableSpec>): TableSpec => ({
  id: 'd',
  inputs: [{ expression: 'amount', typeRef: 'number' }],
  outputs: [{ name: 'result', typeRef: 'string' }],
  rules: [],
  ...spec,
});

async function decide(spec: TableSpec | Array<TableSpec | { id: string; literal: string }>, variables: Record<string, unknown>, id = 'd') {
  const drg = await parseDmn('t.dmn', dmn(Array.isArray(spec) ? spec : [spec]));
  return evaluateDrg(drg, id, variables);
}

async function failure(promise: Promise<unknown>): Promise<DecisionError> {
  try {
    await promise;
  } catch (error) {
    return error as DecisionError;
  }
  throw new Error('expected the evaluation to fail');
}

describe('decision tables', () => {
  const bands: TableSpec['rules'] = [
    [['< 100'], ['"small"']],
    [['[100..1000]'], ['"medium"']],
    [['> 1000'], ['"large"']],
  ];

  it('when one rule matches under UNIQUE, then its output is the result and the rule is named', async () => {
    const evaluation = await decide(table({ rules: bands }), { amount: 1000 });
    expect(evaluation.result).toEqual([{ result: 'medium' }]);
    expect(evaluation.evaluated[0]).toMatchObject({ hitPolicy: 'UNIQUE', inputs: [{ value: 1000 }], matchedRules: [{ id: 'd_r2', index: 2 }] });
  });

  it('when no rule matches, then the result is empty (not an error)', async () => {
    const evaluation = await decide(table({ rules: bands.slice(0, 1) }), { amount: 5000 });
    expect(evaluation.result).toEqual([]);
  });

  it('when two rules match under UNIQUE, then it fails with DECISION_UNIQUE_VIOLATION naming both', async () => {
    // Overlap through a variable: the deploy-time check cannot see it, evaluation must.
    const error = await failure(decide(table({ rules: [[['< limit'], ['"a"']], [['< 10'], ['"b"']]] }), { amount: 1, limit: 5 }));
    expect(error.code).toBe('DECISION_UNIQUE_VIOLATION');
    expect(error.message).toContain('d_r1, d_r2');
  });

  it('when several rules match under FIRST, RULE ORDER and COLLECT, then each keeps what its policy keeps', async () => {
    const rules: TableSpec['rules'] = [
      [['> 0'], ['"positive"']],
      [['> 10'], ['"big"']],
      [['-'], ['"any"']],
    ];
    expect((await decide(table({ hitPolicy: 'FIRST', rules }), { amount: 20 })).result).toEqual([{ result: 'positive' }]);
    expect((await decide(table({ hitPolicy: 'RULE ORDER', rules }), { amount: 20 })).result).toEqual([{ result: 'positive' }, { result: 'big' }, { result: 'any' }]);
    expect((await decide(table({ hitPolicy: 'COLLECT', rules }), { amount: 5 })).result).toEqual([{ result: 'positive' }, { result: 'any' }]);
  });

  it('when COLLECT aggregates, then SUM, MIN, MAX and COUNT give one entry; nothing matched gives COUNT 0 and no entry otherwise', async () => {
    const rules: TableSpec['rules'] = [
      [['> 0'], ['10']],
      [['> 5'], ['25']],
      [['> 8'], ['5']],
    ];
    const outputs = [{ name: 'points', typeRef: 'integer' }];
    const run = (aggregation: string, amount: number) => decide(table({ hitPolicy: 'COLLECT', aggregation, outputs, rules }), { amount });
    expect((await run('SUM', 9)).result).toEqual([{ points: 40 }]);
    expect((await run('MIN', 9)).result).toEqual([{ points: 5 }]);
    expect((await run('MAX', 9)).result).toEqual([{ points: 25 }]);
    expect((await run('COUNT', 9)).result).toEqual([{ points: 3 }]);
    expect((await run('COUNT', -1)).result).toEqual([{ points: 0 }]);
    expect((await run('SUM', -1)).result).toEqual([]);
  });

  it('when ANY matches rules with equal outputs, then one result; with different outputs, DECISION_ANY_VIOLATION', async () => {
    const same = await decide(table({ hitPolicy: 'ANY', rules: [[['> 0'], ['"yes"']], [['> 5'], ['"yes"']]] }), { amount: 9 });
    expect(same.result).toEqual([{ result: 'yes' }]);
    const error = await failure(decide(table({ hitPolicy: 'ANY', rules: [[['> 0'], ['"yes"']], [['> 5'], ['"no"']]] }), { amount: 9 }));
    expect(error.code).toBe('DECISION_ANY_VIOLATION');
  });

  it('when PRIORITY and OUTPUT ORDER rank by output values, then the first listed value wins and the order follows the list', async () => {
    const outputs = [{ name: 'risk', typeRef: 'string', values: '"high","medium","low"' }];
    const rules: TableSpec['rules'] = [
      [['> 0'], ['"low"']],
      [['> 50'], ['"high"']],
      [['> 10'], ['"medium"']],
    ];
    expect((await decide(table({ hitPolicy: 'PRIORITY', outputs, rules }), { amount: 60 })).result).toEqual([{ risk: 'high' }]);
    expect((await decide(table({ hitPolicy: 'OUTPUT ORDER', outputs, rules }), { amount: 60 })).result).toEqual([{ risk: 'high' }, { risk: 'medium' }, { risk: 'low' }]);
  });

  it('when entries use strings, lists, not(), booleans and the input variable, then FEEL unary tests decide', async () => {
    const spec = table({
      inputs: [{ expression: 'season', typeRef: 'string' }, { expression: 'guests', typeRef: 'integer', inputVariable: 'g' }, { expression: 'vip' }],
      outputs: [{ name: 'dish' }, { name: 'count', typeRef: 'integer' }],
      hitPolicy: 'FIRST',
      rules: [
        [['"Winter","Fall"', 'g > 8', 'true'], ['"Roast for " + string(guests)', 'guests * 2']],
        [['not("Summer")', '-', '-'], ['"Stew"', '']],
        [['-', '-', '-'], ['"Salad"', '1']],
      ],
    });
    expect((await decide(spec, { season: 'Fall', guests: 10, vip: true })).result).toEqual([{ dish: 'Roast for 10', count: 20 }]);
    // An empty output entry yields no entry for that output.
    expect((await decide(spec, { season: 'Spring', guests: 2, vip: false })).result).toEqual([{ dish: 'Stew' }]);
    expect((await decide(spec, { season: 'Summer', guests: 2, vip: false })).result).toEqual([{ dish: 'Salad', count: 1 }]);
  });

  it('when an output does not fit its typeRef, then DECISION_TYPE_MISMATCH; an input string that reads as its number type is converted', async () => {
    const error = await failure(decide(table({ outputs: [{ name: 'n', typeRef: 'integer' }], rules: [[['-'], ['"many"']]] }), { amount: 1 }));
    expect(error.code).toBe('DECISION_TYPE_MISMATCH');
    const converted = await decide(table({ rules: bands }), { amount: '5' });
    expect(converted.result).toEqual([{ result: 'small' }]);
  });

  it('when inputs are dates, then unary tests compare FEEL dates (not ISO strings), typed date strings are converted, and results are JSON', async () => {
    const byDate = table({
      inputs: [{ expression: 'date(day)' }],
      outputs: [{ name: 'era', typeRef: 'string' }],
      rules: [
        [['< date("2024-01-01")'], ['"before"']],
        [['>= date("2024-01-01")'], ['"after"']],
      ],
    });
    expect((await decide(byDate, { day: '2023-05-01' })).result).toEqual([{ era: 'before' }]);
    expect((await decide(byDate, { day: '2024-03-01' })).result).toEqual([{ era: 'after' }]);
    // A typed input (Camunda 7: typeRef date takes yyyy-MM-dd'T'HH:mm:ss text) is a date for the tests.
    const typed = table({
      inputs: [{ expression: 'when', typeRef: 'date' }],
      outputs: [{ name: 'due', typeRef: 'date' }],
      rules: [
        [['< date and time("2024-01-01T00:00:00")'], ['date("2024-02-01")']],
        [['>= date and time("2024-01-01T00:00:00")'], ['when']],
      ],
    });
    const early = await decide(typed, { when: '2023-05-01T10:00:00' });
    expect(early.result).toEqual([{ due: '2024-02-01' }]);
    expect(early.evaluated[0]!.inputs[0]!.value).toBe('2023-05-01T10:00:00');
    expect(JSON.parse(JSON.stringify(early))).toEqual(early);
    expect((await decide(typed, { when: '2024-06-01T08:30:00' })).result).toEqual([{ due: '2024-06-01T08:30:00' }]);
    expect(await failure(decide(typed, { when: 'not a date' }))).toMatchObject({ code: 'DECISION_TYPE_MISMATCH' });
  });

  it('when an expression fails, then DECISION_EXPRESSION_FAILED names the element', async () => {
    const error = await failure(decide(table({ inputs: [{ expression: 'amount.' }], rules: [[['-'], ['"x"']]] }), { amount: 1 }));
    expect(error.code).toBe('DECISION_EXPRESSION_FAILED');
    expect(error.details).toMatchObject({ elementId: 'ie_d_0'.replace('ie_', 'in_') });
  });

  it('when a decision requires others, then they are evaluated first, once each, and their results feed it (DRG)', async () => {
    const evaluation = await decide(
      [
        table({ id: 'level', requires: ['total', 'bonus'], inputs: [{ expression: 'total' }], outputs: [{ name: 'level' }], rules: [[['>= 10'], ['"gold"']], [['< 10'], ['"silver"']]] }),
        { id: 'total', literal: 'points + bonus', requires: ['bonus'] } as never,
        table({ id: 'bonus', inputs: [{ expression: 'vip' }], outputs: [{ name: 'bonus', typeRef: 'number' }], rules: [[['true'], ['5']], [['false'], ['0']]] }),
      ],
      { points: 6, vip: true },
      'level',
    );
    expect(evaluation.result).toEqual([{ level: 'gold' }]);
    expect(evaluation.evaluated.map((decision) => decision.decisionId)).toEqual(['bonus', 'total', 'level']);
  });

  it('when a required decision is COLLECT or RULE ORDER, then its outputs are lists even for one match; an empty result sets no variable (Camunda 7)', async () => {
    const tags = (hitPolicy: string) =>
      table({ id: 'tags', hitPolicy, inputs: [{ expression: 'amount' }], outputs: [{ name: 'tag', typeRef: 'string' }], rules: [[['> 100'], ['"big"']], [['> 1000'], ['"huge"']]] });
    const reader = { id: 'reader', requires: ['tags'], literal: 'if tag = null then "none" else if tag instance of list then "list:" + string(count(tag)) else "single"' } as never;
    for (const hitPolicy of ['COLLECT', 'RULE ORDER']) {
      expect((await decide([reader, tags(hitPolicy)], { amount: 500 }, 'reader')).result).toEqual([{ reader: 'list:1' }]);
      expect((await decide([reader, tags(hitPolicy)], { amount: 5000 }, 'reader')).result).toEqual([{ reader: 'list:2' }]);
    }
    expect((await decide([reader, tags('FIRST')], { amount: 5000 }, 'reader')).result).toEqual([{ reader: 'single' }]);
    // Nothing matched: no variable at all, so a process variable of that name shows through.
    expect((await decide([reader, tags('COLLECT')], { amount: 5, tag: 'from the process' }, 'reader')).result).toEqual([{ reader: 'single' }]);
    expect((await decide([reader, tags('COLLECT')], { amount: 5 }, 'reader')).result).toEqual([{ reader: 'none' }]);
  });

  it('when a literal expression decides, then its variable names the result', async () => {
    const evaluation = await decide([{ id: 'd', literal: 'if amount > 10 then "big" else "small"' }] as never, { amount: 11 });
    expect(evaluation.result).toEqual([{ d: 'big' }]);
  });

  it('when the input has functions or prototype keys, then FEEL sees plain data only', async () => {
    const hostile = JSON.parse('{"amount": 5, "__proto__": {"polluted": true}}');
    const evaluation = await decide(table({ rules: bands }), { ...hostile, fn: () => 1 });
    expect(evaluation.result).toEqual([{ result: 'small' }]);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });
});

describe('decision lint', () => {
  const lint = async (xml: string) => lintDecisions(await parseDmn('t.dmn', xml));

  it('when rules overlap under UNIQUE, then the second rule is named; adjacent closed/open ranges do not overlap', async () => {
    const overlapping = await lint(dmn([table({ rules: [[['[0..10]'], ['"a"']], [['>= 10'], ['"b"']]] })]));
    expect(overlapping).toEqual([expect.objectContaining({ rule: 'dmn-unique-overlap', elementId: 'd_r2' })]);
    expect(await lint(dmn([table({ rules: [[['[0..10['], ['"a"']], [['>= 10'], ['"b"']]] })]))).toEqual([]);
    expect(await lint(dmn([table({ rules: [[['"a","b"'], ['"x"']], [['"c"'], ['"y"']]] , inputs: [{ expression: 's' }] })]))).toEqual([]);
    expect(await lint(dmn([table({ rules: [[['"a","b"'], ['"x"']], [['-'], ['"y"']]], inputs: [{ expression: 's' }] })]))).toEqual([
      expect.objectContaining({ rule: 'dmn-unique-overlap' }),
    ]);
  });

  it('when a unary test or expression has a FEEL syntax error, then the finding names the entry', async () => {
    const findings = await lint(dmn([table({ rules: [[['[1..'], ['"a"']], [['< 0'], ['"b" +']]] })]));
    expect(findings.map((finding) => [finding.rule, finding.elementId])).toEqual([
      ['feel-syntax', 'd_r1_i0'],
      ['feel-syntax', 'd_r2_o0'],
    ]);
  });

  it('when a decision that declares its inputs reads an undeclared name, then dmn-unknown-input names it', async () => {
    const findings = await lint(
      dmn([table({ requiredInputs: ['amount'], inputs: [{ expression: 'amount' }, { expression: 'amuont + 1' }], rules: [[['-', '-'], ['"a"']]] })], { inputData: ['amount'] }),
    );
    expect(findings).toEqual([expect.objectContaining({ rule: 'dmn-unknown-input', elementId: 'in_d_1', message: expect.stringContaining("'amuont'") })]);
  });

  it('when PRIORITY has no output values, or a decision requires an undefined one, then it is refused', async () => {
    expect(await lint(dmn([table({ hitPolicy: 'PRIORITY', rules: [[['-'], ['"a"']]] })]))).toEqual([expect.objectContaining({ rule: 'dmn-output-values' })]);
    await expect(parseDmn('t.dmn', dmn([table({ requires: ['missing'], rules: [] })]))).rejects.toMatchObject({ code: 'INVALID_DEFINITION', message: expect.stringContaining("'missing'") });
  });

  it('when an output, input variable or decision variable is named __proto__, constructor or prototype, then lint refuses it', async () => {
    for (const name of ['__proto__', 'constructor', 'prototype']) {
      const drg = await parseDmn('t.dmn', dmn([table({ outputs: [{ name, typeRef: 'string' }], inputs: [{ expression: 'amount', inputVariable: name }], rules: [[['-'], ['"x"']]] })]));
      expect(lintDecisions(drg).filter((finding) => finding.rule === 'dmn-forbidden-name').map((finding) => finding.elementId)).toEqual(['out_d_0', 'in_d_0']);
      const literal = await parseDmn('t.dmn', dmn([{ id: 'lit', literal: '1', variable: name } as never]));
      expect(lintDecisions(literal)).toEqual([expect.objectContaining({ rule: 'dmn-forbidden-name' })]);
    }
  });

  it('when collectEntries maps a result, then it is the one output name over all entries (Camunda 7), refused when entries name more than one', () => {
    expect(mapDecisionResult([{ a: 1 }, { a: 2 }], 'collectEntries', 'd')).toEqual([1, 2]);
    expect(mapDecisionResult([], 'collectEntries', 'd')).toEqual([]);
    // One output per entry, but different names across entries: Camunda 7 refuses this.
    expect(() => mapDecisionResult([{ a: 1 }, { b: 2 }], 'collectEntries', 'd')).toThrow(expect.objectContaining({ code: 'DECISION_RESULT_MAPPING' }));
    // An entry without the output (its cell was empty) is skipped.
    expect(mapDecisionResult([{ a: 1 }, {}], 'collectEntries', 'd')).toEqual([1]);
  });

  it('when the XML is DMN 1.1 or not DMN, then parsing refuses it with a clear message', async () => {
    await expect(parseDmn('old.dmn', '<definitions xmlns="http://www.omg.org/spec/DMN/20151101/dmn.xsd" id="x" />')).rejects.toThrow(/DMN 1.1\/1.2 is not supported/);
    await expect(parseDmn('x.dmn', '<nope/>')).rejects.toMatchObject({ code: 'INVALID_DEFINITION' });
  });
});
