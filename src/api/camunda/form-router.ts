import { Router, type NextFunction, type Request, type Response } from 'express';
import { z } from 'zod';
import { AppError, notFound } from '../../errors.js';
import type { WorkflowEngine } from '../../engine/workflow-engine.js';
import type { FormService, LoadedForm } from '../../forms/index.js';
import { allow } from '../auth.js';
import { respondIdempotently } from '../idempotency.js';
import { auditEntry } from '../audit.js';
import { c7Instance, Uuid } from './camunda-shapes.js';
import { sendJson } from './external-task-router.js';
import { CompleteBody, completeTaskC7 } from './task-router.js';
import { fromTyped, toTyped, TypedVariablesSchema } from './typed-variables.js';

const Key = z.string().min(1).max(255).regex(/^[A-Za-z_][\w.-]*$/, 'must be a process definition key');
const DefinitionId = z.string().max(300).regex(/^[A-Za-z_][\w.-]*:\d+:[0-9a-f]{8}$/, 'must be a process definition id');
const SubmitStartBody = z.object({ variables: TypedVariablesSchema.nullish(), businessKey: z.string().max(255).nullish() });

/** Camunda 7's FormDto for a form-js form: `camundaFormRef` names it, `key` in C7's deployment form-key style. */
function c7FormDto(form: LoadedForm | null, formKey: string | null = null) {
  if (!form) return { key: formKey, contextPath: null, camundaFormRef: null };
  return { key: `camunda-forms:deployment:${form.resourceName}`, contextPath: null, camundaFormRef: { key: form.key, binding: 'version', version: form.version } };
}

function sendSchema(res: Response, form: LoadedForm | null, what: string): void {
  if (!form) throw new AppError('NOT_FOUND', `${what} has no deployed form`);
  sendJson(res, 200, form.schema);
}

/**
 * Checks a submission against the linked form before the task router completes the task:
 * mounted in front of it, so `complete` validates as `submit-form` does. A body the task
 * router will refuse anyway passes on untouched.
 */
function checkBeforeComplete(forms: FormService) {
  return async (req: Request, _res: Response, next: NextFunction) => {
    const id = Uuid.safeParse(req.params.id);
    const body = CompleteBody.safeParse(req.body ?? {});
    if (id.success && body.success) await forms.checkTaskSubmission(id.data, fromTyped(body.data.variables ?? undefined));
    next();
  };
}

/**
 * `/engine-rest/task/{id}/form`, `deployed-form`, `form-variables` and `submit-form` for
 * form-js forms, and the same server-side check in front of `complete`.
 */
export function taskFormRouter(engine: WorkflowEngine, forms: FormService): Router {
  const router = Router();
  const workers = allow('owner', 'operator');
  router.post('/:id/complete', workers, checkBeforeComplete(forms));
  router.get('/:id/form', workers, async (req, res) => {
    const id = Uuid.parse(req.params.id);
    const { form } = await forms.taskForm(id);
    const task = await engine.queries.findUserTask(id);
    sendJson(res, 200, c7FormDto(form, task?.form_key ?? null));
  });
  router.get('/:id/deployed-form', workers, async (req, res) => {
    const id = Uuid.parse(req.params.id);
    sendSchema(res, (await forms.taskForm(id)).form, `task ${id}`);
  });
  router.get('/:id/form-variables', workers, async (req, res) => {
    const id = Uuid.parse(req.params.id);
    const { form, variables } = await forms.taskForm(id);
    // The variables the form reads (its fields' top-level names); without a form, all of them, as C7.
    const names = form ? [...new Set(form.fields.map((field) => field.path[0]!))] : undefined;
    sendJson(res, 200, toTyped(variables, names));
  });
  router.post('/:id/submit-form', workers, async (req, res) => {
    const id = Uuid.parse(req.params.id);
    const body = CompleteBody.parse(req.body ?? {});
    await forms.checkTaskSubmission(id, fromTyped(body.variables ?? undefined));
    await completeTaskC7(engine, req, res, id, body, { form: true });
  });
  return router;
}

/**
 * `/engine-rest/process-definition/{key|id}/startForm`, `deployed-start-form` and
 * `submit-form`, and the same check in front of `start`.
 */
export function processDefinitionFormRouter(engine: WorkflowEngine, forms: FormService): Router {
  const router = Router();
  const readers = allow('owner', 'operator');
  const byKey = async (req: Request) => {
    const key = Key.parse(req.params.key);
    const [row] = await engine.camundaQueries.listDefinitions({ key, latestVersion: true }, { firstResult: 0, maxResults: 1 });
    if (!row) throw notFound('process definition with key', key);
    return (await engine.definitionQueries.findDefinitionSummary(row.id))!;
  };
  const byId = async (req: Request) => {
    const id = DefinitionId.parse(req.params.id);
    const row = await engine.definitionQueries.findDefinitionSummary(id);
    if (!row) throw notFound('process definition', id);
    return row;
  };
  const checkBeforeStart = (resolve: (req: Request) => Promise<{ id: string }>) => async (req: Request, _res: Response, next: NextFunction) => {
    const body = SubmitStartBody.safeParse(req.body ?? {});
    if (body.success) await forms.checkStartSubmission({ definitionId: (await resolve(req)).id }, fromTyped(body.data.variables ?? undefined));
    next();
  };
  const submit = async (req: Request, res: Response, definition: { id: string; key: string }) => {
    const body = SubmitStartBody.parse(req.body ?? {});
    const variables = fromTyped(body.variables ?? undefined);
    await forms.checkStartSubmission({ definitionId: definition.id }, variables);
    const entry = auditEntry(req, 'instance.start', definition.key, { definitionId: definition.id, via: 'engine-rest', form: true });
    await respondIdempotently(
      req,
      res,
      engine.auditLog,
      entry,
      (audit) => engine.start({ definitionId: definition.id, variables, businessKey: body.businessKey ?? null, audit }),
      (row) => ({ status: 200, body: c7Instance(row) }),
      ([first]) => engine.getInstance(first!.instance_id!),
    );
  };
  for (const [prefix, resolve] of [['/key/:key', byKey], ['/:id', byId]] as const) {
    router.post(`${prefix}/start`, allow('owner', 'operator'), checkBeforeStart(resolve));
    router.get(`${prefix}/startForm`, readers, async (req, res) => sendJson(res, 200, c7FormDto((await forms.startForm(await resolve(req))).form)));
    router.get(`${prefix}/deployed-start-form`, readers, async (req, res) => {
      const definition = await resolve(req);
      sendSchema(res, (await forms.startForm(definition)).form, `the start event of ${definition.key}`);
    });
    router.post(`${prefix}/submit-form`, allow('owner', 'operator'), async (req, res) => submit(req, res, await resolve(req)));
  }
  return router;
}
