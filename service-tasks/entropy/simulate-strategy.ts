/**
 * The Develop phase's isolation test: run a strategy's generated workflow many times in an
 * in-memory bpmn-engine (no database, no real steps), with each step failing at an injected
 * rate, and report how often the workflow gets to its end. It checks the generated diagram
 * really executes and how fragile a long chain of steps is; it does not predict the effect
 * on the system (the Implement phase measures that).
 */
import { createRequire } from 'node:module';
import * as elements from 'bpmn-elements';
import { Engine } from 'bpmn-engine';
import { BpmnModdle } from 'bpmn-moddle';
import serializer, { TypeResolver } from 'moddle-context-serializer';
import { seededRandom } from './seeded-random.js';

const require = createRequire(import.meta.url);
const camundaSchema = require('camunda-bpmn-moddle/resources/camunda.json');
const typeResolver = TypeResolver(elements as any);

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
  // Parsed once: a run from the serialized context skips bpmn-moddle.
  const parsed = await new BpmnModdle({ camunda: camundaSchema }).fromXML(xml);
  const sourceContext = serializer(parsed as any, typeResolver);
  const steps: string[] = sourceContext
    .getExecutableProcesses()
    .flatMap((process: any) => sourceContext.getActivities(process.id))
    .filter((activity: any) => activity.type === 'bpmn:ServiceTask')
    .map((activity: any) => activity.id);
  // A run's outcome depends only on the first step that fails (the generated workflows are one chain of
  // steps): each distinct case runs once on the engine, and the runs draw which case they are. 200 full
  // runs took 20-30 s on a loaded machine, most of a cycle's Develop phase.
  const outcomes = new Map<string | null, boolean>();
  let completed = 0;
  for (let run = 0; run < options.runs; run++) {
    let failing: string | null = null;
    for (const step of steps) {
      if (random() < options.failureRate) {
        failing = step;
        break;
      }
    }
    if (!outcomes.has(failing)) outcomes.set(failing, await runOnce(sourceContext, failing, run));
    if (outcomes.get(failing)) completed++;
    else if (failing) failuresByStep[failing] = (failuresByStep[failing] ?? 0) + 1;
  }
  return { runs: options.runs, completed, successRate: options.runs ? completed / options.runs : 0, failuresByStep };
}

/** One run of the workflow on an in-memory engine, `failing` (a service task) failing: whether it got to its end. */
async function runOnce(sourceContext: unknown, failing: string | null, run: number): Promise<boolean> {
  const injected = (activity: any) => {
    if (activity.type !== 'bpmn:ServiceTask') return;
    activity.behaviour.Service = function InjectedService() {
      return {
        execute(_message: unknown, callback: (error: unknown, output?: unknown) => void) {
          if (activity.id === failing) callback(Object.assign(new Error(`injected failure in ${activity.id}`), { code: 'INJECTED_FAILURE' }));
          else callback(null, {});
        },
      };
    };
  };
  const engine = new Engine({ name: `simulation-${run}`, sourceContext, Logger: silentLogger, extensions: { injected }, settings: { enableDummyService: false } } as any);
  // A run that failed has nothing left to stop (and stop() would wait for it forever).
  return new Promise<boolean>((resolve) => {
    engine.once('end', () => resolve(true));
    engine.once('error', () => resolve(false));
    engine.execute().catch(() => resolve(false));
  });
}
