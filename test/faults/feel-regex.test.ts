import { evaluateExpression } from '../../src/engine/expressions.js';

/** Patterns from diagrams and variables run on RE2: linear in the input, never backtracking. */
describe('FEEL regular expressions from user input', () => {
  it('when a variable holds a catastrophic pattern, then matches() answers at once', () => {
    // With JavaScript's RegExp this takes 2^30 steps (about 16 s here); RE2 answers in microseconds.
    const started = process.hrtime.bigint();
    const result = evaluateExpression('=matches(s, p)', { variables: { s: `${'a'.repeat(30)}!`, p: '^(a+)+$' } });
    expect(result).toBe(false);
    // Not a timing assertion in spirit: a backtracking engine would not return at all within the test timeout.
    expect(Number(process.hrtime.bigint() - started) / 1e9).toBeLessThan(5);
  });

  it('when a variable named like a builtin is set, then it cannot bring the backtracking builtin back', () => {
    expect(evaluateExpression('=matches("aaa", "^a+$")', { variables: { matches: 'shadow' } })).toBe(true);
  });

  it('keeps FEEL semantics: flags, replace groups, split, invalid patterns are null', () => {
    expect(evaluateExpression('=matches("Abc", "^a", "i")', { variables: {} })).toBe(true);
    expect(evaluateExpression('=matches("Abc", "^a")', { variables: {} })).toBe(false);
    expect(evaluateExpression('=replace("abcd", "(ab)", "[$1]")', { variables: {} })).toBe('[ab]cd');
    expect(evaluateExpression('=replace("abc", "b", "<$0>")', { variables: {} })).toBe('a<b>c');
    expect(evaluateExpression('=split("a,b,,c", ",")', { variables: {} })).toEqual(['a', 'b', '', 'c']);
    // Backreferences cannot run in linear time: invalid, so null (FEEL's answer for a bad pattern).
    expect(evaluateExpression('=matches("aa", p)', { variables: { p: '(a)\\1' } })).toBeNull();
    expect(evaluateExpression('=matches("aa", "[")', { variables: {} })).toBeNull();
  });
});
