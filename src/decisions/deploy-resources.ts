import { AppError } from '../errors.js';
import type { AuditEntry } from '../store/audit-entries.js';
import type { DeployResource, Deployment, WorkflowEngine } from '../engine/workflow-engine.js';
import { isDecisionResource, type DecisionService, type DeployedDecision } from './decision-service.js';

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
  options: { name?: string; source?: string; audit?: AuditEntry } = {},
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
  options: { name?: string; source?: string; audit?: AuditEntry },
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
    alsoStore: prepared.length ? async (trx, deploymentId) => void (deployed = await decisions.store(trx, deploymentId, prepared)) : undefined,
  });
  return { ...deployment, decisions: deployed };
}
