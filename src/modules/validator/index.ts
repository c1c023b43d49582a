import { z } from 'zod';
import { loadPhases, validatorTopics } from '../../../service-tasks/validator/index.js';
import type { RouteDoc } from '../../api/route-spec.js';
import { ListQuery as RunsQuery, SpanCheckSchema, TrendQuery, validationRunsRouter } from '../../api/validation-runs-router.js';
import { createValidationRunStore, type ValidationRunStore } from '../../store/validation-runs.js';
import { loadOnce, defineModule } from '../product-module.js';
import { worktreesModule } from '../worktrees/index.js';

const Json = z.record(z.string(), z.unknown());
const Rows = z.array(Json);

export interface Validator {
  /** Validation runs, their phases and pinned commits. */
  readonly runs: ValidationRunStore;
}

/** The validator: phased validation runs in worktrees, 80/20 scoring, the quality gate, span-based checks. */
export const validatorModule = defineModule<Validator>({
  name: 'validator',
  tables: ['validation_runs', 'validation_phase_results', 'validation_pins'],
  depends: [worktreesModule],
  init({ config, knex }, use) {
    const runs = createValidationRunStore(knex);
    const gate = config.REGENFLOW_QUALITY_GATE;
    return {
      service: { runs },
      topics: () =>
        validatorTopics({
          runner: use(worktreesModule).runner(),
          runs,
          phases: loadOnce(() => loadPhases(config.REGENFLOW_VALIDATOR_PHASES)),
          gate,
          nightly: { repository: config.REGENFLOW_CI_REPOSITORY, ref: config.REGENFLOW_CI_REF },
          liveLog: use(worktreesModule).liveLog,
        }),
      routes: [{ path: '/api/validation-runs', router: validationRunsRouter(runs, { gate }), docs: VALIDATION_ROUTES }],
    };
  },
});

const VALIDATION_ROUTES: RouteDoc[] = [
  { method: 'get', path: '/api/validation-runs', tag: 'validation', summary: 'Validation runs (phases, scores, gate), newest first.', roles: ['owner', 'operator'], query: RunsQuery, responses: { 200: { description: 'runs', schema: Rows } } },
  { method: 'get', path: '/api/validation-runs/trend', tag: 'validation', summary: "The score trend of a subject's last runs.", roles: ['owner', 'operator'], query: TrendQuery, responses: { 200: { description: 'the trend', schema: Json } } },
  { method: 'post', path: '/api/validation-runs/span-checks', tag: 'validation', summary: "Check an instance's activity spans against expectations and score them.", roles: ['owner', 'operator'], body: SpanCheckSchema, responses: { 200: { description: 'the check', schema: Json } } },
  { method: 'get', path: '/api/validation-runs/:id', tag: 'validation', summary: 'One validation run with its phases.', roles: ['owner', 'operator'], params: z.object({ id: z.string() }), responses: { 200: { description: 'the run', schema: Json }, 404: { description: 'no such run' } } },
];
