import { ApiError } from './api.js';
import { clear, h } from './dom.js';
import type { RenderedForm } from './forms-runtime.js';

/** A form version as /api/tasks/:id/form and /api/process-definitions/key/:key/start-form give it. */
export interface LinkedForm {
  id: string;
  key: string;
  version: number;
  schema: Record<string, unknown>;
}

/** Renders a linked form-js form into `host` (the viewer chunk loads on first use). */
export async function mountLinkedForm(host: HTMLElement, form: LinkedForm, data: Record<string, unknown>): Promise<RenderedForm> {
  const { renderForm } = await import('./forms-runtime.js');
  const container = h('div', { class: 'rf-form-js', id: 'rf-form-js', 'data-form-key': form.key, 'data-form-version': String(form.version) });
  clear(host, container);
  return renderForm(container, form.schema, data);
}

/** The server's 400 for a submission, as a list naming each field (form-js checked the same in the browser; this is what it could not). */
export function showSubmissionProblem(problem: HTMLElement, error: unknown): void {
  const violations: Array<{ field: string; label?: string; message: string }> = error instanceof ApiError ? (error.problem?.details?.violations ?? []) : [];
  if (!violations.length) {
    clear(problem, error instanceof Error ? error.message : String(error));
    return;
  }
  clear(
    problem,
    h('strong', {}, 'The server refused the form:'),
    h('ul', {}, ...violations.map((violation) => h('li', { 'data-field': violation.field }, `${violation.label ?? violation.field}: ${violation.message}`))),
  );
}
