import { z } from 'zod';
import type { DefinitionQueries } from '../engine/queries/definition-queries.js';
import { notFound } from '../errors.js';
import { parseForm, type FormService } from '../forms/index.js';
import { route, type RouteSpec } from './route-spec.js';
import { describeFormDefinition, FormDefinitionSchema } from './resource-shapes.js';

const Uuid = z.string().regex(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i, 'must be a UUID');
const FormKey = z.string().min(1).max(255).regex(/^[A-Za-z_][\w.-]*$/, 'must be a form id');
/** A form definition id (`key:version:hash`), or a form id for its latest version. */
const FormIdOrKey = z.string().max(300).regex(/^[A-Za-z_][\w.-]*(:\d+:[0-9a-f]{8})?$/, 'must be a form definition id (key:version:hash) or a form id');
const ProcessKeyParam = z.string().min(1).max(255).regex(/^[\p{L}_][\p{L}\p{N}_.-]*$/u, 'must be a process id (an XML name)');
const LoadedForm = z.object({ id: z.string(), key: z.string(), version: z.number(), deploymentId: z.string(), resourceName: z.string(), schema: z.record(z.string(), z.unknown()) });

const refOf = (idOrKey: string) => (idOrKey.includes(':') ? { id: idOrKey } : { key: idOrKey });
const shown = (form: { id: string; key: string; version: number; deploymentId: string; resourceName: string; schema: unknown } | null) =>
  form && { id: form.id, key: form.key, version: form.version, deploymentId: form.deploymentId, resourceName: form.resourceName, schema: form.schema };

/**
 * Native form routes: versions, one version's schema, lint a schema as a deploy would, and the
 * form a task or a start shows. Deploying goes through POST /deployments with `.form`
 * resources beside the `.bpmn`.
 */
export function formRoutes(forms: FormService, definitions: DefinitionQueries): RouteSpec[] {
  return [
    route({
      method: 'get',
      path: '/forms',
      tag: 'forms',
      summary: 'List deployed forms (form-js schemas) with their versions, newest first per form id.',
      roles: ['owner', 'operator'],
      query: z.object({ key: FormKey.optional(), latest: z.enum(['true', 'false']).optional() }).strict(),
      responses: { 200: { description: 'form versions', schema: z.array(FormDefinitionSchema) } },
      handler: async ({ query }, _req, res) => {
        res.json((await forms.list({ key: query.key, latestOnly: query.latest === 'true' })).map(describeFormDefinition));
      },
    }),
    route({
      method: 'post',
      path: '/forms/lint',
      tag: 'forms',
      summary: 'Check a form-js schema as a deploy would, storing nothing: known component types, unique keys, linear-time patterns, conditions that parse.',
      roles: ['owner'],
      body: z.object({ name: z.string().min(1).max(200).default('form.form'), schema: z.record(z.string(), z.unknown()) }).strict(),
      responses: { 200: { description: 'ok with the fields a submission is checked against, or the error naming the component', schema: z.record(z.string(), z.unknown()) } },
      handler: async ({ body }, _req, res) => {
        try {
          const parsed = parseForm(body.name, JSON.stringify(body.schema));
          res.json({ ok: true, key: parsed.key, fields: parsed.fields, errors: [] });
        } catch (error) {
          const details = (error as { details?: { errors?: unknown[] } }).details;
          if (!details?.errors) throw error;
          res.json({ ok: false, message: (error as Error).message, errors: details.errors });
        }
      },
    }),
    route({
      method: 'get',
      path: '/forms/:id',
      tag: 'forms',
      summary: 'One form version (an id, or a form id for its latest): its form-js schema.',
      roles: ['owner', 'operator'],
      params: z.object({ id: FormIdOrKey }),
      responses: { 200: { description: 'the version and its schema', schema: LoadedForm }, 404: { description: 'no such form' } },
      handler: async ({ params }, _req, res) => {
        res.json(shown(await forms.load(refOf(params.id))));
      },
    }),
    route({
      method: 'get',
      path: '/tasks/:id/form',
      tag: 'tasks',
      summary: "The form-js form a task links (camunda:formRef / camunda:formKey) with its instance's variables to open it with; form is null when the task has none (or only camunda:formData fields).",
      roles: ['owner', 'operator'],
      params: z.object({ id: Uuid }),
      responses: { 200: { description: 'the form and the variables', schema: z.object({ form: LoadedForm.nullable(), variables: z.record(z.string(), z.unknown()) }) }, 404: { description: 'no such task' } },
      handler: async ({ params }, _req, res) => {
        const { form, variables } = await forms.taskForm(params.id);
        res.json({ form: shown(form), variables });
      },
    }),
    route({
      method: 'get',
      path: '/process-definitions/key/:key/start-form',
      tag: 'forms',
      summary: "The form-js form the latest version's start event links (or startEventId's), or null.",
      roles: ['owner', 'operator'],
      params: z.object({ key: ProcessKeyParam }),
      query: z.object({ startEventId: z.string().min(1).max(255).optional() }).strict(),
      responses: { 200: { description: 'the form', schema: z.object({ form: LoadedForm.nullable(), startEventId: z.string().nullable(), definitionId: z.string() }) }, 404: { description: 'no such process' } },
      handler: async ({ params, query }, _req, res) => {
        const definition = await definitions.findLatestDefinition(params.key);
        if (!definition) throw notFound('process definition', params.key);
        const { form, startEventId } = await forms.startForm(definition, query.startEventId);
        res.json({ form: shown(form), startEventId, definitionId: definition.id });
      },
    }),
  ];
}
