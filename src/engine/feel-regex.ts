import { RE2JS } from 're2js';

/**
 * FEEL's regular-expression builtins (`matches`, `replace`, `split`) on RE2 instead of
 * JavaScript's backtracking RegExp. feelin builds `new RegExp(pattern)` from whatever the
 * expression passes, and a pattern from a diagram or a variable such as `^(a+)+$` doubles
 * its time per input character on the event loop (26 characters: 2 s). RE2 matches in
 * time linear in the input; patterns it cannot run in linear time (backreferences,
 * lookarounds) are invalid, and FEEL answers null for an invalid pattern, as feelin does.
 *
 * feelin looks a called name up in the evaluation context before its builtins, so these
 * are handed in the context under the builtins' names.
 */

/** Longest pattern accepted: RE2 compiles in time linear in it, but a diagram needs no more. */
const MAX_PATTERN_LENGTH = 4096;

function compile(pattern: unknown, flags: unknown): RE2JS | null {
  if (typeof pattern !== 'string' || pattern.length > MAX_PATTERN_LENGTH) return null;
  if (flags !== null && flags !== undefined && typeof flags !== 'string') return null;
  let mask = 0;
  let source = pattern;
  for (const flag of (flags as string | null | undefined) ?? '') {
    switch (flag) {
      case 'i':
        mask |= RE2JS.CASE_INSENSITIVE;
        break;
      case 's':
        mask |= RE2JS.DOTALL;
        break;
      case 'm':
        mask |= RE2JS.MULTILINE;
        break;
      case 'q':
        source = RE2JS.quote(pattern);
        break;
      case 'x':
        source = source.replace(/\s+/g, '');
        break;
      default:
        return null; // XPath knows no other flag
    }
  }
  try {
    return RE2JS.compile(source, mask);
  } catch {
    return null;
  }
}

function withArgs<T extends (...args: any[]) => unknown>(fn: T, names: string[]): T {
  (fn as unknown as { $args: string[] }).$args = names;
  return fn;
}

/** FEEL `matches(input, pattern, flags?)`: whether the pattern occurs in the input. */
const matches = withArgs((input: unknown, pattern: unknown, flags?: unknown) => {
  if (typeof input !== 'string') return null;
  const regex = compile(pattern, flags);
  return regex ? regex.test(input) : null;
}, ['input', 'pattern', 'flags']);

/** FEEL `replace(input, pattern, replacement, flags?)`: `$0`…`$9` refer to groups. */
const replace = withArgs((input: unknown, pattern: unknown, replacement: unknown, flags?: unknown) => {
  if (typeof input !== 'string' || typeof replacement !== 'string') return null;
  const regex = compile(pattern, flags);
  if (!regex) return null;
  return regex.matcher(input).replaceAll(replacement.replace(/\$0/g, '$$&'));
}, ['input', 'pattern', 'replacement', 'flags']);

/** FEEL `split(string, delimiter)`: the delimiter is a pattern. */
const split = withArgs((input: unknown, delimiter: unknown) => {
  if (typeof input !== 'string') return null;
  const regex = compile(delimiter, '');
  return regex ? regex.split(input, -1) : null;
}, ['string', 'delimiter']);

/** Context entries that replace feelin's backtracking builtins. */
export const LINEAR_REGEX_BUILTINS: Readonly<Record<string, unknown>> = Object.freeze({ matches, replace, split });
