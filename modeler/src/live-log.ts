import { api } from './api.js';
import { clear, h } from './dom.js';

interface LogEntry {
  cursor: number;
  activityId: string;
  run: string;
  kind: 'start' | 'output' | 'end';
  text: string;
  data: { passed?: boolean; skipped?: boolean; score?: number; summary?: string; durationMs?: number } | null;
  at: string;
}

interface RunBlock {
  element: HTMLDetailsElement;
  status: HTMLElement;
  pre: HTMLPreElement;
  text: string;
}

/** Characters of output kept on the page per run: the tail is what one reads while it runs. */
const KEPT = 200_000;

/**
 * The live log of an instance's long work (validation phases, agent commands): one block per
 * run, open with its output's tail while it runs (scrolled along unless the reader scrolled
 * up), closed with its result once it ends. Follows the log with long polls from a cursor
 * while the instance is active; an ended instance's log is read once.
 */
export function createLiveLogPanel(): { element: HTMLElement; follow(instanceId: string | null): void } {
  const list = h('div', { class: 'rf-live-log-runs' });
  const element = h('section', { class: 'rf-side-section rf-live-log', id: 'rf-live-log', hidden: true }, h('h3', {}, 'Live log'), list);
  let generation = 0;
  let runs = new Map<string, RunBlock>();

  const blockOf = (entry: LogEntry): RunBlock => {
    const key = `${entry.activityId}\u0000${entry.run}`;
    let block = runs.get(key);
    // A run that starts again (a retried task) gets a fresh block.
    if (block && entry.kind === 'start' && block.element.dataset.state !== 'running') block = undefined;
    if (!block) {
      const status = h('span', { class: 'rf-live-status rf-live-running' }, 'running…');
      const pre = h('pre', { class: 'rf-live-output' }) as HTMLPreElement;
      const element = h('details', { class: 'rf-live-run', open: true, 'data-run': entry.run, 'data-activity': entry.activityId, 'data-state': 'running' }, h('summary', {}, h('strong', {}, entry.run), ' ', status), pre) as HTMLDetailsElement;
      block = { element, status, pre, text: '' };
      runs.set(key, block);
      list.append(element);
    }
    return block;
  };

  const apply = (entries: LogEntry[]) => {
    if (entries.length) element.hidden = false;
    for (const entry of entries) {
      const block = blockOf(entry);
      if (entry.kind === 'start') {
        block.element.title = entry.text;
        continue;
      }
      if (entry.kind === 'output') {
        const atBottom = block.pre.scrollHeight - block.pre.scrollTop - block.pre.clientHeight < 24;
        block.text = (block.text + entry.text).slice(-KEPT);
        block.pre.textContent = block.text;
        if (atBottom) block.pre.scrollTop = block.pre.scrollHeight;
        continue;
      }
      const passed = entry.data?.passed === true;
      const skipped = entry.data?.skipped === true;
      const state = skipped ? 'skipped' : passed ? 'passed' : 'failed';
      block.element.dataset.state = state;
      block.status.className = `rf-live-status rf-live-${state}`;
      block.status.textContent = `${state}${typeof entry.data?.durationMs === 'number' ? ` in ${(entry.data.durationMs / 1000).toFixed(1)} s` : ''}`;
      block.element.append(h('p', { class: `rf-live-result ${passed ? 'rf-good' : skipped ? 'rf-muted' : 'rf-bad'}` }, entry.text));
      // A passed run folds away; a failed one stays open to read why.
      if (passed) block.element.open = false;
    }
  };

  async function loop(instanceId: string, mine: number): Promise<void> {
    let cursor = 0;
    for (let failures = 0, first = true; mine === generation; first = false) {
      try {
        const answer = await api<{ status: string; cursor: number; entries: LogEntry[] }>('GET', `/api/process-instances/${instanceId}/logs?after=${cursor}&limit=500&waitMs=${first ? 0 : 20_000}`);
        if (mine !== generation) return;
        apply(answer.entries);
        cursor = answer.cursor;
        failures = 0;
        // Ended and read to the end: nothing more will come.
        if (answer.status !== 'active' && answer.entries.length < 500) return;
      } catch {
        // A 403 (a role without it) or a gone server: back off, and give up after a few tries.
        if (++failures > 3) return;
        await new Promise((resolve) => setTimeout(resolve, 2000 * failures));
      }
    }
  }

  return {
    element,
    follow(instanceId) {
      const mine = ++generation;
      runs = new Map();
      clear(list);
      element.hidden = true;
      if (instanceId) void loop(instanceId, mine);
    },
  };
}
