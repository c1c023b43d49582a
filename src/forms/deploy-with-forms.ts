import { AppError } from '../errors.js';
import type { DeployResource, WorkflowEngine } from '../engine/workflow-engine.js';
import type { AuditEntry } from '../store/audit-entries.js';
import { deployResources, isDecisionResource, type DecisionService, type DeployedDecision, type MixedDeployment } from '../decisions/index.js';
import { isFormResource } from './form-schema.js';
import type { DeployedForm, FormService } from './form-service.js';

export interface DeploymentWithForms extends MixedDeployment {
  /** The forms of the `.form` resources (empty when there were none). */
  forms: DeployedForm[];
}

/**
 * Deploys `.bpmn`, `.dmn` and `.form` resources as one deployment, all or nothing: every form
 * is validated first, the diagrams' form references are read, and forms and links are
 * stored in the deployment's transaction through the engine's deploy hook, after its
 * decisions. A deployment of forms (and decisions) without BPMN gets its own deployment row.
 */
export async function deployWithForms(
  engine: WorkflowEngine,
  decisions: DecisionService,
  forms: FormService,
  resources: DeployResource[],
  options: { name?: string; source?: string; audit?: AuditEntry } = {},
): Promise<DeploymentWithForms> {
  const formResources = resources.filter((resource) => isFormResource(resource.name));
  const others = resources.filter((resource) => !isFormResource(resource.name));
  const prepared = forms.prepare(formResources);
  const bpmn = others.filter((resource) => !isDecisionResource(resource.name));
  const declared = forms.declaredLinks(bpmn);
  if (bpmn.length) {
    let stored: DeployedForm[] = [];
    const deployment = await deployResources(engine, decisions, others, {
      ...options,
      alsoStore: prepared.length || declared.length ? async (trx, deploymentId) => void (stored = await forms.store(trx, deploymentId, prepared, declared)) : undefined,
    });
    return { ...deployment, forms: stored };
  }
  if (!prepared.length) return { ...(await deployResources(engine, decisions, others, options)), forms: [] };
  const dmn = await decisions.prepare(others);
  let storedDecisions: DeployedDecision[] = [];
  let deployment;
  try {
    deployment = await forms.deploy(prepared, {
      ...options,
      alsoStore: dmn.length ? async (trx, deploymentId) => void (storedDecisions = await decisions.store(trx, deploymentId, dmn)) : undefined,
    });
  } catch (error) {
    // Two deploys creating the first version of one form id at once: the unique (key, version) refuses the second.
    if ((error as { code?: string })?.code === '23505') {
      throw new AppError('CONCURRENT_UPDATE', 'another deployment created the same form version at the same time; deploy again', { retryable: true, cause: error });
    }
    throw error;
  }
  return { id: deployment.id, name: deployment.name, definitions: [], decisions: storedDecisions, forms: deployment.forms };
}
