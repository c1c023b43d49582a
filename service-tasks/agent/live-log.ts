import type { CommandOutputEntry, CommandOutputStore } from '../../src/store/command-output.js';

export interface LiveLogOptions {
  /** A batch is written at most this often while output comes. @default 500 */
  flushMs?: number;
  /** Output bytes kept per run; beyond them one marker says how much was left out. @default 262144 */
  maxBytes?: number;
  /** A failed write is reported here and the log goes on (the run itself never fails for it). */
  onError?: (error: unknown) => void;
}

/** Where one run's log belongs. */
export interface LiveLogTarget {
  instanceId: string;
  activityId: string;
  /** The phase's or step's name; several runs of one activity (validator.run's phases) differ here. */
  run: string;
}

/**
 * The live log of one run (a validation phase, an agent's commands): output is buffered and
 * written in batches (every `flushMs`, one write in flight at a time), bounded to `maxBytes`
 * per run, then closed with the run's result. Writes never hold the run up: a slow database
 * only makes batches bigger.
 */
export class LiveLog {
  private buffer = '';
  private written = 0;
  private dropped = 0;
  private timer: NodeJS.Timeout | undefined;
  private writing: Promise<void> = Promise.resolve();
  private readonly flushMs: number;
  private readonly maxBytes: number;

  constructor(
    private readonly store: CommandOutputStore,
    private readonly target: LiveLogTarget,
    private readonly options: LiveLogOptions = {},
  ) {
    this.flushMs = options.flushMs ?? 500;
    this.maxBytes = options.maxBytes ?? 256 * 1024;
  }

  /** Marks the start of the run with what it runs. */
  start(label: string): void {
    this.enqueue([{ ...this.target, kind: 'start', text: label }]);
  }

  /** Output as it comes (stdout and stderr interleaved). */
  write(text: string): void {
    const room = this.maxBytes - this.written;
    const bytes = Buffer.byteLength(text);
    if (room <= 0) {
      this.dropped += bytes;
      return;
    }
    const kept = bytes <= room ? text : Buffer.from(text).subarray(0, room).toString('utf8');
    this.written += Buffer.byteLength(kept);
    this.dropped += bytes - Buffer.byteLength(kept);
    this.buffer += kept;
    this.timer ??= setTimeout(() => this.flush(), this.flushMs);
  }

  /** Writes what is buffered, then the run's end with its result; resolves once written. */
  async end(result: { passed: boolean; summary: string; [key: string]: unknown }): Promise<void> {
    this.flush();
    const marker = this.dropped ? [{ ...this.target, kind: 'output' as const, text: `\n[${this.dropped} more bytes of output not kept in the live log]\n` }] : [];
    this.enqueue([...marker, { ...this.target, kind: 'end', text: result.summary, data: result }]);
    await this.writing;
  }

  private flush(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    if (!this.buffer) return;
    const text = this.buffer;
    this.buffer = '';
    this.enqueue([{ ...this.target, kind: 'output', text }]);
  }

  private enqueue(entries: CommandOutputEntry[]): void {
    this.writing = this.writing.then(() => this.store.append(entries)).catch((error: unknown) => this.options.onError?.(error));
  }
}

/** Makes the live log of one run; absent where nothing records logs (tests, tools). */
export type LiveLogFactory = (target: LiveLogTarget) => LiveLog;
