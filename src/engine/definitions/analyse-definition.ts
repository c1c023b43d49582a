import { Worker } from 'node:worker_threads';
import type { AnalyseOptions, DefinitionAnalysis, Finding } from './analysis-types.js';

export type { AnalyseOptions, DefinitionAnalysis, Finding, ProcessInfo } from './analysis-types.js';

const DEFAULT_MAX_BYTES = 5 * 1024 * 1024;
const DEFAULT_TIMEOUT_MS = 30_000;

let worker: Worker | null = null;
let queue: Promise<unknown> = Promise.resolve();
let nextRequestId = 0;

/**
 * In dist the worker is plain JS. From sources (tsx, jest) it is TypeScript: a small
 * bootstrap registers tsx's loader inside the worker first (`--import` in a worker's
 * execArgv is not honoured for loaders).
 */
function startWorker(): Worker {
  const fromSource = import.meta.url.endsWith('.ts');
  const url = new URL(fromSource ? './analyse-worker.ts' : './analyse-worker.js', import.meta.url);
  const started = fromSource
    ? new Worker(
        `(async () => { (await import('tsx/esm/api')).register(); await import(${JSON.stringify(url.href)}); })();`,
        { eval: true },
      )
    : new Worker(url);
  started.unref();
  return started;
}

function rejected(rule: string, message: string): DefinitionAnalysis {
  const finding: Finding = { severity: 'error', rule, message };
  return { ok: false, errors: [finding], warnings: [], processes: [], executableProcessIds: [] };
}

/**
 * Checks a diagram before deploy: size, no DOCTYPE (entity expansion), parse (warnings are
 * errors), bpmnlint and the engine's own execution checks. One worker thread, reused,
 * one diagram at a time; replaced when a diagram takes longer than the timeout.
 */
export async function analyseDefinition(xml: string | Buffer, options: AnalyseOptions = {}): Promise<DefinitionAnalysis> {
  const text = Buffer.isBuffer(xml) ? xml.toString('utf8') : xml;
  const maxBytes = options.maxBytes ?? DEFAULT_MAX_BYTES;
  if (Buffer.byteLength(text) > maxBytes) return rejected('size-limit', `the diagram is larger than ${maxBytes} bytes`);
  if (/<!DOCTYPE/i.test(text)) return rejected('no-doctype', 'a DOCTYPE is not allowed in a BPMN diagram');
  // An entity declaration outside a DOCTYPE is no XML at all; refuse it before any parser sees it.
  if (/<!ENTITY/i.test(text)) return rejected('no-doctype', 'an entity declaration (<!ENTITY) is not allowed in a BPMN diagram');
  if (!/<([\w-]+:)?definitions[\s>]/.test(text)) return rejected('parse', 'not a BPMN 2.0 document (no definitions element)');

  const run = queue.then(() => analyseInWorker(text, Boolean(options.allowScripts), options.timeoutMs ?? DEFAULT_TIMEOUT_MS));
  queue = run.catch(() => undefined);
  return capFindings(await run);
}

/** Findings kept per list: 150k bad attributes made a 13.7 MB error body. */
export const MAX_FINDINGS = 100;

function capFindings(analysis: DefinitionAnalysis): DefinitionAnalysis {
  const cap = (findings: Finding[], severity: Finding['severity']): Finding[] =>
    findings.length <= MAX_FINDINGS
      ? findings
      : [...findings.slice(0, MAX_FINDINGS), { severity, rule: 'too-many-findings', message: `${findings.length - MAX_FINDINGS} more ${severity}s not listed` }];
  return { ...analysis, errors: cap(analysis.errors, 'error'), warnings: cap(analysis.warnings, 'warning') };
}

function analyseInWorker(xml: string, allowScripts: boolean, timeoutMs: number): Promise<DefinitionAnalysis> {
  worker ??= startWorker();
  const current = worker;
  const id = nextRequestId++;
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      cleanup();
      void current.terminate();
      if (worker === current) worker = null;
      resolve(rejected('timeout', `analysing the diagram took longer than ${timeoutMs} ms`));
    }, timeoutMs);
    const onMessage = (message: { id: number; analysis?: DefinitionAnalysis; error?: string }) => {
      if (message.id !== id) return;
      cleanup();
      if (message.analysis) resolve(message.analysis);
      else resolve(rejected('parse', message.error ?? 'analysis failed'));
    };
    const onError = (error: Error) => {
      cleanup();
      if (worker === current) worker = null;
      reject(error);
    };
    function cleanup() {
      clearTimeout(timer);
      current.off('message', onMessage);
      current.off('error', onError);
    }
    current.on('message', onMessage);
    current.on('error', onError);
    current.postMessage({ id, xml, allowScripts });
  });
}

/** Stops the worker thread (shutdown, tests). */
export async function closeAnalyser(): Promise<void> {
  const current = worker;
  worker = null;
  if (current) await current.terminate();
}
