import { createHash, randomUUID } from 'node:crypto';
import type { Knex } from 'knex';
import { AppError, notFound } from '../errors.js';
import { appendAuditEntry, type AuditEntry } from '../store/audit-entries.js';
import * as definitionsStore from '../store/definitions.js';
import * as store from '../store/forms.js';
import type { ProcessInfo } from '../engine/definitions/analysis-types.js';
import { parseForm, type FormField, type ParsedForm } from './form-schema.js';
import { declaredFormLinks, type DeclaredFormLink } from './form-links.js';
import { validateSubmission, type FieldViolation } from './validate-submission.js';

export interface FormResource {
  name: string;
  /** The resource's text (the deploy path calls every resource's content `xml`). */
  xml: string;
}

export interface PreparedForm {
  resource: FormResource;
  form: ParsedForm;
  checksum: string;
}

export interface DeployedForm {
  id: string;
  key: string;
  version: number;
  resourceName: string;
  /** False when the same content was already the latest version. */
  created: boolean;
}

/** A form version as a client renders it. */
export interface LoadedForm {
  id: string;
  key: string;
  version: number;
  deploymentId: string;
  resourceName: string;
  schema: Record<string, unknown>;
  fields: FormField[];
}

export interface FormServiceOptions {
  knex: Knex;
  /** Largest `.form` resource a deploy takes. @default 1 MiB */
  maxResourceBytes?: number;
}

/**
 * Forms (form-js schemas): deploy (validate, version per form id), link to the user tasks
 * and start events that reference them, load for rendering, and check submissions on the
 * server as form-js checks them in the browser. Form versions never change once stored, so
 * they are cached by id.
 */
export class FormService {
  private readonly knex: Knex;
  private readonly maxResourceBytes: number;
  private readonly cache = new Map<string, LoadedForm>();

  constructor(options: FormServiceOptions) {
    this.knex = options.knex;
    this.maxResourceBytes = options.maxResourceBytes ?? 1024 * 1024;
  }

  /** Validates `.form` resources; a rejected one is a 400 (INVALID_DEFINITION) naming the form and its component. */
  prepare(resources: FormResource[]): PreparedForm[] {
    const keys = new Map<string, string>();
    return resources.map((resource) => {
      if (Buffer.byteLength(resource.xml) > this.maxResourceBytes) throw new AppError('PAYLOAD_TOO_LARGE', `${resource.name} is larger than ${this.maxResourceBytes} bytes`);
      const form = parseForm(resource.name, resource.xml);
      const other = keys.get(form.key);
      if (other) throw new AppError('INVALID_DEFINITION', `${resource.name} was rejected: form id '${form.key}' is also the id of ${other} in this deployment`);
      keys.set(form.key, resource.name);
      return { resource, form, checksum: createHash('sha256').update(resource.xml).digest('hex') };
    });
  }

  /** The forms the BPMN resources' user tasks and start events declare (refusing malformed references). */
  declaredLinks(bpmn: FormResource[]): DeclaredFormLink[] {
    return bpmn.flatMap((resource) => declaredFormLinks(resource.name, resource.xml));
  }

  /**
   * Stores the prepared forms as new versions (unchanged content keeps its version and is
   * linked to this deployment), then the links of the process versions this deployment
   * created, inside the deployment's transaction: a reference to a form that is not there is
   * a 400 naming the element, and nothing is stored.
   */
  async store(trx: Knex.Transaction, deploymentId: string, prepared: PreparedForm[], declared: DeclaredFormLink[] = []): Promise<DeployedForm[]> {
    const deployed: DeployedForm[] = [];
    const sorted = [...prepared].sort((a, b) => a.form.key.localeCompare(b.form.key));
    for (const { form } of sorted) await store.lockFormKey(trx, form.key);
    for (const { resource, form, checksum } of sorted) {
      const latest = await store.latestFormForUpdate(trx, form.key);
      if (latest && latest.checksum === checksum) {
        if (latest.deployment_id !== deploymentId) await store.linkFormToDeployment(trx, { deployment_id: deploymentId, form_definition_id: latest.id, key: latest.key, resource_name: resource.name });
        deployed.push({ id: latest.id, key: latest.key, version: latest.version, resourceName: resource.name, created: false });
        continue;
      }
      const version = (latest?.version ?? 0) + 1;
      const id = `${form.key}:${version}:${deploymentId.slice(0, 8)}`;
      await store.insertFormDefinition(trx, { id, key: form.key, version, version_tag: form.versionTag, deployment_id: deploymentId, resource_name: resource.name, checksum, schema: form.schema, fields: form.fields });
      deployed.push({ id, key: form.key, version, resourceName: resource.name, created: true });
    }
    if (declared.length) await this.storeLinks(trx, deploymentId, declared);
    return deployed;
  }

  private async storeLinks(trx: Knex.Transaction, deploymentId: string, declared: DeclaredFormLink[]): Promise<void> {
    const created = await store.definitionsOfDeployment(trx, deploymentId);
    const rows: store.FormLinkRow[] = [];
    for (const definition of created) {
      for (const link of declared.filter((candidate) => candidate.processId === definition.key)) {
        const binding = { version: link.version, deploymentId: link.binding === 'deployment' ? deploymentId : undefined };
        if (link.optional && 'key' in link.ref) {
          // Resolved when shown: deployed with its form or before it, a plain form key links it all the same.
          rows.push({ process_definition_id: definition.id, activity_id: link.activityId, form_key: link.ref.key, binding: 'latest', version: null, deployment_id: deploymentId, optional: true });
          continue;
        }
        const id = await store.findFormDefinitionId(trx, link.ref, binding);
        if (!id) {
          const what = 'key' in link.ref ? `form '${link.ref.key}'` : `form resource '${link.ref.resourceName}'`;
          const where = link.binding === 'deployment' ? ' in this deployment' : link.binding === 'version' ? ` version ${link.version}` : '';
          const message = `${link.activityId} links ${what}${where}, which is not deployed; deploy the .form with it`;
          throw new AppError('INVALID_DEFINITION', `process ${definition.key} was rejected: ${message}`, {
            details: { resource: definition.key, errors: [{ severity: 'error', rule: 'form', elementId: link.activityId, message }], warnings: [] },
          });
        }
        const key = 'key' in link.ref ? link.ref.key : (await store.findFormDefinition(trx, id))!.key;
        rows.push({ process_definition_id: definition.id, activity_id: link.activityId, form_key: key, binding: link.binding, version: link.version ?? null, deployment_id: deploymentId, optional: false });
      }
    }
    await store.insertFormLinks(trx, rows);
  }

  /** A deployment of forms only (no BPMN): its own deployment row, all or nothing. */
  async deploy(prepared: PreparedForm[], options: { name?: string; source?: string; audit?: AuditEntry; alsoStore?: (trx: Knex.Transaction, deploymentId: string) => Promise<void> } = {}) {
    const id = randomUUID();
    const name = options.name ?? prepared[0]?.resource.name ?? 'forms';
    const forms = await this.knex.transaction(async (trx) => {
      await definitionsStore.insertDeployment(trx, { id, name, source: options.source ?? 'api' });
      const stored = await this.store(trx, id, prepared);
      if (options.alsoStore) await options.alsoStore(trx, id);
      if (options.audit) await appendAuditEntry(trx, { ...options.audit, details: { ...options.audit.details, deploymentId: id, forms: stored.map((form) => form.id) } });
      return stored;
    });
    return { id, name, forms };
  }

  /** A form version by id, or by form id with Camunda's binding (latest when neither version nor deployment). */
  async load(ref: { id: string } | { key: string; version?: number; deploymentId?: string }): Promise<LoadedForm> {
    const id = 'id' in ref ? ref.id : await store.findFormDefinitionId(this.knex, { key: ref.key }, { version: ref.version, deploymentId: ref.deploymentId });
    const describe = 'id' in ref ? `form definition ${ref.id}` : `form '${ref.key}'${ref.version !== undefined ? ` version ${ref.version}` : ''}`;
    if (!id) throw notFound('form', describe);
    const cached = this.cache.get(id);
    if (cached) return cached;
    const row = await store.findFormDefinition(this.knex, id);
    if (!row) throw notFound('form', describe);
    const loaded: LoadedForm = {
      id: row.id,
      key: row.key,
      version: row.version,
      deploymentId: row.deployment_id,
      resourceName: row.resource_name,
      schema: row.schema as Record<string, unknown>,
      fields: row.fields as FormField[],
    };
    if (this.cache.size >= 500) this.cache.delete(this.cache.keys().next().value!);
    this.cache.set(id, loaded);
    return loaded;
  }

  async list(filter: { key?: string; latestOnly?: boolean } = {}) {
    return store.listFormDefinitions(this.knex, filter);
  }

  /** The form an element of a process version links, or null (it has none, or only `camunda:formData`). */
  async formOf(processDefinitionId: string, activityId: string): Promise<LoadedForm | null> {
    const link = await store.findFormLink(this.knex, processDefinitionId, activityId);
    if (!link) return null;
    if (link.optional && !(await store.findFormDefinitionId(this.knex, { key: link.form_key }))) return null;
    return this.load({ key: link.form_key, version: link.binding === 'version' ? (link.version ?? undefined) : undefined, deploymentId: link.binding === 'deployment' ? link.deployment_id : undefined });
  }

  /** An open task's form with the variables it opens with, or null when the task links none. */
  async taskForm(taskId: string): Promise<{ form: LoadedForm | null; task: { id: string; activityId: string; instanceId: string; definitionId: string }; variables: Record<string, unknown> }> {
    const task = await store.findTaskForForm(this.knex, taskId);
    if (!task) throw notFound('task', taskId);
    return {
      form: await this.formOf(task.definition_id, task.activity_id),
      task: { id: task.id, activityId: task.activity_id, instanceId: task.instance_id, definitionId: task.definition_id },
      variables: task.variables ?? {},
    };
  }

  /** The form of a process version's start (the start event picked, else its none start event), or null. */
  async startForm(definition: { id: string; info?: unknown }, startEventId?: string): Promise<{ form: LoadedForm | null; startEventId: string | null }> {
    const info = (typeof definition.info === 'string' ? JSON.parse(definition.info) : definition.info) as ProcessInfo | undefined;
    const start = startEventId ?? info?.startEvents?.find((candidate) => candidate.trigger === 'none')?.activityId;
    if (!start) return { form: null, startEventId: null };
    return { form: await this.formOf(definition.id, start), startEventId: start };
  }

  /** 400 (FORM_VALIDATION_FAILED) naming each field a task completion gets wrong; nothing when the task links no form. */
  async checkTaskSubmission(taskId: string, variables: Record<string, unknown>): Promise<void> {
    const task = await store.findTaskForForm(this.knex, taskId);
    if (!task) return; // completing it answers the 404
    const form = await this.formOf(task.definition_id, task.activity_id);
    if (form) refuseViolations(form, `task ${taskId} (${task.activity_id})`, validateSubmission(form.fields, variables, task.variables ?? {}));
  }

  /** 400 naming each field a start gets wrong, for a start of the latest version of a key or of one version. */
  async checkStartSubmission(target: { processKey?: string; definitionId?: string; startEventId?: string }, variables: Record<string, unknown>): Promise<void> {
    const definition = target.definitionId
      ? await definitionsStore.findDefinitionSummary(this.knex, target.definitionId)
      : target.processKey
        ? await definitionsStore.findLatestDefinition(this.knex, target.processKey)
        : undefined;
    if (!definition) return; // starting it answers the 404
    const { form, startEventId } = await this.startForm(definition, target.startEventId);
    if (form) refuseViolations(form, `the start of ${definition.key} (${startEventId})`, validateSubmission(form.fields, variables));
  }
}

function refuseViolations(form: LoadedForm, what: string, violations: FieldViolation[]): void {
  if (!violations.length) return;
  const shown = violations
    .slice(0, 10)
    .map((violation) => `'${violation.field}' ${violation.message}`)
    .join('; ');
  const more = violations.length > 10 ? ` (and ${violations.length - 10} more)` : '';
  throw new AppError('FORM_VALIDATION_FAILED', `form ${form.key} v${form.version} of ${what}: ${shown}${more}`, {
    details: { form: { id: form.id, key: form.key, version: form.version }, violations },
  });
}
