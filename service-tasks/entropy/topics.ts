/**
 * The entropy module's service tasks, one topic each. `entropy.measure` and
 * `entropy.collect` read up to millions of spans, so they are `worker` topics (served as
 * external tasks, outside the engine transition); the rest are short and run inline,
 * idempotent by the handler context's key.
 */
import { z } from 'zod';
import type { ServiceTaskDefinition } from '../registry.js';
import { generateStrategyWorkflow } from '../generator/strategy-workflow.js';
import { ENTROPY_LEVELS, MIN_REGENERATION_THRESHOLD, type EntropyLevel } from './entropy-score.js';
import type { HealthBreakdown } from './health.js';
import { rollBackVersion } from './heal-topics.js';
import { measureSystem } from './measure.js';
import { expectedSettleSeconds, extendedSettleDeadlineSeconds, judgeRecovery, minimumSettleSeconds, settleDeadlineSeconds, settleWaitSeconds } from './recovery.js';
import type { EngineControl, EntropyStore } from './ports.js';
import { rankStrategies } from './ranking.js';
import { callRollbackHook, type RollbackHooks } from './rollback-hooks.js';
import { simulateWorkflow } from './simulate-strategy.js';
import { ENGINE_SYSTEM_PREFIX, offeredStrategies, strategiesFor, strategyById } from './strategies.js';

export interface EntropyTopicDependencies {
  entropyStore: EntropyStore;
  engineControl: EngineControl;
  /** Systems handed over by feature.handoff: entropy.collect measures them first. */
  monitoredSystems?: { names(): Promise<string[]> };
  /** Declared rollback hooks of systems other than regenflow (none: their rollback is left to a person). */
  rollbackHooks?: RollbackHooks;
}

const System = z.string().min(1).max(200);
const Level = z.enum(ENTROPY_LEVELS);
const Threshold = z.coerce.number().min(MIN_REGENERATION_THRESHOLD, `threshold must be at least ${MIN_REGENERATION_THRESHOLD} (the LOW/MEDIUM boundary: below it entropy is noise)`).max(1).default(0.3);

const MeasureInput = z.object({
  system: System,
  windowSeconds: z.coerce.number().int().min(1).max(30 * 86400).default(900),
  baselineSeconds: z.coerce.number().int().min(1).max(90 * 86400).default(3600),
  validationErrors: z.coerce.number().int().min(0).default(0),
  threshold: Threshold,
  /** For regenflow/<process key>: the latest version against the previous one instead of the window before. */
  compareVersions: z.boolean().default(false),
});
const MeasureOutput = z.object({
  measurementId: z.string(),
  entropy: z.number(),
  level: Level,
  health: z.number(),
  healthState: z.string(),
  drift: z.number().int(),
  regenerationNeeded: z.boolean(),
  /** The metrics weighted into health, as `metric name:rule` (empty when health is from spans alone). */
  healthMetrics: z.array(z.string()),
});

const RankedOption = z.object({
  id: z.string(),
  name: z.string(),
  level: z.string(),
  score: z.number(),
  successProbability: z.number(),
  alpha: z.number(),
  beta: z.number(),
  outcomes: z.number(),
  risk: z.number(),
  recoveryMinutes: z.number(),
  resources: z.number(),
});

function metricComponentsOf(measurement: { indicators: Record<string, unknown> }): string[] {
  const health = measurement.indicators.health as HealthBreakdown | undefined;
  return (health?.metrics?.components ?? []).map((component) => `${component.metric}:${component.rule}`);
}

/**
 * Span names and attribute keys that came with the fault: those that appeared at Measure, and
 * operations seen at Measure that were absent from the oldest quarter of its reference or at
 * least five times as frequent at Measure as in it (a fault that began before the window is in
 * the end of the reference too).
 */
function cameWithFault(measurement: { indicators: Record<string, unknown> } | null): string[] {
  const indicators = measurement?.indicators ?? {};
  const details = (indicators.semantic as { details?: { appearedNames?: string[]; appearedKeys?: string[] } } | undefined)?.details;
  const requests = indicators.requests as { baseline: { seconds: number }; current: { seconds: number } } | undefined;
  const operations = (indicators.operations as Array<{ name: string; baseline: { count: number }; current: { count: number }; oldestQuarter?: number | null }> | undefined) ?? [];
  const surged =
    requests && requests.baseline.seconds > 0 && requests.current.seconds > 0
      ? operations
          .filter(
            (operation) =>
              operation.current.count > 0 &&
              // not there at the start of the reference, or far more frequent at Measure than in it
              (operation.oldestQuarter === 0 || operation.current.count / requests.current.seconds >= (5 * operation.baseline.count) / requests.baseline.seconds),
          )
          .map((operation) => operation.name)
      : [];
  return [...new Set([...(details?.appearedNames ?? []), ...(details?.appearedKeys ?? []), ...surged])];
}

/** Seconds of an ISO 8601 duration of days, hours, minutes and seconds (PT8M, PT30S, P1DT2H). */
function isoSeconds(duration: string): number {
  const match = /^P(?:(\d+)D)?(?:T(?:(\d+)H)?(?:(\d+)M)?(?:(\d+)S)?)?$/.exec(duration);
  if (!match) return 480;
  const [, d, h, m, sec] = match;
  return Math.max(1, Number(d ?? 0) * 86400 + Number(h ?? 0) * 3600 + Number(m ?? 0) * 60 + Number(sec ?? 0));
}

export function entropyTopics({ entropyStore: store, engineControl, monitoredSystems, rollbackHooks = new Map() }: EntropyTopicDependencies): ServiceTaskDefinition[] {
  /**
   * The one way a cycle measures, before (entropy.measure) and after (entropy.verify) the
   * strategy, so "recovered?" compares like with like. For regenflow/<key> an open incident
   * of the version now serving starts is a run that cannot go on without a person: a failed
   * check of that version, counted as a validation error both times.
   */
  const measureCycle = async (input: {
    system: string;
    windowSeconds: number;
    baselineSeconds: number;
    validationErrors: number;
    compareVersions?: boolean;
    from?: Date;
    reference?: { from: Date; to: Date };
    cameWithFault?: string[];
  }) => {
    let versions: { previous: number; latest: number } | undefined;
    let validationErrors = input.validationErrors;
    if (input.system.startsWith(ENGINE_SYSTEM_PREFIX)) {
      const key = input.system.slice(ENGINE_SYSTEM_PREFIX.length);
      const [latest, previous] = await engineControl.versions(key);
      if (input.compareVersions && latest && previous) versions = { previous: previous.version, latest: latest.version };
      if (latest) validationErrors += await engineControl.openIncidents(key, latest.version);
    }
    return measureSystem(store, {
      system: input.system,
      windowSeconds: input.windowSeconds,
      baselineSeconds: input.baselineSeconds,
      validationErrors,
      versions,
      ...(!versions && input.from && { from: input.from }),
      ...(!versions && input.reference && { reference: input.reference }),
      ...(input.cameWithFault && { cameWithFault: input.cameWithFault }),
    });
  };

  const measure: ServiceTaskDefinition<typeof MeasureInput, typeof MeasureOutput> = {
    topic: 'entropy.measure',
    description: 'Measures a system: health, drift indicators, entropy score and level over a window against the baseline before it',
    mode: 'worker',
    input: MeasureInput,
    output: MeasureOutput,
    async handler(input) {
      const measurement = await measureCycle(input);
      return {
        measurementId: measurement.id ?? '',
        entropy: measurement.score,
        level: measurement.level,
        health: measurement.health,
        healthState: measurement.healthState,
        drift: measurement.drift,
        regenerationNeeded: measurement.score >= input.threshold,
        healthMetrics: metricComponentsOf(measurement),
      };
    },
  };

  const VerifyInput = z.object({
    system: System,
    verifyWindowSeconds: z.coerce.number().int().min(1).max(30 * 86400).default(900),
    baselineSeconds: z.coerce.number().int().min(1).max(90 * 86400).default(3600),
    validationErrors: z.coerce.number().int().min(0).default(0),
    /** The cycle's threshold and the entropy before (entropy.measure's): what "recovered" is judged by. */
    threshold: Threshold,
    entropy: z.number().min(0).max(1).optional(),
    /** entropy.measure's measurement: its reference window is the state before the fault, its findings what must get better. */
    measurementId: z.string().max(40).optional(),
    /** entropy.settle's: the settle window starts here; past the deadline an unclear verdict is "not recovered". */
    settleFrom: z.string().datetime().optional(),
    settleDeadline: z.string().datetime().optional(),
    /** entropy.settle's: the end of the cycle's settle budget, and whether this window follows a rollback (then nothing comes after it). */
    settleBudgetEnd: z.string().datetime().optional(),
    settleAfterRollback: z.boolean().default(false),
  });
  const verify: ServiceTaskDefinition<typeof VerifyInput> = {
    topic: 'entropy.verify',
    description:
      "Measures the settle window since the strategy ran against the state before the fault (entropy.measure's reference window): recovered when it is LOW there and every finding is significantly better than at Measure; not recovered when it is still MEDIUM or worse; insufficient (look again) otherwise, and not recovered past the settle deadline",
    mode: 'worker',
    input: VerifyInput,
    output: z.object({
      measurementAfterId: z.string(),
      entropyAfter: z.number(),
      levelAfter: Level,
      healthAfter: z.number(),
      driftAfter: z.number().int(),
      recovered: z.boolean(),
      verdict: z.enum(['recovered', 'not-recovered', 'insufficient']),
      evidenceSufficient: z.boolean(),
      verdictReasons: z.array(z.string()),
      settleWait: z.string(),
      /** Moved later when the verdict was due but still unclear, every finding leaning "healthy" (see extendedSettleDeadlineSeconds). */
      settleDeadline: z.string().optional(),
    }),
    async handler(input) {
      const before = input.measurementId ? await store.measurement(input.measurementId) : null;
      const windows = before?.indicators.windows as { reference: { from: string; to: string } } | undefined;
      const now = Date.now();
      const from = input.settleFrom ? new Date(input.settleFrom) : new Date(now - input.verifyWindowSeconds * 1000);
      const measurement = await measureCycle({
        ...input,
        windowSeconds: Math.max(1, Math.round((now - from.getTime()) / 1000)),
        from,
        ...(windows && { reference: { from: new Date(windows.reference.from), to: new Date(windows.reference.to) } }),
        cameWithFault: cameWithFault(before),
      });
      const judgement = judgeRecovery({ before: before && before.system === input.system ? before : null, after: measurement, threshold: input.threshold });
      let { verdict, reasons } = judgement;
      const requests = (measurement.indicators.requests as { baseline: { count: number; seconds: number } } | undefined)?.baseline;
      const wait = settleWaitSeconds(requests && requests.seconds ? requests.count / requests.seconds : 0);
      let deadline = input.settleDeadline ? new Date(input.settleDeadline).getTime() : null;
      let extended = false;
      if (verdict === 'insufficient' && (deadline === null || now >= deadline)) {
        const later = input.settleBudgetEnd
          ? extendedSettleDeadlineSeconds({
              budgetLeftSeconds: (new Date(input.settleBudgetEnd).getTime() - now) / 1000,
              waitSeconds: wait,
              minimumSeconds: minimumSettleSeconds(before),
              leansHealthy: judgement.leansHealthy,
              afterRollback: input.settleAfterRollback,
            })
          : null;
        if (later !== null) {
          deadline = now + later * 1000;
          extended = true;
          reasons = [`every finding leans healthy but is not yet clear at the planned time: looking again for up to ${Math.round(later)} s more`, ...reasons];
        } else {
          verdict = 'not-recovered';
          reasons = ['no clear evidence of recovery within the settle time', ...reasons];
        }
      }
      const left = deadline !== null ? Math.max(1, Math.ceil((deadline - now) / 1000)) : wait;
      return {
        measurementAfterId: measurement.id ?? '',
        entropyAfter: measurement.score,
        levelAfter: measurement.level,
        healthAfter: measurement.health,
        driftAfter: measurement.drift,
        recovered: verdict === 'recovered',
        verdict,
        evidenceSufficient: verdict !== 'insufficient',
        verdictReasons: reasons.slice(0, 20),
        settleWait: `PT${Math.min(wait, left)}S`,
        ...(extended && deadline !== null && { settleDeadline: new Date(deadline).toISOString() }),
      };
    },
  };

  const SettleInput = z.object({
    system: System,
    measurementId: z.string().max(40).optional(),
    /** The longest a cycle waits for clear evidence, the strategy's verdict and the one after a rollback together (ISO 8601). */
    settleDuration: z.string().regex(/^P(T?\d+[DHMS])+$/, 'an ISO 8601 duration such as PT8M').default('PT8M'),
    /** End of the cycle's settle budget, set by its first settle: present, this settle follows a rollback and gets what is left. */
    settleBudgetEnd: z.string().datetime().optional(),
  });
  const settle: ServiceTaskDefinition<typeof SettleInput> = {
    topic: 'entropy.settle',
    description:
      "Starts the settle window after a strategy ran (or after a rollback): its start, its deadline (the seconds the verdict's tests are expected to need at the system's traffic, within the cycle's one settle budget, settleDuration), and the first wait",
    mode: 'inline',
    input: SettleInput,
    output: z.object({ settleFrom: z.string(), settleDeadline: z.string(), settleWait: z.string(), settleBudgetEnd: z.string(), settleAfterRollback: z.boolean() }),
    async handler(input) {
      const before = input.measurementId ? await store.measurement(input.measurementId) : null;
      const requests = (before?.indicators.requests as { baseline: { count: number; seconds: number } } | undefined)?.baseline;
      const now = Date.now();
      const budgetEnd = input.settleBudgetEnd ? new Date(input.settleBudgetEnd).getTime() : now + isoSeconds(input.settleDuration) * 1000;
      const left = Math.max(0, (budgetEnd - now) / 1000);
      const wait = settleWaitSeconds(requests && requests.seconds ? requests.count / requests.seconds : 0);
      const seconds = settleDeadlineSeconds({
        leftSeconds: left,
        waitSeconds: wait,
        expectedSeconds: expectedSettleSeconds(before),
        minimumSeconds: minimumSettleSeconds(before),
        afterRollback: Boolean(input.settleBudgetEnd),
      });
      const first = Math.max(1, Math.min(wait, seconds));
      return {
        settleFrom: new Date(now).toISOString(),
        settleDeadline: new Date(now + seconds * 1000).toISOString(),
        settleWait: `PT${Math.ceil(first)}S`,
        settleBudgetEnd: new Date(budgetEnd).toISOString(),
        settleAfterRollback: Boolean(input.settleBudgetEnd),
      };
    },
  };

  const CircuitInput = z.object({
    system: System,
    maxCycles: z.coerce.number().int().min(1).default(3),
    breakerMinutes: z.coerce.number().min(1).default(60),
  });
  const circuitBreaker: ServiceTaskDefinition<typeof CircuitInput> = {
    topic: 'entropy.circuit-breaker',
    description: 'Registers a regeneration cycle; opens (refuses it) when the system already had maxCycles cycles within breakerMinutes',
    mode: 'inline',
    input: CircuitInput,
    output: z.object({ circuitOpen: z.boolean(), recentCycles: z.number().int() }),
    async handler(input, context) {
      const since = new Date(Date.now() - input.breakerMinutes * 60_000);
      const { recent } = await store.openCycle({ idempotencyKey: context.idempotencyKey, system: input.system, instanceId: context.instanceId }, since);
      const circuitOpen = recent > input.maxCycles;
      if (circuitOpen) await store.updateCycle(context.instanceId, { status: 'refused' });
      return { circuitOpen, recentCycles: recent };
    },
  };

  const ExploreInput = z.object({
    system: System,
    level: Level,
    /** The strategies the level allows, from the regeneration-strategies decision table; without it, the catalogue's own list for the level. */
    candidateStrategies: z.array(z.string()).optional(),
  });
  const explore: ServiceTaskDefinition<typeof ExploreInput> = {
    topic: 'entropy.explore',
    description: "Ranks the strategies the level allows (candidateStrategies, else the catalogue's): learned success probability 40 %, recovery time 30 %, risk 20 %, resources 10 %",
    mode: 'inline',
    input: ExploreInput,
    output: z.object({ options: z.array(RankedOption), strategyId: z.string(), strategyName: z.string(), successProbability: z.number() }),
    async handler(input) {
      const candidates = input.candidateStrategies ? offeredStrategies(input.candidateStrategies, input.system) : strategiesFor(input.level as EntropyLevel, input.system);
      const ranked = rankStrategies(candidates, await store.outcomeCounts());
      const best = ranked[0];
      if (!best) throw new Error(`no strategy for level ${input.level}`);
      return { options: ranked, strategyId: best.id, strategyName: best.name, successProbability: best.successProbability };
    },
  };

  const SimulateInput = z.object({
    system: System,
    strategyId: z.string(),
    entropy: z.number().min(0).max(1),
    successProbability: z.number().min(0).max(1),
    simulationRuns: z.coerce.number().int().min(1).max(1000).default(200),
    injectedFailureRate: z.coerce.number().min(0).max(1).default(0.05),
    minSimulatedSuccess: z.coerce.number().min(0).max(1).default(0.8),
  });
  const simulate: ServiceTaskDefinition<typeof SimulateInput> = {
    topic: 'entropy.simulate',
    description: "Runs the strategy's generated workflow in isolation (in-memory engine) with injected step failures; improved = it completes often enough to lower the expected entropy",
    mode: 'inline',
    input: SimulateInput,
    output: z.object({ simulatedSuccessRate: z.number(), expectedEntropy: z.number(), improved: z.boolean() }),
    async handler(input, context) {
      const strategy = strategyById(input.strategyId);
      if (!strategy) throw new Error(`unknown strategy ${input.strategyId}`);
      const { xml } = await generateStrategyWorkflow(input.system, strategy);
      const seed = [...context.idempotencyKey].reduce((hash, char) => (hash * 31 + char.charCodeAt(0)) >>> 0, 7);
      const result = await simulateWorkflow(xml, { runs: input.simulationRuns, failureRate: input.injectedFailureRate, seed });
      // Expected entropy if the strategy, when it runs through, works as often as it has worked before.
      const expectedEntropy = input.entropy * (1 - result.successRate * input.successProbability);
      return {
        simulatedSuccessRate: result.successRate,
        expectedEntropy,
        improved: result.successRate >= input.minSimulatedSuccess && expectedEntropy < input.entropy,
      };
    },
  };

  const SnapshotInput = z.object({ system: System, strategyId: z.string(), measurementId: z.string().optional(), entropy: z.number().optional() });
  const snapshot: ServiceTaskDefinition<typeof SnapshotInput> = {
    topic: 'entropy.snapshot',
    description: 'Records what a rollback returns to: the measurement before, and for regenflow processes the latest version',
    mode: 'inline',
    input: SnapshotInput,
    output: z.object({ snapshotVersion: z.number().int().nullable() }),
    async handler(input, context) {
      let version: number | null = null;
      if (input.system.startsWith(ENGINE_SYSTEM_PREFIX)) {
        version = (await engineControl.versions(input.system.slice(ENGINE_SYSTEM_PREFIX.length)))[0]?.version ?? null;
      }
      await store.updateCycle(context.instanceId, {
        strategyId: input.strategyId,
        snapshot: { measurementId: input.measurementId ?? null, entropy: input.entropy ?? null, version, at: new Date().toISOString() },
      });
      return { snapshotVersion: version };
    },
  };

  const RollbackInput = z.object({
    system: System,
    snapshotVersion: z.number().int().nullable().optional(),
    entropy: z.number().optional(),
    entropyAfter: z.number().optional(),
  });
  const rollback: ServiceTaskDefinition<typeof RollbackInput> = {
    topic: 'entropy.rollback',
    description:
      "Rolls a failed cycle back: a regenflow process returns to the snapshot's version; another system through the rollback hook its operator declared (REGENFLOW_ROLLBACK_HOOKS). rolledBack is false, with a reason, when there is none or it does not answer 2xx",
    // Calls out over HTTP (up to the hook's timeout): not inside an engine transition.
    mode: 'worker',
    input: RollbackInput,
    output: z.object({ rolledBack: z.boolean(), rollbackVersion: z.number().int().nullable(), rollbackReason: z.string() }),
    async handler(input, context) {
      let result: { rolledBack: boolean; rollbackVersion: number | null; rollbackReason: string };
      if (input.system.startsWith(ENGINE_SYSTEM_PREFIX)) {
        let rollbackVersion: number | null = null;
        let rollbackReason = '';
        const key = input.system.slice(ENGINE_SYSTEM_PREFIX.length);
        if (input.snapshotVersion) {
          const versions = await engineControl.versions(key);
          if (versions[0] && versions[0].version !== input.snapshotVersion) ({ version: rollbackVersion, summary: rollbackReason } = await rollBackVersion(engineControl, key, input.snapshotVersion, versions));
        }
        if (rollbackVersion === null) rollbackReason = `no version of ${key} was deployed since the snapshot: nothing to undo`;
        result = { rolledBack: true, rollbackVersion, rollbackReason };
      } else {
        const hook = rollbackHooks.get(input.system);
        const cycle = await store.cycleOf(context.instanceId);
        const called = hook
          ? await callRollbackHook(
              hook,
              {
                system: input.system,
                cycleInstanceId: context.instanceId,
                strategyId: cycle?.strategyId ?? null,
                snapshot: cycle?.snapshot ?? null,
                entropyBefore: input.entropy ?? null,
                entropyAfter: input.entropyAfter ?? null,
              },
              context.idempotencyKey,
            )
          : { ok: false, status: null, reason: `no rollback hook is configured for ${input.system} (REGENFLOW_ROLLBACK_HOOKS)` };
        result = { rolledBack: called.ok, rollbackVersion: null, rollbackReason: called.reason };
      }
      await store.updateCycle(context.instanceId, {
        status: result.rolledBack ? 'rolled-back' : 'rollback-failed',
        rollback: { rolledBack: result.rolledBack, reason: result.rollbackReason, at: new Date().toISOString() },
      });
      return result;
    },
  };

  const LearnInput = z.object({
    system: System,
    strategyId: z.string(),
    level: Level,
    /** Entropy before the cycle (the first measurement's `entropy`). */
    entropy: z.number(),
    entropyAfter: z.number().optional(),
    /** entropy.verify's verdict. */
    recovered: z.boolean().optional(),
    success: z.boolean().optional(),
  });
  const learn: ServiceTaskDefinition<typeof LearnInput> = {
    topic: 'entropy.learn',
    description: "Records a strategy's outcome (success = given, else entropy.verify's recovered, else entropy after < before) and returns its updated success probability",
    mode: 'inline',
    input: LearnInput,
    output: z.object({ learnedSuccess: z.boolean(), successProbability: z.number(), outcomes: z.number().int() }),
    async handler(input, context) {
      const success = input.success ?? input.recovered ?? (input.entropyAfter !== undefined && input.entropyAfter < input.entropy);
      await store.recordOutcome({
        idempotencyKey: context.idempotencyKey,
        system: input.system,
        strategyId: input.strategyId,
        level: input.level,
        success,
        entropyBefore: input.entropy,
        entropyAfter: input.entropyAfter ?? null,
        instanceId: context.instanceId,
      });
      if (success) await store.updateCycle(context.instanceId, { status: 'recovered' });
      const strategy = strategyById(input.strategyId);
      const [ranked] = strategy ? rankStrategies([strategy], await store.outcomeCounts()) : [];
      return { learnedSuccess: success, successProbability: ranked?.successProbability ?? 0, outcomes: ranked?.outcomes ?? 0 };
    },
  };

  const CollectInput = z.object({
    windowSeconds: z.coerce.number().int().min(1).default(900),
    baselineSeconds: z.coerce.number().int().min(1).default(3600),
    maxSystems: z.coerce.number().int().min(1).max(500).default(50),
    threshold: Threshold,
  });
  const collect: ServiceTaskDefinition<typeof CollectInput> = {
    topic: 'entropy.collect',
    description: 'Measures the monitored systems and every system that sends spans, and reports the worst one as the pattern to act on (none when all are below the threshold)',
    mode: 'worker',
    input: CollectInput,
    output: z.object({
      systemsMeasured: z.number().int(),
      patternFound: z.boolean(),
      system: z.string().nullable(),
      entropy: z.number(),
      level: Level,
    }),
    async handler(input) {
      // Systems that send telemetry come first, handed-over ones among them before the rest;
      // handed-over systems that have sent nothing yet fill the slots left, so stale
      // registrations never crowd out systems that report.
      const registered = (await monitoredSystems?.names()) ?? [];
      const sending = await store.systems();
      const reporting = new Set(sending);
      const systems = [...new Set([...registered.filter((name) => reporting.has(name)), ...sending, ...registered])].slice(0, input.maxSystems);
      let worst: { system: string; entropy: number; level: EntropyLevel } | null = null;
      for (const system of systems) {
        // Measured as a cycle measures: the evolution cycle's verify compares against this.
        const measurement = await measureCycle({ system, windowSeconds: input.windowSeconds, baselineSeconds: input.baselineSeconds, validationErrors: 0 });
        if (!worst || measurement.score > worst.entropy) worst = { system, entropy: measurement.score, level: measurement.level };
      }
      const patternFound = !!worst && worst.entropy >= input.threshold;
      return { systemsMeasured: systems.length, patternFound, system: worst?.system ?? null, entropy: worst?.entropy ?? 0, level: worst?.level ?? 'LOW' };
    },
  };

  return [measure, verify, settle, circuitBreaker, explore, simulate, snapshot, rollback, learn, collect] as ServiceTaskDefinition[];
}
