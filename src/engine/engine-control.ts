import type { EngineControl, MovedInstances } from '../../service-tasks/entropy/ports.js';
import { AppError } from '../errors.js';
import * as definitionsStore from '../store/definitions.js';
import * as healQueries from '../store/heal-queries.js';
import type { WorkflowEngine } from './workflow-engine.js';

/**
 * The narrow door through which built-in modules act on the engine (deploy generated
 * workflows, and the self-healing strategies). The engine is created after the registry
 * (its runtime needs the registry's handlers), so it is reached through a getter.
 */
export function createEngineControl(engineOf: () => WorkflowEngine): EngineControl {
  return {
    async deploy(name, xml) {
      const deployment = await engineOf().deploy([{ name, xml }], { name, source: 'generator' });
      const definition = deployment.definitions[0];
      if (!definition) throw new AppError('DEPLOY_EMPTY', `${name} holds no process`);
      return { id: definition.id, key: definition.key, version: definition.version, created: definition.created };
    },
    async versions(processKey) {
      const rows = await definitionsStore.listDefinitions(engineOf().knex, { key: processKey });
      return rows.map((row) => ({ id: row.id, version: row.version }));
    },
    async rollbackStarts(processKey, version) {
      const engine = engineOf();
      const target = (await definitionsStore.listDefinitions(engine.knex, { key: processKey })).find((row) => row.version === version);
      if (!target) throw new AppError('NOT_FOUND', `process ${processKey} has no version ${version}`);
      const full = await definitionsStore.findDefinition(engine.knex, target.id);
      if (!full) throw new AppError('NOT_FOUND', `process definition ${target.id} not found`);
      // Starts always take the latest version: the old content deployed again becomes the latest.
      const deployment = await engine.deploy([{ name: full.resource_name, xml: full.xml }], { name: `rollback of ${processKey} to v${version}`, source: 'regeneration' });
      const deployed = deployment.definitions.find((definition) => definition.key === processKey);
      return { version: deployed?.version ?? version };
    },
    async moveRunningInstances(processKey, move) {
      const engine = engineOf();
      const definitions = await definitionsStore.listDefinitions(engine.knex, { key: processKey });
      const target = definitions.find((row) => row.version === move.toVersion);
      if (!target) throw new AppError('NOT_FOUND', `process ${processKey} has no version ${move.toVersion}`);
      const moved: MovedInstances = { batchIds: [], moving: 0, left: [] };
      for (const source of definitions.filter((row) => move.fromVersions.includes(row.version) && row.id !== target.id)) {
        const instanceIds = await engine.batches.selectInstances({ query: { definitionId: source.id } });
        if (!instanceIds.length) continue;
        try {
          // Same-id activities map onto each other (Camunda's generated plan); an instance waiting where the target has no such activity stays.
          const plan = await engine.migrations.generate(source.id, target.id);
          const refused = new Map((await engine.migrations.validateInstances(plan, instanceIds)).map((report) => [report.processInstanceId, report]));
          for (const [instanceId, report] of refused) {
            const failures = [...report.failures, ...report.activityInstanceValidationReports.flatMap((activity) => activity.failures)];
            moved.left.push({ instanceId, version: source.version, reason: failures.join('; ') });
          }
          const movable = instanceIds.filter((id) => !refused.has(id));
          if (!movable.length) continue;
          const batch = await engine.batches.create({ type: 'instance-migration', plan }, movable, {
            audit: { actor: 'regeneration', action: 'instance.migrate-back', target: processKey, details: { fromVersion: source.version, toVersion: target.version, instances: movable.length } },
          });
          moved.batchIds.push(batch.id);
          moved.moving += movable.length;
        } catch (error) {
          // A plan refused as a whole (the versions share no waiting activity) leaves its instances where they are; new starts are routed already.
          if (!(error instanceof AppError)) throw error;
          for (const instanceId of instanceIds) moved.left.push({ instanceId, version: source.version, reason: error.message });
        }
      }
      return moved;
    },
    async openIncidents(processKey, version) {
      return healQueries.openIncidentCount(engineOf().knex, processKey, version);
    },
    async retryIncidents(processKey) {
      const engine = engineOf();
      let retried = 0;
      for (const id of await healQueries.openIncidentIds(engine.knex, processKey)) {
        try {
          await engine.retryIncident(id);
          retried++;
        } catch (error) {
          // An incident that cannot be retried (or fails again at once) stays open; the rest go on.
          if (!(error instanceof AppError)) throw error;
        }
      }
      return retried;
    },
    async resetStuckInstances(processKey, before) {
      const engine = engineOf();
      let reset = 0;
      for (const instance of await healQueries.stuckInstances(engine.knex, processKey, before)) {
        // Start the replacement first: if that fails, the old instance is still there.
        await engine.start({ processKey, variables: instance.variables, businessKey: instance.business_key });
        await engine.cancel(instance.id, 'reset by regeneration');
        reset++;
      }
      return reset;
    },
  };
}
