/** The generator's DMEDI topics: the Define phase's charter and the Develop phase's strategy workflow. */
import { z } from 'zod';
import type { EngineControl } from '../entropy/ports.js';
import { MIN_REGENERATION_THRESHOLD } from '../entropy/entropy-score.js';
import { strategyById } from '../entropy/strategies.js';
import type { ServiceTaskDefinition } from '../registry.js';
import { renderCharter } from './charter.js';
import { generateStrategyWorkflow } from './strategy-workflow.js';

export function dmediGeneratorTopics({ engineControl }: { engineControl: EngineControl }): ServiceTaskDefinition[] {
  const CharterInput = z.object({
    system: z.string().min(1).max(200),
    windowSeconds: z.coerce.number().int().min(1).default(900),
    baselineSeconds: z.coerce.number().int().min(1).default(3600),
    threshold: z.coerce.number().min(MIN_REGENERATION_THRESHOLD).max(1).default(0.3),
    maxCycles: z.coerce.number().int().min(1).default(3),
    breakerMinutes: z.coerce.number().min(1).default(60),
    repeatBound: z.coerce.number().int().min(1).default(20),
    cadence: z.string().default("On demand, and on the evolution cycle's cadence (REGENFLOW_EVOLUTION_CADENCE, daily by default)."),
    targetScore: z.coerce.number().min(0).max(1).optional(),
    verifyWindowSeconds: z.coerce.number().int().min(1).default(900),
    /** The longest a cycle waits, after its strategy ran, for clear evidence of recovery (it looks again as often as the traffic allows). */
    settleDuration: z.string().regex(/^P(T?\d+[DHMS])+$/, 'an ISO 8601 duration such as PT8M').default('PT8M'),
  });
  const charter: ServiceTaskDefinition<typeof CharterInput> = {
    topic: 'generator.charter',
    description: 'Renders the regeneration charter (system, thresholds, success criteria, cadence) from its nunjucks template',
    mode: 'inline',
    input: CharterInput,
    // The charter's settings become process variables: the later phases read them.
    output: z.object({
      charter: z.string(),
      windowSeconds: z.number(),
      baselineSeconds: z.number(),
      threshold: z.number(),
      verifyWindowSeconds: z.number(),
      settleDuration: z.string(),
    }),
    async handler(input, context) {
      return {
        charter: renderCharter({ ...input, instanceId: context.instanceId }),
        windowSeconds: input.windowSeconds,
        baselineSeconds: input.baselineSeconds,
        threshold: input.threshold,
        verifyWindowSeconds: input.verifyWindowSeconds,
        settleDuration: input.settleDuration,
      };
    },
  };

  const WorkflowInput = z.object({ system: z.string().min(1).max(200), strategyId: z.string().min(1) });
  const strategyWorkflow: ServiceTaskDefinition<typeof WorkflowInput> = {
    topic: 'generator.strategy-workflow',
    description: "Builds the chosen strategy's workflow (bpmn-moddle, laid out by bpmn-auto-layout) and deploys it, linted, as a new definition",
    mode: 'inline',
    input: WorkflowInput,
    output: z.object({ strategyProcessKey: z.string(), strategyDefinitionId: z.string(), strategyVersion: z.number().int() }),
    async handler(input) {
      const strategy = strategyById(input.strategyId);
      if (!strategy) throw new Error(`unknown strategy ${input.strategyId}`);
      const { processKey, xml } = await generateStrategyWorkflow(input.system, strategy);
      const deployed = await engineControl.deploy(`${processKey}.bpmn`, xml);
      return { strategyProcessKey: deployed.key, strategyDefinitionId: deployed.id, strategyVersion: deployed.version };
    },
  };
  return [charter, strategyWorkflow] as ServiceTaskDefinition[];
}
