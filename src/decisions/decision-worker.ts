import { parentPort } from 'node:worker_threads';
import { AppError } from '../errors.js';
import { parseDmn, type DecisionRequirements } from './dmn-model.js';
import { evaluateDrg } from './evaluate-decision.js';
import { lintDecisions, referencedNames } from './lint-decisions.js';

export type DecisionWorkerRequest =
  | { id: number; kind: 'analyse'; name: string; xml: string; maxResultBytes: number }
  | { id: number; kind: 'evaluate'; definitionId: string; drg?: DecisionRequirements; drop: string[]; decisionKey: string; variables: Record<string, unknown>; timeoutMs: number; maxResultBytes: number };

export type DecisionWorkerReply = { id: number; result?: unknown; error?: { code: string; message: string; details?: Record<string, unknown> } };

/**
 * Worker-thread entry: parsing a DMN file and evaluating a decision are synchronous, and a
 * table (or its input) can make them long. Here they cannot stall the server: the caller
 * ends this thread when its time budget runs out. Parsed DRGs are kept by definition id; the
 * main thread decides which (it sends a model once, and the ids to drop when it evicts them).
 */
const drgs = new Map<string, DecisionRequirements>();

parentPort?.on('message', async (request: DecisionWorkerRequest) => {
  try {
    if (request.kind === 'analyse') {
      const drg = await parseDmn(request.name, request.xml);
      const findings = lintDecisions(drg);
      const errors = findings.filter((finding) => finding.severity === 'error');
      const warnings = findings.filter((finding) => finding.severity !== 'error');
      if (!errors.length) drg.variableNames = referencedNames(drg);
      return answer(request, { drg, errors, warnings });
    }
    for (const id of request.drop) drgs.delete(id);
    if (request.drg) drgs.set(request.definitionId, request.drg);
    const drg = drgs.get(request.definitionId);
    if (!drg) throw new AppError('DECISION_NOT_LOADED', `decision definition ${request.definitionId} was not sent to the worker`);
    const result = evaluateDrg(drg, request.decisionKey, request.variables, { timeoutMs: request.timeoutMs });
    answer(request, result);
  } catch (error) {
    const failure = error as AppError;
    parentPort?.postMessage({
      id: request.id,
      error: { code: failure?.code ?? 'DECISION_EXPRESSION_FAILED', message: failure?.message ?? String(error), details: failure?.details },
    } satisfies DecisionWorkerReply);
  }
});

/** Answers with the result, unless it is larger (as JSON) than the caller takes. */
function answer(request: DecisionWorkerRequest, result: unknown): void {
  const size = Buffer.byteLength(JSON.stringify(result) ?? '');
  if (size > request.maxResultBytes) {
    throw new AppError('DECISION_RESULT_TOO_LARGE', `the result is ${size} bytes as JSON; at most ${request.maxResultBytes} are returned`);
  }
  parentPort?.postMessage({ id: request.id, result } satisfies DecisionWorkerReply);
}

// Loaded: from now on, a request's time budget is its own.
parentPort?.postMessage({ ready: true });
