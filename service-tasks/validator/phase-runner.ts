import { readFile } from 'node:fs/promises';
import { parse } from 'yaml';
import { insideRoot } from '../agent/command-runner.js';
import type { LiveLog } from '../agent/live-log.js';
import type { WorktreeRunner } from '../agent/worktree-runner.js';
import type { PhaseResult } from '../../src/store/validation-runs.js';
import { assessAudit } from './npm-audit.js';
import { OtlpCapture } from './otlp-capture.js';
import type { PhaseConfig, PhasesFile } from './phase-config.js';
import { checkRegistry, checkSpans, RegistrySchema, type Registry } from './semconv.js';

export interface PhaseTarget {
  repository: string;
  ref: string;
  /** Names the worktree the phases of one validation share. */
  workspace: string;
  /** The instance the kept worktree belongs to (removed when it ends). */
  instanceId?: string;
  /** Where the phase's output goes while it runs, closed with its result. */
  log?: LiveLog;
}

const OUTPUT_KEPT = 4000;
const tail = (text: string) => (text.length > OUTPUT_KEPT ? `…${text.slice(-OUTPUT_KEPT)}` : text);

/** Runs one phase for real in the repository's worktree and reads its result the way its kind says; its live log, if given, ends with that result. */
export async function runPhase(runner: WorktreeRunner, phases: PhasesFile, phase: PhaseConfig, target: PhaseTarget): Promise<PhaseResult> {
  const { log } = target;
  log?.start(`phase ${phase.name}${phase.argv ? `: ${phase.argv.join(' ')}` : ''}`);
  let result: PhaseResult;
  try {
    result = await runPhaseCommands(runner, phases, phase, target);
  } catch (error) {
    await log?.end({ passed: false, summary: `phase ${phase.name} could not run: ${(error as Error)?.message ?? String(error)}` });
    throw error;
  }
  await log?.end({ passed: result.passed, skipped: result.skipped ?? false, score: result.score, summary: result.summary, exitCode: result.exitCode ?? null, timedOut: result.timedOut ?? false, durationMs: result.durationMs });
  return result;
}

async function runPhaseCommands(runner: WorktreeRunner, phases: PhasesFile, phase: PhaseConfig, target: PhaseTarget): Promise<PhaseResult> {
  const base = { name: phase.name, weight: phase.weight, required: phase.required };
  let registry: { parsed?: Registry; problems: string[] } = { problems: [] };
  const readRegistry = async (folder: string) => {
    try {
      const text = await readFile(await insideRoot(folder, phases.registry), 'utf8');
      const parsed = RegistrySchema.safeParse(parse(text));
      registry = parsed.success
        ? { parsed: parsed.data, problems: checkRegistry(parsed.data) }
        : { problems: parsed.error.issues.map((issue) => `${issue.path.join('.')}: ${issue.message}`) };
    } catch (error) {
      registry = { problems: [`${phases.registry}: ${(error as Error).message}`] };
    }
  };
  // A worktree made afresh here (setup ran on another node, or the ref moved) lacks what setup installed.
  const setupPhase = phase.name !== 'setup' && phase.argv ? phases.phases.find((candidate) => candidate.name === 'setup' && candidate.argv) : undefined;
  const capture = phase.kind === 'otel' ? new OtlpCapture() : null;
  const endpoint = await capture?.start();
  try {
    const result = await runner.run({
      repository: target.repository,
      ref: target.ref,
      key: target.workspace,
      keep: true,
      instanceId: target.instanceId,
      commands: phase.argv ? [{ argv: phase.argv, timeoutMs: phase.timeoutMs, script: phase.script }] : [],
      setup: setupPhase ? [{ argv: setupPhase.argv!, timeoutMs: setupPhase.timeoutMs, script: setupPhase.script }] : undefined,
      env: {
        CI: 'true',
        ...(endpoint && {
          OTEL_EXPORTER_OTLP_ENDPOINT: endpoint,
          OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: `${endpoint}/v1/traces`,
          // The capture speaks OTLP/HTTP (JSON or protobuf): an SDK whose default is gRPC must not pick it.
          OTEL_EXPORTER_OTLP_PROTOCOL: 'http/protobuf',
          OTEL_TRACES_EXPORTER: 'otlp',
        }),
      },
      inspect: phase.kind === 'registry' || phase.kind === 'otel' ? readRegistry : undefined,
      onOutput: target.log ? (text) => target.log!.write(text) : undefined,
    });
    const command = result.commands[0];
    const setupRan = result.setup.length > 0;
    const setupFailed = result.setup.find((ran) => ran.exitCode !== 0);
    const common = {
      ...base,
      ...(setupRan && { setupRan }),
      durationMs: result.durationMs,
      exitCode: command?.exitCode ?? null,
      timedOut: command?.timedOut ?? false,
      output: tail(command?.output ?? ''),
    };
    if (setupFailed) {
      const why = setupFailed.missingScript ? setupFailed.output : setupFailed.timedOut ? `timed out after ${setupPhase!.timeoutMs} ms` : `exit code ${setupFailed.exitCode ?? 'none'}`;
      return { ...common, exitCode: setupFailed.exitCode, timedOut: setupFailed.timedOut, output: tail(setupFailed.output), passed: false, score: 0, summary: `setup in a fresh worktree failed: ${why}` };
    }
    if (command?.missingScript) {
      // The work the phase stands for does not exist: never a pass. Required, it fails; otherwise it is skipped.
      return phase.required
        ? { ...common, passed: false, score: 0, summary: command.output }
        : { ...common, passed: false, skipped: true, score: 0, summary: `skipped: ${command.output}` };
    }
    const ran = command ? command.exitCode === 0 : true;
    const failedRun = command?.timedOut ? `timed out after ${phase.timeoutMs} ms` : `exit code ${command?.exitCode ?? 'none'}`;
    switch (phase.kind) {
      case 'command':
        return { ...common, passed: ran, score: ran ? 1 : 0, summary: ran ? `${phase.argv!.join(' ')} passed` : `${phase.argv!.join(' ')}: ${failedRun}` };
      case 'npm-audit': {
        const audit = assessAudit(command?.output ?? '');
        return { ...common, passed: audit.passed && !command?.timedOut, score: command?.timedOut ? 0 : audit.score, summary: audit.summary };
      }
      case 'registry': {
        const passed = registry.problems.length === 0;
        return { ...common, passed, score: passed ? 1 : 0, summary: passed ? `${phases.registry} is well-formed` : registry.problems.join('; ') };
      }
      case 'otel': {
        if (!ran) return { ...common, passed: false, score: 0, summary: failedRun };
        if (!registry.parsed) return { ...common, passed: false, score: 0, summary: `no usable registry: ${registry.problems.join('; ')}` };
        const spans = capture!.spans;
        // Refused requests and rejected spans are failures too: one good span among malformed ones is no pass.
        const rejected = capture!.rejectedRequests;
        const rejection = rejected ? `${capture!.refused} export requests refused, ${capture!.rejectedSpans} spans rejected` : '';
        if (!spans.length) return { ...common, passed: false, score: 0, summary: rejection ? `no span was accepted: ${rejection}` : 'the run exported no spans' };
        const check = checkSpans(registry.parsed, spans);
        // The share of exported spans (or refused requests, one each) that were accepted and follow the registry.
        const value = (spans.length - check.badSpans) / (spans.length + rejected);
        const problems = [rejection, check.violations.length ? `${check.violations.length} violations in ${spans.length} spans: ${check.violations.slice(0, 5).join('; ')}` : ''].filter(Boolean);
        return {
          ...common,
          passed: problems.length === 0,
          score: Math.round(value * 1000) / 1000,
          summary: problems.length ? problems.join('; ') : `${spans.length} spans follow the registry`,
        };
      }
      case 'score':
        return { ...common, passed: true, score: 1, summary: 'scored by validator.score' };
    }
    throw new Error(`unknown phase kind ${String(phase.kind)}`);
  } finally {
    await capture?.stop();
  }
}
