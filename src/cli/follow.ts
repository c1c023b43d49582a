import { oneLine } from './incident-line.js';
import type { Request } from './http-client.js';

interface HistoryRow {
  id: number | string;
  activity_id: string | null;
  activity_type: string | null;
  activity_name: string | null;
  event: string;
  at: string;
  data: Record<string, unknown> | null;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

function describe(row: HistoryRow): string | null {
  const name = row.activity_name ? `${row.activity_name} (${row.activity_id})` : (row.activity_id ?? '');
  // bpmn:IntermediateCatchEvent -> intermediate catch event
  const type = (row.activity_type ?? '').replace(/^bpmn:/, '').replace(/(?<=[a-z])(?=[A-Z])/g, ' ').toLowerCase();
  switch (row.event) {
    case 'instance.start':
      return 'instance started';
    case 'start':
      return `→ ${type} ${name}`;
    case 'end':
      return `✓ ${type} ${name}`;
    case 'discard':
      return null;
    default:
      return `${row.event}${name ? ` ${name}` : ''}${row.data?.errorMessage ? `: ${String(row.data.errorMessage)}` : ''}`;
  }
}

/**
 * Prints an instance's steps as they commit (its history, oldest first) until it ends, with a
 * progress line for what it waits on (an external task running for 40 s, a user task, a timer).
 * Resolves with the final status. Polls: each poll is two small GETs.
 */
export async function followInstance(request: Request, instanceId: string, options: { intervalMs?: number; out?: (line: string) => void; progress?: (line: string) => void } = {}): Promise<string> {
  const out = options.out ?? ((line: string) => console.log(line));
  const progress = options.progress ?? ((line: string) => (process.stdout.isTTY ? process.stdout.write(`\r\x1b[2K${line}`) : undefined));
  const seen = new Set<string>();
  let lastProgress = '';
  for (;;) {
    const [detail, history] = (await Promise.all([request('GET', `/api/process-instances/${instanceId}`), request('GET', `/api/process-instances/${instanceId}/history`)])) as [Record<string, any>, HistoryRow[]];
    const fresh = history.filter((row) => !seen.has(String(row.id)));
    if (fresh.length && lastProgress) {
      progress('');
      lastProgress = '';
    }
    for (const row of fresh) {
      seen.add(String(row.id));
      const line = describe(row);
      if (line) out(`${new Date(row.at).toLocaleTimeString()}  ${line}`);
    }
    if (detail.status !== 'active') {
      if (lastProgress) progress('');
      out(`instance ${detail.status}${detail.errorMessage ? `: ${detail.errorMessage}` : ''}`);
      return String(detail.status);
    }
    const waits = [
      ...(detail.externalTasks ?? []).map((task: any) => `${task.activity_id} (${task.topic}) ${task.worker_id ? `running on ${task.worker_id}` : "waiting for a worker"}`),
      ...(detail.userTasks ?? []).map((task: any) => `user task ${task.name ?? task.activity_id}${task.assignee ? ` (${task.assignee})` : ''}`),
      ...(detail.timers ?? []).map((job: any) => `timer ${job.activity_id ?? job.kind} due ${new Date(job.due_at).toLocaleTimeString()}`),
      ...(detail.subscriptions ?? []).map((subscription: any) => `waits for ${subscription.kind} ${subscription.name}`),
    ];
    const incidents = (detail.incidents ?? []).map((incident: any) => `incident at ${incident.activity_id}: ${oneLine(String(incident.message ?? ''))}`);
    for (const incident of incidents) {
      if (seen.has(incident)) continue;
      seen.add(incident);
      out(`!  ${incident}  (regenflow incidents --instance ${instanceId}; regenflow retry <incident id>)`);
    }
    const line = waits.length ? `… ${waits.join('; ')}` : '';
    if (line) {
      const since = Math.round((Date.now() - new Date(history.at(-1)?.at ?? Date.now()).getTime()) / 1000);
      lastProgress = `${line} (${since} s)`;
      progress(lastProgress);
    }
    await sleep(options.intervalMs ?? 1000);
  }
}
