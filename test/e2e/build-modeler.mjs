import { execFileSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * jest's globalSetup for the browser tests: the bundle the server serves, built once per run as
 * `npm run build` builds it (bpmnlint is CommonJS requiring ES modules, which jest's module
 * loader cannot load, so a child process builds).
 */
export default function buildModeler() {
  const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
  execFileSync(process.execPath, ['--import', 'tsx', join(root, 'scripts/build-modeler.ts')], { cwd: root, stdio: 'pipe' });
}
