import { oneLine } from './incident-line.js';
import type { Request } from './http-client.js';

interface HistoryRow {
  id: number | string;
  activityId: string | null;
  activityType: string | null;
  activityName: string | null;
  event: string;
  at: string;
  data: Record<string, unknown> | null;
}

interface LogEntry {
  cursor: number;
  activityId: string;
  run: string;
  kind: 'start' | 'output' | 'end';
  text: string;
  data: { passed?: boolean; skipped?: boolean } | null;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** The last non-empty line of some output, cut to fit one terminal line. */
export function lastLine(text: string, width = 80): string {
  const line = text.split(/\r?\n|\r/).map((part) => part.replace(/\x1b\[[0-9;?]*[A-Za-z]/g, '').trim()).filter(Boolean).at(-1) ?? '';
  return line.length > width ? `${line.slice(0, width - 1)}…` : line;
}

function describe(row: HistoryRow): string | null {
  const name = row.activityName ? `${row.activityName} (${row.activityId})` : (row.activityId ?? '');
  // bpmn:IntermediateCatchEvent -> intermediate catch event
  const type = (row.activityType ?? '').replace(/^bpmn:/, '').replace(/(?<=[a-z])(?=[A-Z])/g, ' ').toLowerCase();
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
  // The live log of long phases (a server without it answers 404: then there is none).
  let logCursor = 0;
  let logs = true;
  const running = new Map<string, { run: string; line: string; since: number }>();
  for (;;) {
    const [detail, history, log] = (await Promise.all([
      request('GET', `/api/process-instances/${instanceId}`),
      request('GET', `/api/process-instances/${instanceId}/history`),
      logs ? request('GET', `/api/process-instances/${instanceId}/logs?after=${logCursor}&limit=1000`).catch(() => ((logs = false), null)) : null,
    ])) as [Record<string, any>, HistoryRow[], { cursor: number; entries: LogEntry[] } | null];
    const finished: string[] = [];
    for (const entry of log?.entries ?? []) {
      const key = `${entry.activityId}/${entry.run}`;
      if (entry.kind === 'start') running.set(key, { run: entry.run, line: '', since: Date.now() });
      else if (entry.kind === 'output') {
        const current = running.get(key) ?? { run: entry.run, line: '', since: Date.now() };
        current.line = lastLine(entry.text) || current.line;
        running.set(key, current);
      } else {
        running.delete(key);
        finished.push(`   ${entry.data?.passed ? '✓' : entry.data?.skipped ? '–' : '✗'} ${entry.run}: ${oneLine(entry.text)}`);
      }
    }
    if (log) logCursor = log.cursor;
    const fresh = history.filter((row) => !seen.has(String(row.id)));
    if ((fresh.length || finished.length) && lastProgress) {
      progress('');
      lastProgress = '';
    }
    for (const row of fresh) {
      seen.add(String(row.id));
      const line = describe(row);
      if (line) out(`${new Date(row.at).toLocaleTimeString()}  ${line}`);
    }
    for (const line of finished) out(line);
    if (detail.status !== 'active') {
      if (lastProgress) progress('');
      out(`instance ${detail.status}${detail.errorMessage ? `: ${detail.errorMessage}` : ''}`);
      return String(detail.status);
    }
    const waits = [
      ...(detail.externalTasks ?? []).map((task: any) => `${task.activityId} (${task.topic}) ${task.workerId ? `running on ${task.workerId}` : "waiting for a worker"}`),
      ...(detail.userTasks ?? []).map((task: any) => `user task ${task.name ?? task.activityId}${task.assignee ? ` (${task.assignee})` : ''}`),
      ...(detail.timers ?? []).map((job: any) => `timer ${job.activityId ?? job.kind} due ${new Date(job.dueAt).toLocaleTimeString()}`),
      ...(detail.subscriptions ?? []).map((subscription: any) => `waits for ${subscription.kind} ${subscription.name}`),
    ];
    const incidents = (detail.incidents ?? []).map((incident: any) => `incident at ${incident.activityId}: ${oneLine(String(incident.message ?? ''))}`);
    for (const incident of incidents) {
      if (seen.has(incident)) continue;
      seen.add(incident);
      out(`!  ${incident}  (regenflow incidents --instance ${instanceId}; regenflow retry <incident id>)`);
    }
    const line = waits.length ? `… ${waits.join('; ')}` : '';
    if (line) {
      const since = Math.round((Date.now() - new Date(history.at(-1)?.at ?? Date.now()).getTime()) / 1000);
      // A long phase says what it prints now: the last line of its live log.
      const phases = [...running.values()].map((run) => `${run.run}${run.line ? `: ${run.line}` : ' started'}`);
      lastProgress = `${line} (${since} s)${phases.length ? ` │ ${phases.join(' │ ')}` : ''}`;
      progress(lastProgress);
    }
    await sleep(options.intervalMs ?? 1000);
  }
}
