import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';

/**
 * A small Node project in a real git repository: `npm test` (node --test) checks that every generated model has its router and test; it exports a span
 * over OTLP/HTTP JSON when asked, and has every script the validation phases and deploy
 * profiles name (test:integration, test:e2e, bench, deploy:staging, …). Its tests and
 * integration script import `greet`, a local `file:` dependency that only `npm ci` (the
 * setup phase, offline) links into node_modules: a phase run without setup fails. Commits
 * land on `main`.
 */
export async function createNodeProject(): Promise<{ root: string; repository: string; git(...args: string[]): string; commit(files: Record<string, string>, message: string, branch?: string): string; remove(): Promise<void> }> {
  const root = await mkdtemp(join(tmpdir(), 'regenflow-agents-'));
  const repository = join(root, 'repos', 'shop');
  await mkdir(repository, { recursive: true });
  const git = (...args: string[]) =>
    execFileSync('git', ['-c', 'user.name=test', '-c', 'user.email=test@localhost', '-c', 'commit.gpgsign=false', ...args], { cwd: repository, encoding: 'utf8' }).trim();
  const files: Record<string, string> = {
    'package.json': JSON.stringify(
      {
        name: 'shop',
        version: '1.0.0',
        private: true,
        type: 'module',
        dependencies: { greet: 'file:vendor/greet' },
        scripts: {
          test: 'node --test',
          'test:integration': 'node scripts/integration.mjs',
          'test:telemetry': 'node scripts/emit-spans.mjs',
          'test:e2e': 'node scripts/integration.mjs',
          bench: 'node scripts/bench.mjs',
          'deploy:staging': 'node scripts/deploy.mjs staging',
          smoke: 'node scripts/deploy.mjs smoke',
          'deploy:production': 'node scripts/deploy.mjs production',
          'watch:production': 'node scripts/deploy.mjs watch',
          rollback: 'node scripts/deploy.mjs rollback',
        },
      },
      null,
      2,
    ),
    'package-lock.json': JSON.stringify(
      {
        name: 'shop',
        version: '1.0.0',
        lockfileVersion: 3,
        requires: true,
        packages: {
          '': { name: 'shop', version: '1.0.0', dependencies: { greet: 'file:vendor/greet' } },
          'node_modules/greet': { resolved: 'vendor/greet', link: true },
          'vendor/greet': { version: '1.0.0' },
        },
      },
      null,
      2,
    ),
    'vendor/greet/package.json': JSON.stringify({ name: 'greet', version: '1.0.0', type: 'module', main: 'index.js' }, null, 2),
    'vendor/greet/index.js': "export const greet = (name) => 'hello ' + name;\n",
    'test/scaffold.test.mjs': `import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { greet } from 'greet';

test('the installed dependency is there', () => assert.equal(greet('shop'), 'hello shop'));

test('every model has a zod schema, a router and a router test', () => {
  const models = existsSync('src/models') ? readdirSync('src/models') : [];
  for (const file of models) {
    const name = file.replace(/\\.ts$/, '');
    assert.match(readFileSync('src/models/' + file, 'utf8'), /Schema = z\\.object/);
    assert.ok(existsSync('src/routes/' + name + '-router.ts'), name + ' has a router');
    assert.ok(existsSync('test/' + name + '-router.test.ts'), name + ' has a router test');
  }
});
`,
    // An entity named "flaky" never passes integration: the review loop has to give up on it.
    'scripts/integration.mjs': "import { existsSync } from 'node:fs';\nimport { greet } from 'greet';\ngreet('integration');\nif (existsSync('src/models/flaky.ts')) { console.error('flaky breaks integration'); process.exit(1); }\nconsole.log('integration ok');\n",
    'scripts/bench.mjs': "const started = performance.now();\nlet sum = 0;\nfor (let i = 0; i < 1e6; i++) sum += i;\nconsole.log('bench ok', sum, Math.round(performance.now() - started), 'ms');\n",
    // A commit that carries FAIL_<target> fails that step (deploy, smoke or watch).
    'scripts/deploy.mjs': "import { existsSync } from 'node:fs';\nconst target = process.argv[2] ?? 'nowhere';\nif (existsSync('FAIL_' + target)) { console.error(target + ' failed'); process.exit(3); }\nconsole.log('deployed to ' + target);\n",
    'scripts/emit-spans.mjs': `const endpoint = process.env.OTEL_EXPORTER_OTLP_ENDPOINT;
if (!endpoint) { console.log('no collector'); process.exit(0); }
const attr = (key, value) => ({ key, value: typeof value === 'number' ? { intValue: String(value) } : { stringValue: value } });
const now = BigInt(Date.now()) * 1000000n;
const body = { resourceSpans: [{ resource: { attributes: [attr('service.name', 'shop')] }, scopeSpans: [{ scope: { name: 'shop' }, spans: [
  { traceId: '0af7651916cd43dd8448eb211c80319c', spanId: 'b7ad6b7169203331', name: 'shop.checkout', kind: 1, startTimeUnixNano: String(now), endTimeUnixNano: String(now + 5000000n), attributes: [attr('shop.order.id', 'o-1'), attr('shop.items', 2)] },
] }] }] };
const response = await fetch(endpoint + '/v1/traces', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
console.log('exported', response.status);
`,
    'semconv/registry.yaml': `groups:
  - id: registry.shop
    type: attribute_group
    brief: attributes of the shop
    attributes:
      - { id: shop.order.id, type: string, brief: the order }
      - { id: shop.items, type: int, brief: items in the order }
  - id: span.shop.checkout
    type: span
    span_name_prefix: shop.checkout
    attributes:
      - { ref: shop.order.id, requirement_level: required }
      - { ref: shop.items }
`,
    '.gitignore': 'node_modules\n',
  };
  git('init', '-q', '-b', 'main');
  const commit = (changes: Record<string, string>, message: string, branch?: string) => {
    if (branch) git('checkout', '-q', '-B', branch);
    for (const [path, content] of Object.entries(changes)) {
      mkdirSync(dirname(join(repository, path)), { recursive: true });
      writeFileSync(join(repository, path), content);
    }
    git('add', '-A');
    git('commit', '-q', '-m', message);
    const sha = git('rev-parse', 'HEAD');
    if (branch) git('checkout', '-q', 'main');
    return sha;
  };
  for (const [path, content] of Object.entries(files)) {
    await mkdir(dirname(join(repository, path)), { recursive: true });
    await writeFile(join(repository, path), content);
  }
  git('add', '-A');
  git('commit', '-q', '-m', 'shop: first commit');
  return { root, repository, git, commit, remove: () => rm(root, { recursive: true, force: true }) };
}
