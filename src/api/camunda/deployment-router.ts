import { Router } from 'express';
import { z } from 'zod';
import { AppError } from '../../errors.js';
import type { WorkflowEngine } from '../../engine/workflow-engine.js';
import { allow } from '../auth.js';
import { audited, auditEntry } from '../audit.js';
import { bpmnUpload, uploadedResources } from '../multipart.js';
import { c7Date, c7Definition } from './camunda-shapes.js';
import { sendJson } from './external-task-router.js';
import { deployResources, isDecisionResource, type DecisionService, type MixedDeployment } from '../../decisions/index.js';
import { deployWithForms, isFormResource, type FormService } from '../../forms/index.js';

/** Form fields of C7's deployment/create; unknown fields are ignored, as C7 does. */
const DeploymentFields = z.object({
  'deployment-name': z.string().min(1).max(200).optional(),
  'deployment-source': z.string().max(200).optional(),
  'deploy-changed-only': z.enum(['true', 'false']).optional(),
  'enable-duplicate-filtering': z.enum(['true', 'false']).optional(),
  'tenant-id': z.string().max(200).optional(),
});

/**
 * `POST /engine-rest/deployment/create` (multipart), as the Camunda Modeler's deploy button
 * calls it. regenflow always filters duplicates: a resource whose content equals the latest
 * version keeps that version, which is what `deploy-changed-only=true` asks for; C7 would
 * make a new version of unchanged content when both flags are false.
 */
export function deploymentRouter(engine: WorkflowEngine, limits: { bpmnBytes: number }, decisions?: DecisionService, forms?: FormService): Router {
  const router = Router();
  router.post('/create', allow(), bpmnUpload(limits), async (req, res) => {
    if (!req.is('multipart/form-data')) throw new AppError('VALIDATION_FAILED', 'deployment/create takes multipart/form-data');
    const fields = DeploymentFields.parse(req.body ?? {});
    if (fields['tenant-id']) throw new AppError('VALIDATION_FAILED', 'regenflow has no tenants; leave tenant-id out');
    const resources = uploadedResources(req).filter(
      (resource) => /\.(bpmn|bpmn20\.xml|xml)$/i.test(resource.name) || (decisions !== undefined && isDecisionResource(resource.name)) || (forms !== undefined && isFormResource(resource.name)),
    );
    if (!resources.length) throw new AppError('VALIDATION_FAILED', `the deployment has no .bpmn${decisions ? ' or .dmn' : ''} resource`);
    const name = fields['deployment-name'] ?? resources[0]!.name;
    const source = fields['deployment-source'] ?? 'engine-rest';
    const entry = auditEntry(req, 'deployment.create', name, { resources: resources.map((resource) => resource.name), via: 'engine-rest' });
    const deployment: MixedDeployment = await audited(engine.auditLog, entry, async (audit) =>
      decisions && forms
        ? deployWithForms(engine, decisions, forms, resources, { name, source, audit })
        : decisions
          ? deployResources(engine, decisions, resources, { name, source, audit })
          : { ...(await engine.deploy(resources, { name, source, audit })), decisions: [] },
    );
    const decided = deployment.decisions.filter((decision) => decision.created);
    const created = deployment.definitions.filter((definition) => definition.created).map((definition) => definition.id);
    const rows = created.length ? await engine.camundaQueries.listDefinitions({ deploymentId: deployment.id }, { firstResult: 0, maxResults: 1000 }) : [];
    const deployed = Object.fromEntries(rows.map((row) => [row.id, c7Definition(row)]));
    sendJson(res, 200, {
      links: [],
      id: deployment.id,
      name: deployment.name,
      source,
      deploymentTime: c7Date(new Date()),
      tenantId: null,
      deployedProcessDefinitions: deployed,
      deployedCaseDefinitions: null,
      deployedDecisionDefinitions: decided.length
        ? Object.fromEntries(
            decided.map((decision) => [
              decision.id,
              { id: decision.id, key: decision.key, category: null, name: decision.name, version: decision.version, resource: decision.resourceName, deploymentId: deployment.id, decisionRequirementsDefinitionId: null, decisionRequirementsDefinitionKey: null, tenantId: null, versionTag: null, historyTimeToLive: null },
            ]),
          )
        : null,
      deployedDecisionRequirementsDefinitions: null,
    });
  });
  return router;
}
