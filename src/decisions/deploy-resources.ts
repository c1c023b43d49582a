import { AppError } from '../errors.js';
import type { AuditEntry } from '../store/audit-entries.js';
import type { DeployResource, Deployment, WorkflowEngine } from '../engine/workflow-engine.js';
import { isDecisionResource, type DecisionService, type DeployedDecision } from './decision-service.js';

/** More of the same deployment, stored inside its transaction (the engine's deploy hook). */
type AlsoStore = NonNullable<Parameters<WorkflowEngine['deploy']>[1]>['alsoStore'];

export interface MixedDeployment extends Deployment {
  /** The decisions of the `.dmn` resources (empty when there were none). */
  decisions: DeployedDecision[];
}

/**
 * Deploys `.bpmn` and `.dmn` resources as one deployment, all or nothing: every DMN is
 * parsed and linted first, then stored in the same transaction as the processes (or on its
 * own when the deployment holds decisions only).
 */
export async function deployResources(
  engine: WorkflowEngine,
  decisions: DecisionService,
  resources: DeployResource[],
  options: { name?: string; source?: string; audit?: AuditEntry; alsoStore?: AlsoStore } = {},
): Promise<MixedDeployment> {
  try {
    return await deployMixed(engine, decisions, resources, options);
  } catch (error) {
    // Two deploys creating the first version of one decision key at once: the unique (key, version) refuses the second.
    if ((error as { code?: string })?.code === '23505') {
      throw new AppError('CONCURRENT_UPDATE', 'another deployment created the same decision version at the same time; deploy again', { retryable: true, cause: error });
    }
    throw error;
  }
}

async function deployMixed(
  engine: WorkflowEngine,
  decisions: DecisionService,
  resources: DeployResource[],
  options: { name?: string; source?: string; audit?: AuditEntry; alsoStore?: AlsoStore },
): Promise<MixedDeployment> {
  const dmn = resources.filter((resource) => isDecisionResource(resource.name));
  const bpmn = resources.filter((resource) => !isDecisionResource(resource.name));
  const prepared = await decisions.prepare(dmn);
  if (!bpmn.length && prepared.length) {
    const deployment = await decisions.deploy(prepared, options);
    return { id: deployment.id, name: deployment.name, definitions: [], decisions: deployment.decisions };
  }
  let deployed: DeployedDecision[] = [];
  const deployment = await engine.deploy(bpmn, {
    ...options,
    alsoStore: async (trx, deploymentId) => {
      if (prepared.length) deployed = await decisions.store(trx, deploymentId, prepared);
      // What else the deployment holds (its forms) stores after its decisions.
      await options.alsoStore?.(trx, deploymentId);
    },
  });
  return { ...deployment, decisions: deployed };
}
