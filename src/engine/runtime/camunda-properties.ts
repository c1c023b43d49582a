import type { UserTaskWait } from '../types.js';

/** Reads Camunda 7 attributes (camunda-bpmn-moddle) off a serialized activity behaviour. */

interface IoParameter {
  name: string;
  value?: string;
}

export interface InputOutput {
  inputs: IoParameter[];
  outputs: IoParameter[];
}

function extensionValues(behaviour: any): any[] {
  return behaviour?.extensionElements?.values ?? [];
}

export function readInputOutput(behaviour: any): InputOutput {
  const io = extensionValues(behaviour).find((value) => value.$type === 'camunda:InputOutput');
  const toParameter = (parameter: any): IoParameter => ({
    name: String(parameter.name),
    value: typeof parameter.value === 'string' ? parameter.value : parameter.definition?.value,
  });
  return {
    inputs: (io?.inputParameters ?? []).map(toParameter),
    outputs: (io?.outputParameters ?? []).map(toParameter),
  };
}

const splitList = (value: unknown): string[] =>
  typeof value === 'string'
    ? value
        .split(',')
        .map((item) => item.trim())
        .filter(Boolean)
    : [];

export function readUserTask(
  api: { id: string; executionId: string; content: Record<string, any>; owner?: any },
  resolve: (text: string) => unknown,
): UserTaskWait {
  const behaviour = (api as any).owner?.behaviour ?? api.content;
  const text = (value: unknown) => (typeof value === 'string' && value ? String(resolve(value) ?? '') || undefined : undefined);
  const formData = extensionValues(behaviour).find((value) => value.$type === 'camunda:FormData');
  const dueDate = text(behaviour.dueDate);
  const priority = Number(text(behaviour.priority) ?? 50);
  return {
    activityId: api.id,
    executionId: api.executionId,
    name: api.content.name ?? behaviour.name,
    assignee: text(behaviour.assignee),
    candidateGroups: splitList(text(behaviour.candidateGroups)),
    candidateUsers: splitList(text(behaviour.candidateUsers)),
    formKey: text(behaviour.formKey),
    formFields: (formData?.fields ?? []).map((field: any) => ({
      id: String(field.id),
      label: field.label,
      type: field.type,
      defaultValue: field.defaultValue,
    })),
    priority: Number.isFinite(priority) ? priority : 50,
    dueAt: dueDate && !Number.isNaN(Date.parse(dueDate)) ? new Date(dueDate) : undefined,
  };
}
