import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { z } from 'zod';

/** A package.json script name as configuration may give it: nothing option-looking. */
export const NpmScript = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9:._-]{0,99}$/, 'must be a plain npm script name');

/**
 * `npm run --if-present X` exits 0 when X does not exist, so a repository without the
 * script would pass the step that was meant to run it: configuration names the script
 * (`script: X`) instead, and a missing one is reported as missing.
 */
export const IF_PRESENT_REFUSED = '--if-present makes a missing script pass: name it with `script:` instead';

export const npmRunArgv = (script: string): string[] => ['npm', 'run', script];

/** What a configured command runs, as profiles and validation phases declare it: an argv, or a script. */
export const CommandFields = {
  argv: z.array(z.string().min(1)).min(1).optional(),
  /** The package.json script to run (`npm run <script>`): when the repository lacks it, the step fails as missing. */
  script: NpmScript.optional(),
};

/** The `--if-present` refusal both command configurations apply (see IF_PRESENT_REFUSED). */
export const noIfPresent = (command: { argv?: string[] }): boolean => !command.argv?.includes('--if-present');

/** Why a worktree cannot run `script`, or null when its package.json has it. */
export async function missingScript(folder: string, script: string): Promise<string | null> {
  let text: string;
  try {
    text = await readFile(join(folder, 'package.json'), 'utf8');
  } catch {
    return `script ${script} is missing: the repository has no package.json`;
  }
  let scripts: unknown;
  try {
    scripts = (JSON.parse(text) as { scripts?: unknown }).scripts;
  } catch {
    return `script ${script} is missing: package.json is not valid JSON`;
  }
  const present = typeof scripts === 'object' && scripts !== null && typeof (scripts as Record<string, unknown>)[script] === 'string';
  return present ? null : `script ${script} is missing from package.json`;
}
