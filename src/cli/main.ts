#!/usr/bin/env node
import { readFile } from 'node:fs/promises';
import { basename } from 'node:path';
import { Command } from 'commander';
import { createApp, deployFolder } from '../app.js';
import { loadConfig } from '../config.js';
import { analyseDefinition, closeAnalyser } from '../engine/definitions/analyse-definition.js';
import { registerDmediCommand } from './dmedi-command.js';

const program = new Command()
  .name('regenflow')
  .description('A durable BPMN 2.0 workflow engine')
  .option('--url <url>', 'server for client commands', process.env.REGENFLOW_URL ?? 'http://127.0.0.1:3000');

program
  .command('serve')
  .description('run the engine and its HTTP API')
  .option('--allow-scripts', 'run JavaScript script tasks (off by default)')
  .action(async (options: { allowScripts?: boolean }) => {
    const config = loadConfig({ ...process.env, ...(options.allowScripts && { REGENFLOW_ALLOW_SCRIPTS: 'true' }) });
    const app = await createApp(config);
    if (app.database.kind === 'pglite') {
      console.log(`database: ${app.database.description} (the embedded default; set DATABASE_URL=postgres://… to use a PostgreSQL server)`);
    } else {
      console.log(`database: ${app.database.description}`);
    }
    for (const line of await deployFolder(app.engine, config.REGENFLOW_PROCESSES_DIR)) console.log(`deployed ${line}`);
    const port = await app.listen();
    console.log(`regenflow listening on http://${config.HOST}:${port}`);
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

program
  .command('start')
  .description('start an instance of the latest version of a process')
  .argument('<key>')
  .option('--var <k=v...>', 'variables (values are JSON when they parse, else strings)', [])
  .option('--business-key <key>')
  .action(async (key: string, options: { var: string[]; businessKey?: string }) => {
    const variables = Object.fromEntries(options.var.map(parseVariable));
    const instance = await request('POST', '/api/process-instances', JSON.stringify({ processKey: key, variables, businessKey: options.businessKey }));
    console.log(JSON.stringify(instance, null, 2));
  });

program
  .command('instances')
  .description('list process instances')
  .option('--status <status>')
  .option('--key <processKey>')
  .action(async (options: { status?: string; key?: string }) => {
    const query = new URLSearchParams({ ...(options.status && { status: options.status }), ...(options.key && { processKey: options.key }) });
    const instances = (await request('GET', `/api/process-instances?${query}`)) as Array<Record<string, unknown>>;
    for (const instance of instances) {
      console.log(`${instance.id}  ${String(instance.processKey).padEnd(24)} ${String(instance.status).padEnd(10)} ${instance.startedAt}`);
    }
  });

registerDmediCommand(program, request);

function parseVariable(pair: string): [string, unknown] {
  const at = pair.indexOf('=');
  if (at <= 0) throw new Error(`--var expects k=v, got ${pair}`);
  const raw = pair.slice(at + 1);
  try {
    return [pair.slice(0, at), JSON.parse(raw)];
  } catch {
    return [pair.slice(0, at), raw];
  }
}

async function request(method: string, path: string, body?: string, contentType = 'application/json'): Promise<unknown> {
  const base = program.opts<{ url: string }>().url;
  const response = await fetch(new URL(path, base), {
    method,
    body,
    headers: {
      ...(body && { 'content-type': contentType }),
      ...(process.env.REGENFLOW_TOKEN && { authorization: `Bearer ${process.env.REGENFLOW_TOKEN}` }),
    },
  });
  const text = await response.text();
  if (!response.ok) throw new Error(`${method} ${path}: ${response.status} ${text}`);
  return text ? JSON.parse(text) : null;
}

program.parseAsync().catch((error: unknown) => {
  console.error(error instanceof Error ? error.message : error);
  process.exit(1);
});
