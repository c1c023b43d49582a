import { z } from 'zod';
import { healTopics } from '../../../service-tasks/entropy/heal-topics.js';
import { dmediGeneratorTopics } from '../../../service-tasks/generator/dmedi-topics.js';
import { dmediRouter } from '../../api/dmedi-router.js';
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
  init({ engine }, use) {
    const { store, engineControl } = use(entropyModule);
    return {
      service: undefined,
      topics: () => [...healTopics({ engineControl }), ...dmediGeneratorTopics({ engineControl })],
      routes: [{ path: '/api/entropy/dmedi', roles: ['owner', 'operator'], router: dmediRouter(engine, store), docs: DMEDI_ROUTES }],
    };
  },
});

const DMEDI_ROUTES: RouteDoc[] = [
  { method: 'post', path: '/api/entropy/dmedi/:phase', tag: 'entropy', summary: 'One DMEDI phase by hand: define, measure, explore, develop (deploys a strategy workflow), implement (starts it) or auto (starts dmedi-regeneration).', roles: ['owner', 'operator'], params: z.object({ phase: z.enum(['define', 'measure', 'explore', 'develop', 'implement', 'auto']) }), body: Json, responses: { 200: { description: 'the phase result', schema: Json }, 201: { description: 'deployed or started', schema: Json } } },
];
