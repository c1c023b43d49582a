import { Form } from '@bpmn-io/form-js-viewer';

/**
 * The form-js viewer, in its own chunk: the inbox and Start import it only when a task or a
 * start event links a form-js form, so the first load stays small.
 */
export interface RenderedForm {
  /** Validates in the browser (form-js shows each error on its field); the data of the visible fields when valid. */
  submit(): { data: Record<string, unknown>; valid: boolean };
  destroy(): void;
}

export async function renderForm(container: HTMLElement, schema: Record<string, unknown>, data: Record<string, unknown> = {}): Promise<RenderedForm> {
  loadFormStyles();
  const form = new Form({ container });
  await form.importSchema(schema as never, data);
  return {
    submit() {
      const { data: submitted, errors } = form.submit();
      return { data: submitted as Record<string, unknown>, valid: Object.keys(errors ?? {}).length === 0 };
    },
    destroy() {
      form.destroy();
    },
  };
}

/** form-js's styles (and its editor's), one file loaded beside the first form shown. */
export function loadFormStyles(): void {
  if (document.querySelector('link[data-rf-forms]')) return;
  const link = document.createElement('link');
  link.rel = 'stylesheet';
  link.href = 'form-styles.css';
  link.dataset.rfForms = 'true';
  document.head.appendChild(link);
}
