import { z } from 'zod';
import { healTopics } from '../../../service-tasks/entropy/heal-topics.js';
import { entropyLevel, type EntropyLevel } from '../../../service-tasks/entropy/entropy-score.js';
import { offeredStrategies, strategiesFor, type Strategy } from '../../../service-tasks/entropy/strategies.js';
import { dmediGeneratorTopics } from '../../../service-tasks/generator/dmedi-topics.js';
import { dmediRouter, type RegenerationPolicy } from '../../api/dmedi-router.js';
import type { DecisionService } from '../../decisions/index.js';
import { AppError } from '../../errors.js';
import type { RouteDoc } from '../../api/route-spec.js';
import { defineModule } from '../product-module.js';
import { entropyModule } from '../entropy/index.js';

const Json = z.record(z.string(), z.unknown());

/**
 * DMEDI regeneration: the self-healing actions on the engine (heal.*), the charter and the
 * strategy workflow the cycle generates, and each phase by hand at /api/entropy/dmedi.
 */
export const dmediModule = defineModule({
  name: 'dmedi',
  tables: [],
  depends: [entropyModule],
  init({ engine, decisions }, use) {
    const { store, engineControl } = use(entropyModule);
    return {
      service: undefined,
      topics: () => [...healTopics({ engineControl }), ...dmediGeneratorTopics({ engineControl })],
      routes: [{ path: '/api/entropy/dmedi', roles: ['owner', 'operator'], router: dmediRouter(engine, store, deployedPolicy(decisions)), docs: DMEDI_ROUTES }],
    };
  },
});

/**
 * The policy the cycle follows, for the phases run by hand: the latest deployed versions of the
 * tables dmedi-regeneration.bpmn calls (entropy-level, regeneration-strategies in
 * processes/entropy-level.dmn), so a preview offers what the next cycle would. Where a table is
 * not deployed, the code's catalogue, which the shipped tables are tested against.
 */
function deployedPolicy(decisions: DecisionService): RegenerationPolicy {
  const evaluate = async <T>(key: string, variables: Record<string, unknown>, read: (result: Array<Record<string, unknown>>) => T, fallback: () => T): Promise<T> => {
    try {
      return read((await decisions.evaluate({ key }, variables)).evaluation.result);
    } catch (error) {
      if (error instanceof AppError && error.code === 'NOT_FOUND') return fallback();
      throw error;
    }
  };
  return {
    level: (entropy: number) =>
      evaluate<EntropyLevel>(
        'entropy-level',
        { entropy },
        ([row]) => {
          // A deployed table with a gap is a policy to repair, not a level to guess.
          if (!row?.level) throw new AppError('DECISION_RESULT_MAPPING', `the deployed entropy-level table gives no level for entropy ${entropy}`);
          return row.level as EntropyLevel;
        },
        () => entropyLevel(entropy),
      ),
    strategies: (level: EntropyLevel, system: string) =>
      evaluate<Strategy[]>('regeneration-strategies', { level, system }, (rows) => offeredStrategies(rows.map((row) => String(row.strategyId)), system), () => strategiesFor(level, system)),
  };
}

const DMEDI_ROUTES: RouteDoc[] = [
  { method: 'post', path: '/api/entropy/dmedi/:phase', tag: 'entropy', summary: 'One DMEDI phase by hand: define, measure, explore, develop (deploys a strategy workflow), implement (starts it) or auto (starts dmedi-regeneration).', roles: ['owner', 'operator'], params: z.object({ phase: z.enum(['define', 'measure', 'explore', 'develop', 'implement', 'auto']) }), body: Json, responses: { 200: { description: 'the phase result', schema: Json }, 201: { description: 'deployed or started', schema: Json } } },
];
