import { Router } from 'express';
import { z } from 'zod';
import { ENTROPY_LEVELS, MIN_REGENERATION_THRESHOLD, type EntropyLevel } from '../../service-tasks/entropy/entropy-score.js';
import { measureSystem } from '../../service-tasks/entropy/measure.js';
import { rankStrategies } from '../../service-tasks/entropy/ranking.js';
import { simulateWorkflow } from '../../service-tasks/entropy/simulate-strategy.js';
import { strategyById, type Strategy } from '../../service-tasks/entropy/strategies.js';
import { renderCharter } from '../../service-tasks/generator/charter.js';
import { generateStrategyWorkflow } from '../../service-tasks/generator/strategy-workflow.js';
import type { WorkflowEngine } from '../engine/workflow-engine.js';
import { AppError } from '../errors.js';
import type { EntropyStore } from '../../service-tasks/entropy/ports.js';

const System = z.string().min(1).max(200);
// A cycle on a threshold below the LOW/MEDIUM boundary acts on noise (see MIN_REGENERATION_THRESHOLD).
const Threshold = z.number().min(MIN_REGENERATION_THRESHOLD).max(1);
const Body = z
  .object({
    system: System,
    windowSeconds: z.number().int().min(1).default(900),
    baselineSeconds: z.number().int().min(1).default(3600),
    threshold: Threshold.default(0.3),
    level: z.enum(ENTROPY_LEVELS).optional(),
    strategyId: z.string().min(1).optional(),
    variables: z.record(z.string(), z.unknown()).default({}),
  })
  .strict();

/** The level of an entropy and the strategies a level allows, as the cycle decides them. */
export interface RegenerationPolicy {
  level(entropy: number): Promise<EntropyLevel>;
  strategies(level: EntropyLevel, system: string): Promise<Strategy[]>;
}

/**
 * One DMEDI phase at a time, for the CLI (`regenflow dmedi <phase> --system X`) and for
 * operators: the same functions the process's service tasks call, run on request.
 * `auto` starts the dmedi-regeneration process, which runs them all.
 */
export function dmediRouter(engine: WorkflowEngine, store: EntropyStore, policy: RegenerationPolicy): Router {
  const router = Router();

  /** The level given, else the latest measurement's by the deployed level table. */
  const levelOf = async (body: z.infer<typeof Body>): Promise<EntropyLevel | undefined> => {
    if (body.level) return body.level;
    const [latest] = await store.measurements(body.system, 1);
    return latest ? policy.level(latest.score) : undefined;
  };

  const chosenStrategy = async (body: z.infer<typeof Body>) => {
    if (body.strategyId) {
      const strategy = strategyById(body.strategyId);
      if (!strategy) throw new AppError('NOT_FOUND', `strategy ${body.strategyId} not found`);
      return strategy;
    }
    const level = await levelOf(body);
    if (!level) throw new AppError('NO_MEASUREMENT', `measure ${body.system} first, or give level or strategyId`);
    const [best] = rankStrategies(await policy.strategies(level, body.system), await store.outcomeCounts());
    const strategy = best && strategyById(best.id);
    if (!strategy) throw new AppError('NOT_FOUND', `no strategy for level ${level}`);
    return strategy;
  };

  router.post('/:phase', async (req, res) => {
    const body = Body.parse(req.body ?? {});
    switch (req.params.phase) {
      case 'define':
        res.json({
          charter: renderCharter({
            system: body.system,
            instanceId: '(on request)',
            windowSeconds: body.windowSeconds,
            baselineSeconds: body.baselineSeconds,
            threshold: body.threshold,
            maxCycles: 3,
            breakerMinutes: 60,
            repeatBound: 20,
            cadence: "On demand, and on the evolution cycle's cadence (REGENFLOW_EVOLUTION_CADENCE, daily by default).",
          }),
        });
        return;
      case 'measure':
        res.status(201).json(await measureSystem(store, body));
        return;
      case 'explore': {
        const level = (await levelOf(body)) ?? (await policy.level(0));
        res.json({ system: body.system, level, options: rankStrategies(await policy.strategies(level, body.system), await store.outcomeCounts()) });
        return;
      }
      case 'develop': {
        const strategy = await chosenStrategy(body);
        const { processKey, xml } = await generateStrategyWorkflow(body.system, strategy);
        const deployment = await engine.deploy([{ name: `${processKey}.bpmn`, xml }], { name: `${processKey}.bpmn`, source: 'generator' });
        const simulation = await simulateWorkflow(xml, { runs: 200, failureRate: 0.05, seed: 1 });
        res.status(201).json({ strategyId: strategy.id, processKey, definition: deployment.definitions[0], simulation });
        return;
      }
      case 'implement': {
        const strategy = await chosenStrategy(body);
        const { processKey } = await generateStrategyWorkflow(body.system, strategy);
        const instance = await engine.start({ processKey, variables: { system: body.system, strategyId: strategy.id, ...body.variables } });
        res.status(201).json({ strategyId: strategy.id, processKey, instanceId: instance.id, status: instance.status });
        return;
      }
      case 'auto': {
        const instance = await engine.start({
          processKey: 'dmedi-regeneration',
          // threshold (checked like the body's) and system after the free variables: those cannot lower the floor or change the system.
          variables: { windowSeconds: body.windowSeconds, baselineSeconds: body.baselineSeconds, ...body.variables, threshold: Threshold.default(body.threshold).parse(body.variables.threshold), system: body.system },
        });
        res.status(201).json({ processKey: 'dmedi-regeneration', instanceId: instance.id, status: instance.status });
        return;
      }
      default:
        throw new AppError('NOT_FOUND', `no DMEDI phase ${req.params.phase} (define, measure, explore, develop, implement, auto)`);
    }
  });
  return router;
}
