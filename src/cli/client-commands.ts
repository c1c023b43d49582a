import { readFile } from 'node:fs/promises';
import type { Command } from 'commander';
import { followInstance } from './follow.js';
import { oneLine } from './incident-line.js';
import { CliError, type Request } from './http-client.js';

/** `--var k=v`: the value is JSON when it parses, else a string. */
export function parseVariable(pair: string): [string, unknown] {
  const at = pair.indexOf('=');
  if (at <= 0) throw new CliError(`--var expects name=value, got ${pair}`);
  const raw = pair.slice(at + 1);
  try {
    return [pair.slice(0, at), JSON.parse(raw)];
  } catch {
    return [pair.slice(0, at), raw];
  }
}

async function variablesFrom(options: { var: string[]; vars?: string }): Promise<Record<string, unknown>> {
  const fromFile = options.vars ? (JSON.parse(await readFile(options.vars, 'utf8')) as Record<string, unknown>) : {};
  return { ...fromFile, ...Object.fromEntries(options.var.map(parseVariable)) };
}

const collect = (value: string, previous: string[]) => [...previous, value];


const short = (id: unknown) => String(id ?? '').slice(0, 8);
const time = (value: unknown) => (value ? new Date(String(value)).toLocaleString() : '–');
const pad = (value: unknown, width: number) => String(value ?? '').padEnd(width);

/** The client commands: each is one or a few HTTP calls to a running server. */
export function registerClientCommands(program: Command, request: Request): void {
  const json = (body: unknown) => JSON.stringify(body);

  program
    .command('whoami')
    .description('who the token in REGENFLOW_TOKEN is and what it may do')
    .action(async () => {
      const me = (await request('GET', '/api/me')) as { role: string; actor: string; can: Record<string, boolean> };
      console.log(`${me.actor} (role ${me.role})`);
      console.log(`may: ${Object.entries(me.can).filter(([, allowed]) => allowed).map(([name]) => name).join(', ')}`);
    });

  program
    .command('start')
    .description('start an instance of the latest version of a process (its start variables are checked)')
    .argument('<key>')
    .option('--var <name=value>', 'a variable (repeat; the value is JSON when it parses, else text)', collect, [])
    .option('--vars <file.json>', 'variables from a JSON file (--var wins)')
    .option('--business-key <key>')
    .option('--run-now [startEventId]', 'fire a timer, message or signal start event now (the first one when none is named)')
    .option('-f, --follow', 'print each step as it commits until the instance ends (exit code 1 unless it completed)')
    .action(async (key: string, options: { var: string[]; vars?: string; businessKey?: string; runNow?: string | boolean; follow?: boolean }) => {
      const variables = await variablesFrom(options);
      const body = { variables, ...(options.businessKey && { businessKey: options.businessKey }) };
      const instance = (options.runNow
        ? await request('POST', `/api/process-definitions/key/${encodeURIComponent(key)}/run-now`, json({ ...body, ...(typeof options.runNow === 'string' && { startEventId: options.runNow }) }))
        : await request('POST', '/api/process-instances', json({ processKey: key, ...body }))) as Record<string, unknown>;
      if (!options.follow) {
        console.log(JSON.stringify(instance, null, 2));
        return;
      }
      console.log(`${instance.processKey} ${instance.id}`);
      const status = await followInstance(request, String(instance.id));
      process.exitCode = status === 'completed' ? 0 : 1;
    });

  program
    .command('follow')
    .description('print the steps of an instance as they commit until it ends')
    .argument('<instanceId>')
    .action(async (instanceId: string) => {
      const status = await followInstance(request, instanceId);
      process.exitCode = status === 'completed' ? 0 : 1;
    });

  program
    .command('instances')
    .description('list process instances, newest first')
    .option('--status <status>', 'active, completed, cancelled or failed')
    .option('--key <processKey>')
    .option('--limit <n>', 'how many', '50')
    .action(async (options: { status?: string; key?: string; limit: string }) => {
      const query = new URLSearchParams({ limit: options.limit, ...(options.status && { status: options.status }), ...(options.key && { processKey: options.key }) });
      const instances = (await request('GET', `/api/process-instances?${query}`)) as Array<Record<string, unknown>>;
      for (const instance of instances) {
        console.log(`${instance.id}  ${pad(instance.processKey, 24)} ${pad(instance.status, 10)} ${time(instance.startedAt)}`);
      }
      if (!instances.length) console.log('no instances match');
    });

  program
    .command('tasks')
    .description('list open user tasks')
    .option('--assignee <user>')
    .option('--group <candidateGroup>')
    .option('--key <processKey>')
    .option('--instance <instanceId>')
    .action(async (options: { assignee?: string; group?: string; key?: string; instance?: string }) => {
      const query = new URLSearchParams({
        ...(options.assignee && { assignee: options.assignee }),
        ...(options.group && { candidateGroup: options.group }),
        ...(options.key && { processKey: options.key }),
        ...(options.instance && { instanceId: options.instance }),
      });
      const tasks = (await request('GET', `/api/tasks?${query}`)) as Array<Record<string, any>>;
      for (const task of tasks) {
        const fields = (task.formFields ?? []) as Array<{ id: string; type?: string }>;
        console.log(
          `${task.id}  ${pad(task.name ?? task.activityId, 32)} ${pad(task.processKey, 20)} ${pad(task.assignee ?? (task.candidateGroups ?? []).join('|'), 16)} ${short(task.instanceId)}` +
            (fields.length ? `  fields: ${fields.map((field) => `${field.id}:${field.type ?? 'string'}`).join(', ')}` : ''),
        );
      }
      if (!tasks.length) console.log('no open tasks');
    });

  program
    .command('complete')
    .description('complete a user task with variables')
    .argument('<taskId>')
    .option('--var <name=value>', 'a variable (repeat)', collect, [])
    .option('--vars <file.json>', 'variables from a JSON file')
    .action(async (taskId: string, options: { var: string[]; vars?: string }) => {
      const result = (await request('POST', `/api/tasks/${encodeURIComponent(taskId)}/complete`, json({ variables: await variablesFrom(options) }))) as Record<string, unknown>;
      console.log(`completed; instance ${result.id ?? ''} is ${result.status ?? 'moving on'}`);
    });

  program
    .command('incidents')
    .description('list open incidents (--all: resolved ones too)')
    .option('--instance <instanceId>')
    .option('--key <processKey>')
    .option('--all', 'resolved incidents too')
    .action(async (options: { instance?: string; key?: string; all?: boolean }) => {
      const query = new URLSearchParams({ ...(options.all && { open: 'false' }), ...(options.instance && { instanceId: options.instance }), ...(options.key && { processKey: options.key }) });
      const incidents = (await request('GET', `/api/incidents?${query}`)) as Array<Record<string, any>>;
      for (const incident of incidents) {
        console.log(`${incident.id}  ${pad(incident.type, 18)} ${pad(`${incident.processKey}/${incident.activityId ?? '–'}`, 36)} ${short(incident.instanceId)}  ${time(incident.createdAt)}${incident.resolvedAt ? '  (resolved)' : ''}`);
        console.log(`    ${oneLine(String(incident.message ?? ''))}`);
      }
      if (!incidents.length) console.log('no incidents');
    });

  program
    .command('retry')
    .description('retry what an incident stopped (it is resolved when the retry is accepted)')
    .argument('<incidentId>')
    .option('--retries <n>', 'retries to give the job or task', '1')
    .action(async (incidentId: string, options: { retries: string }) => {
      await request('POST', `/api/incidents/${encodeURIComponent(incidentId)}/retry`, json({ retries: Number(options.retries) }));
      console.log(`retried incident ${incidentId}`);
    });

  const jobs = program.command('jobs').description('timers and other jobs');
  jobs
    .command('list', { isDefault: true })
    .description('list jobs (due, failed or all)')
    .option('--state <state>', 'due, failed or all', 'all')
    .option('--instance <instanceId>')
    .action(async (options: { state: string; instance?: string }) => {
      const query = new URLSearchParams({ state: options.state, ...(options.instance && { instanceId: options.instance }) });
      const rows = (await request('GET', `/api/jobs?${query}`)) as Array<Record<string, any>>;
      for (const job of rows) {
        console.log(`${job.id}  ${pad(job.kind, 14)} ${pad(job.activityId, 28)} due ${time(job.dueAt)}  retries ${job.retries}${job.errorMessage ? `  ${job.errorMessage}` : ''}`);
      }
      if (!rows.length) console.log('no jobs');
    });
  jobs
    .command('run')
    .description('run a job now, due or not (a timer fires at once)')
    .argument('<jobId>')
    .action(async (jobId: string) => {
      await request('POST', `/api/jobs/${encodeURIComponent(jobId)}/execute`);
      console.log(`ran job ${jobId}`);
    });
}
