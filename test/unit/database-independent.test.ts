import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../../', import.meta.url));
const listed = JSON.parse(readFileSync(join(root, 'test/database-independent.json'), 'utf8')) as string[];

/** Every test file a listed path names (a folder names all below it). */
function filesOf(path: string): string[] {
  const full = join(root, path);
  if (!statSync(full).isDirectory()) return [path];
  return readdirSync(full, { recursive: true, encoding: 'utf8' })
    .filter((name) => name.endsWith('.test.ts'))
    .map((name) => join(path, name));
}

/** What makes a test use the run's database: a test app or database, two nodes, a server process, the DMEDI world. */
const USES_THE_RUNS_DATABASE = /createTestApp|createTestDatabase|createTwoNodes|startServerProcess|dmedi-world|process\.env\.DATABASE_URL|databaseUrl:/;

describe('the files a PostgreSQL run leaves to the PGlite run (test/database-independent.json)', () => {
  // This file names the patterns it looks for, so it is left out of its own check.
  it.each(listed.flatMap(filesOf).filter((file) => !file.endsWith('database-independent.test.ts')))('%s does not use the run’s database, or pins the embedded one', (file: string) => {
    // A server process or app pinned to the embedded database (`DATABASE_URL: ''`) needs no server.
    const text = readFileSync(join(root, file), 'utf8');
    const pinned = text.includes("DATABASE_URL: ''");
    expect(pinned ? text.replace(/startServerProcess/g, '') : text).not.toMatch(USES_THE_RUNS_DATABASE);
  });
});
