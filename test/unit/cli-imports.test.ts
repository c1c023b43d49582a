import { readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';

const root = resolve(import.meta.dirname, '../..');

/** Every module the CLI entry loads before a command runs: its static imports, followed through the repository. */
function staticImports(file: string, seen = new Set<string>()): Set<string> {
  if (seen.has(file)) return seen;
  seen.add(file);
  const text = readFileSync(file, 'utf8');
  // `import … from '…'` and `export … from '…'`, not `await import('…')`.
  for (const match of text.matchAll(/^(?:import|export)\s[^;]*?from\s+'([^']+)'/gms)) {
    const specifier = match[1]!;
    if (specifier.startsWith('.')) staticImports(join(dirname(file), specifier.replace(/\.js$/, '.ts')), seen);
    else seen.add(specifier);
  }
  return seen;
}

describe('the CLI entry', () => {
  it('when a client command runs, then no server module is loaded: only commander, node built-ins and the client files', () => {
    const loaded = [...staticImports(join(root, 'src/cli/main.ts'))].map((entry) => (entry.startsWith(root) ? entry.slice(root.length + 1) : entry));
    const allowed = (entry: string) => entry.startsWith('node:') || entry === 'commander' || entry.startsWith('src/cli/');
    expect(loaded.filter((entry) => !allowed(entry))).toEqual([]);
    expect(loaded).toEqual(expect.arrayContaining(['src/cli/main.ts', 'src/cli/client-commands.ts', 'src/cli/http-client.ts', 'src/cli/follow.ts']));
  });
});
