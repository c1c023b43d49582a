/**
 * The Develop phase's isolation test: run a strategy's generated workflow many times in an
 * in-memory bpmn-engine (no database, no real steps), with each step failing at an injected
 * rate, and report how often the workflow gets to its end. It checks the generated diagram
 * really executes and how fragile a long chain of steps is; it does not predict the effect
 * on the system (the Implement phase measures that).
 */
import { createRequire } from 'node:module';
import { Engine } from 'bpmn-engine';
import { seededRandom } from './seeded-random.js';

const require = createRequire(import.meta.url);
const camundaSchema = require('camunda-bpmn-moddle/resources/camunda.json');

export interface SimulationResult {
  runs: number;
  completed: number;
  successRate: number;
  /** Which step the failed runs stopped at. */
  failuresByStep: Record<string, number>;
}

const silentLogger = () => ({ debug() {}, error() {}, warn() {} });

export async function simulateWorkflow(xml: string, options: { runs: number; failureRate: number; seed: number }): Promise<SimulationResult> {
  const random = seededRandom(options.seed);
  const failuresByStep: Record<string, number> = {};
  let completed = 0;
  for (let run = 0; run < options.runs; run++) {
    const injected = (activity: any) => {
      if (activity.type !== 'bpmn:ServiceTask') return;
      activity.behaviour.Service = function InjectedService() {
        return {
          execute(_message: unknown, callback: (error: unknown, output?: unknown) => void) {
            if (random() < options.failureRate) {
              failuresByStep[activity.id] = (failuresByStep[activity.id] ?? 0) + 1;
              callback(Object.assign(new Error(`injected failure in ${activity.id}`), { code: 'INJECTED_FAILURE' }));
            } else callback(null, {});
          },
        };
      };
    };
    const engine = new Engine({
      name: `simulation-${run}`,
      source: xml,
      moddleOptions: { camunda: camundaSchema },
      Logger: silentLogger,
      extensions: { injected },
      settings: { enableDummyService: false },
    } as any);
    const ended = await new Promise<boolean>((resolve) => {
      engine.once('end', () => resolve(true));
      engine.once('error', () => resolve(false));
      engine.execute().catch(() => resolve(false));
    });
    if (ended) completed++;
    // A run that failed has nothing left to stop (and stop() would wait for it forever).
  }
  return { runs: options.runs, completed, successRate: options.runs ? completed / options.runs : 0, failuresByStep };
}
