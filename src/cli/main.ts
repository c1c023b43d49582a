#!/usr/bin/env node
// Only commander and the HTTP client load up front: `serve` and `lint` import the server parts
// they need when they run, so a client command (one HTTP call) starts in a fraction of a second.
import { readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Command } from 'commander';
import { registerClientCommands } from './client-commands.js';
import { registerDmediCommand } from './dmedi-command.js';
import { CliError, httpRequest } from './http-client.js';

const program = new Command()
  .name('regenflow')
  .description('A durable BPMN 2.0 workflow engine')
  .version(packageVersion(), '-V, --version')
  .option('--url <url>', 'server for client commands', process.env.REGENFLOW_URL ?? 'http://127.0.0.1:3000');

program
  .command('serve')
  .description('run the engine and its HTTP API')
  .option('--allow-scripts', 'run JavaScript script tasks (off by default)')
  .action(async (options: { allowScripts?: boolean }) => {
    const [{ createApp, deployFolder }, { loadConfig }] = await Promise.all([import('../app.js'), import('../config.js')]);
    const config = loadConfig({ ...process.env, ...(options.allowScripts && { REGENFLOW_ALLOW_SCRIPTS: 'true' }) });
    const app = await createApp(config);
    if (app.database.kind === 'pglite') {
      console.log(`database: ${app.database.description} (the embedded default; set DATABASE_URL=postgres://… to use a PostgreSQL server)`);
    } else {
      console.log(`database: ${app.database.description}`);
    }
    for (const line of await deployFolder(app, config.REGENFLOW_PROCESSES_DIR)) console.log(`deployed ${line}`);
    const port = await app.listen();
    console.log(`regenflow listening on http://${config.HOST}:${port}`);
    if (!config.REGENFLOW_TOKENS) {
      const tokenFile = join(config.REGENFLOW_DATA_DIR, 'admin-token');
      console.log(`sign in: open http://${config.HOST}:${port}/ and paste the admin token from ${tokenFile} (cat ${tokenFile}); the CLI reads it from REGENFLOW_TOKEN`);
    }
    let closing = false;
    // First signal: stop accepting, finish in-flight requests and long polls (up to 10 s), stop
    // the workers, close the database, exit 0. A second signal exits at once.
    const shutdown = async () => {
      if (closing) process.exit(1);
      closing = true;
      console.log('regenflow shutting down: finishing in-flight requests');
      try {
        await app.close({ quietMs: 1000 });
      } catch (error) {
        console.error('regenflow shutdown:', error);
        process.exit(1);
      }
      process.exit(0);
    };
    process.on('SIGINT', () => void shutdown());
    process.on('SIGTERM', () => void shutdown());
  });

program
  .command('lint')
  .description('parse and lint BPMN files as a deploy would')
  .argument('<files...>')
  .action(async (files: string[]) => {
    const { analyseDefinition, closeAnalyser } = await import('../engine/definitions/analyse-definition.js');
    let failed = false;
    for (const file of files) {
      const analysis = await analyseDefinition(await readFile(file));
      for (const finding of [...analysis.errors, ...analysis.warnings]) {
        console.log(`${file}: ${finding.severity} ${finding.elementId ?? ''} (${finding.rule}) ${finding.message}`);
      }
      console.log(`${file}: ${analysis.ok ? 'ok' : 'rejected'}`);
      failed ||= !analysis.ok;
    }
    await closeAnalyser();
    process.exitCode = failed ? 1 : 0;
  });

program
  .command('deploy')
  .description('deploy BPMN files to a running server')
  .argument('<files...>')
  .action(async (files: string[]) => {
    for (const file of files) {
      const result = await request('POST', `/api/deployments?name=${encodeURIComponent(basename(file))}`, await readFile(file, 'utf8'), 'application/xml');
      for (const definition of (result as { definitions: Array<{ key: string; version: number; created: boolean }> }).definitions) {
        console.log(`${file}: ${definition.key} v${definition.version}${definition.created ? '' : ' (unchanged)'}`);
      }
    }
  });

registerClientCommands(program, request);
registerDmediCommand(program, request);

function request(method: string, path: string, body?: string, contentType = 'application/json'): Promise<unknown> {
  return httpRequest(() => ({ url: program.opts<{ url: string }>().url, token: process.env.REGENFLOW_TOKEN }))(method, path, body, contentType);
}

/** The version in package.json (two folders up from src/cli, three from dist/src/cli). */
function packageVersion(): string {
  let folder = dirname(fileURLToPath(import.meta.url));
  for (let depth = 0; depth < 4; depth++, folder = dirname(folder)) {
    try {
      return (JSON.parse(readFileSync(join(folder, 'package.json'), 'utf8')) as { version: string }).version;
    } catch {
      // not here: one folder up
    }
  }
  return 'unknown';
}

program.parseAsync().catch((error: unknown) => {
  console.error(error instanceof CliError ? `regenflow: ${error.message}` : error instanceof Error ? error.message : error);
  process.exit(1);
});
