import { z } from 'zod';
import { BpmnErrorSignal } from '../../src/engine/runtime/service-binding.js';
import type { PhaseResult, ValidationRunStore } from '../../src/store/validation-runs.js';
import { defineTopic } from '../agent/agent-topics.js';
import type { LiveLogFactory } from '../agent/live-log.js';
import { REF, type WorktreeRunner } from '../agent/worktree-runner.js';
import type { ServiceTaskDefinition } from '../registry.js';
import { PHASE_NAMES, type PhasesFile } from './phase-config.js';
import { runPhase } from './phase-runner.js';
import { score } from './scoring.js';
import { checkActivitySpans, ExpectationSchema } from './span-validation.js';

export interface ValidatorDependencies {
  runner: WorktreeRunner;
  runs: ValidationRunStore;
  phases: () => Promise<PhasesFile>;
  /** Server default of the quality gate; the phases file may set its own. */
  gate: number;
  /** What the nightly CI run validates (server configuration). */
  nightly?: { repository?: string; ref: string };
  /** Live logs of the phases while they run (absent: none are written). */
  liveLog?: LiveLogFactory;
}

export const PhaseResultSchema = z.object({
  name: z.string(),
  passed: z.boolean(),
  score: z.number(),
  weight: z.number(),
  required: z.boolean(),
  durationMs: z.number(),
  exitCode: z.number().nullable().optional(),
  timedOut: z.boolean().optional(),
  summary: z.string(),
  output: z.string().optional(),
  skipped: z.boolean().optional(),
  setupRan: z.boolean().optional(),
});

const Target = z.object({ repository: z.string().min(1).max(1000), ref: z.string().regex(REF, 'must be a plain git ref'), subject: z.string().max(300).optional() });
const VerdictSchema = z.object({
  runId: z.string(),
  /** The commit the run validated (its ref resolved once, when the run started). */
  commit: z.string().nullable(),
  score: z.number(),
  gate: z.number(),
  passed: z.boolean(),
  phaseCount: z.number(),
  vitalFew: z.array(z.string()),
  skipped: z.array(z.string()),
  requiredFailed: z.array(z.string()),
  vitalFailed: z.array(z.string()),
  reasons: z.array(z.string()),
});
const VerdictOutput = z.object({
  validation: VerdictSchema,
  qualityScore: z.number(),
  gatePassed: z.boolean(),
  // A resubmitted run that got this far clears what the failed one left for notify.
  failedPhase: z.null(),
  failedStep: z.null(),
});

/**
 * The validator's topics: one per phase (`validator.unit`, …) for pipelines that model the
 * phases as tasks, `validator.score` (80/20 scoring and the gate over those results),
 * `validator.run` (every phase in one task) and `validator.process-run` (span checks).
 * The phases of one instance share a worktree (what setup installed stays for the rest).
 */
export function validatorTopics(dependencies: ValidatorDependencies): ServiceTaskDefinition[] {
  const { runner, runs } = dependencies;
  const workspace = (instanceId: string) => `ci-${instanceId}`;
  const gateOf = (file: PhasesFile) => file.gate ?? dependencies.gate;

  /**
   * The commit this phase validates. The ref is resolved once per run, server-side: the first
   * configured phase starts a run (a resubmission goes through it again), and so does a phase
   * that already has a result for the pinned commit (feature-lifecycle runs integration again
   * after a refinement moved the branch). Every other phase keeps the run's commit.
   */
  const pinFor = async (file: PhasesFile, name: string, target: { repository: string; ref: string; instanceId: string }) => {
    const pinned = file.phases[0]?.name === name ? undefined : await runs.pinned(target.instanceId, target.ref);
    if (pinned && !(await runs.phaseResults(target.instanceId, { commit: pinned })).has(name)) return pinned;
    return runs.pin(target.instanceId, target.ref, await runner.resolve(target.repository, target.ref));
  };

  const phaseTopic = (name: (typeof PHASE_NAMES)[number]) =>
    defineTopic({
      topic: `validator.${name}`,
      description: `validation phase ${name}: its configured command, run in the repository's worktree; a required phase that fails raises PHASE_FAILED`,
      mode: 'worker',
      bpmnErrors: ['PHASE_FAILED'],
      input: Target,
      output: z.object({ [`phase_${name}`]: PhaseResultSchema, lastPhase: z.string() }),
      handler: async ({ repository, ref }, context) => {
        const file = await dependencies.phases();
        const phase = file.phases.find((candidate) => candidate.name === name);
        if (!phase) return { [`phase_${name}`]: { name, passed: true, score: 1, weight: 0, required: false, durationMs: 0, summary: 'not configured' }, lastPhase: name };
        const commit = await pinFor(file, name, { repository, ref, instanceId: context.instanceId });
        const log = dependencies.liveLog?.({ instanceId: context.instanceId, activityId: context.activityId, run: name });
        const result = await runPhase(runner, file, phase, { repository, ref: commit, workspace: workspace(context.instanceId), instanceId: context.instanceId, log });
        // The record validator.score reads: the phase_* variable below is for people and conditions only.
        await runs.recordPhase(context.instanceId, { ref, commit }, result);
        if (phase.required && !result.passed) {
          throw new BpmnErrorSignal('PHASE_FAILED', `phase ${name} failed: ${result.summary}`, { failedPhase: name, [`phase_${name}`]: result });
        }
        return { [`phase_${name}`]: result, lastPhase: name };
      },
    });

  const verdict = async (file: PhasesFile, results: PhaseResult[], target: { subject: string; ref: string; commit: string | null; instanceId: string }) => {
    const decided = score(results, gateOf(file));
    const row = await runs.insert({ subject: target.subject, instanceId: target.instanceId, ref: target.ref, commit: target.commit, score: decided.score, gate: decided.gate, passed: decided.passed, phases: results });
    return { validation: { runId: row.id, commit: target.commit, ...decided }, qualityScore: decided.score, gatePassed: decided.passed, failedPhase: null, failedStep: null };
  };

  const scoreTopic = defineTopic({
    topic: 'validator.score',
    description: "80/20 scoring of the phase results this instance's phase tasks recorded (never phase_* variables) and the quality gate; stores a validation run",
    mode: 'worker',
    input: Target,
    output: VerdictOutput,
    handler: async (input, context) => {
      const file = await dependencies.phases();
      // Recorded server-side by the phase tasks of this instance for the commit its run pinned: a start or
      // task variable cannot fake one, and a result of another commit (the branch moved) does not count.
      const commit = (await runs.pinned(context.instanceId, input.ref)) ?? null;
      const recorded = commit ? await runs.phaseResults(context.instanceId, { ref: input.ref, commit }) : new Map<string, PhaseResult>();
      const results: PhaseResult[] = [];
      for (const phase of file.phases) {
        if (phase.kind === 'score') continue;
        // A configured phase that never reported counts as failed: the score cannot skip it.
        results.push(recorded.get(phase.name) ?? { name: phase.name, passed: false, score: 0, weight: phase.weight, required: phase.required, durationMs: 0, summary: 'no result' });
      }
      await runner.discard(input.repository, workspace(context.instanceId)).catch(() => {});
      return verdict(file, results, { subject: input.subject ?? input.repository, ref: input.ref, commit, instanceId: context.instanceId });
    },
  });

  const runTopic = defineTopic({
    topic: 'validator.run',
    description: 'every configured phase in one task, then 80/20 scoring and the quality gate; stores a validation run',
    mode: 'worker',
    input: Target,
    output: VerdictOutput,
    handler: async ({ repository, ref, subject }, context) => {
      const file = await dependencies.phases();
      const key = `run-${context.instanceId}-${context.executionId}`;
      // One task is one run: its commit is what the ref names now, for every phase and the deploy after it.
      const commit = await runs.pin(context.instanceId, ref, await runner.resolve(repository, ref));
      const results: PhaseResult[] = [];
      try {
        for (const phase of file.phases) {
          if (phase.kind === 'score') continue;
          const log = dependencies.liveLog?.({ instanceId: context.instanceId, activityId: context.activityId, run: phase.name });
          const result = await runPhase(runner, file, phase, { repository, ref: commit, workspace: key, instanceId: context.instanceId, log });
          results.push(result);
          // A required phase failing ends the run: what follows would build on sand.
          if (phase.required && !result.passed) break;
        }
      } finally {
        await runner.discard(repository, key).catch(() => {});
      }
      for (const phase of file.phases) {
        if (phase.kind !== 'score' && !results.some((result) => result.name === phase.name)) {
          results.push({ name: phase.name, passed: false, score: 0, weight: phase.weight, required: phase.required, durationMs: 0, summary: 'not run: an earlier required phase failed' });
        }
      }
      return verdict(file, results, { subject: subject ?? repository, ref, commit, instanceId: context.instanceId });
    },
  });

  const processRun = defineTopic({
    topic: 'validator.process-run',
    description: "checks a process instance's spans: expected activities ran, within their duration targets",
    mode: 'worker',
    input: z.object({ targetInstanceId: z.string().uuid(), expectations: z.array(ExpectationSchema).min(1).max(200) }),
    output: z.object({ spanCheck: z.object({ passed: z.boolean(), score: z.number(), problems: z.array(z.string()) }) }),
    handler: async ({ targetInstanceId, expectations }) => {
      const check = checkActivitySpans(await runs.activitySpans(targetInstanceId), expectations);
      return { spanCheck: { passed: check.passed, score: check.score, problems: check.problems } };
    },
  });

  const notify = defineTopic({
    topic: 'ci.notify',
    description: 'tells the author what failed (a notification variable and a history entry) and frees the pipeline worktree',
    mode: 'worker',
    input: z.object({ repository: z.string().optional(), ref: z.string().optional(), failedPhase: z.string().nullish(), failedStep: z.string().nullish(), validation: z.object({ reasons: z.array(z.string()) }).optional() }).passthrough(),
    output: z.object({ notification: z.object({ ref: z.string().nullable(), reason: z.string(), at: z.string() }) }),
    handler: async (input, context) => {
      if (input.repository) await runner.discard(input.repository, workspace(context.instanceId)).catch(() => {});
      const recorded = input.failedPhase ? (await runs.phaseResults(context.instanceId)).get(input.failedPhase) : undefined;
      const reason = input.failedPhase
        ? `phase ${input.failedPhase} failed${recorded ? `: ${recorded.summary}` : ''}`
        : input.failedStep
          ? `${input.failedStep} failed`
          : input.validation
            ? // No reasons: the 80/20 rule passed the run and the policy table (ci-quality-gate) failed it.
              `quality gate: ${input.validation.reasons.join('; ') || 'failed by the quality gate policy (ci-quality-gate)'}`
            : 'the pipeline failed';
      return { notification: { ref: input.ref ?? null, reason, at: new Date().toISOString() } };
    },
  });

  const nightlyTarget = defineTopic({
    topic: 'ci.nightly-target',
    description: 'what the nightly run validates: REGENFLOW_CI_REPOSITORY at REGENFLOW_CI_REF',
    mode: 'inline',
    input: z.object({}).passthrough(),
    output: z.object({ configured: z.boolean(), repository: z.string().optional(), ref: z.string().optional(), previousRef: z.string().optional(), subject: z.string().optional() }),
    handler: async () => {
      const nightly = dependencies.nightly;
      // Not configured is a normal state of a fresh server: the run ends without work.
      if (!nightly?.repository) return { configured: false };
      return { configured: true, repository: nightly.repository, ref: nightly.ref, previousRef: nightly.ref, subject: `nightly:${nightly.repository}` };
    },
  });

  return [...PHASE_NAMES.filter((name) => name !== 'score').map(phaseTopic), scoreTopic, runTopic, processRun, notify, nightlyTarget];
}
