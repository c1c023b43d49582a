import type { Finding } from './analysis-types.js';

/** One `camunda:formField` as a form or a start check needs it. */
export interface FormFieldInfo {
  id: string;
  label?: string;
  /** Camunda 7 form types (`string`, `long`, `double`, `boolean`, `date`, `enum`) or `json`. */
  type: string;
  required: boolean;
  defaultValue?: string;
  /** The choices of an `enum` field. */
  values?: Array<{ id: string; name?: string }>;
}

/** A start event of a process (top level): how it is triggered and the form it declares. */
export interface StartEventInfo {
  activityId: string;
  name?: string;
  trigger: 'none' | 'timer' | 'message' | 'signal' | 'other';
  fields: FormFieldInfo[];
}

/** The `camunda:formField`s of an element, as bpmn-moddle parsed them. */
function rawFormFields(element: any): any[] {
  const values: any[] = element?.extensionElements?.values ?? [];
  return values.filter((value) => value?.$type === 'camunda:FormData').flatMap((data) => data.fields ?? []);
}

/**
 * A form field without an id would write a variable named `undefined`; two with one id
 * would overwrite each other. Both are deploy (and lint) errors naming the element.
 */
export function formFieldFindings(element: any): Finding[] {
  const findings: Finding[] = [];
  const seen = new Set<string>();
  rawFormFields(element).forEach((field, index) => {
    const id = typeof field.id === 'string' ? field.id.trim() : '';
    const label = field.label ? ` ('${String(field.label)}')` : '';
    if (!id) {
      findings.push({ severity: 'error', rule: 'form-field', elementId: element.id, message: `form field ${index + 1}${label} of ${element.id} has no id: it names the variable the form sets` });
    } else if (seen.has(id)) {
      findings.push({ severity: 'error', rule: 'form-field', elementId: element.id, message: `form field id '${id}' appears twice on ${element.id}` });
    }
    seen.add(id);
  });
  return findings;
}

function fieldInfo(field: any): FormFieldInfo {
  const constraints: any[] = field.validation?.constraints ?? [];
  return {
    id: String(field.id),
    ...(field.label ? { label: String(field.label) } : {}),
    type: String(field.type ?? 'string'),
    required: constraints.some((constraint) => constraint?.name === 'required'),
    ...(field.defaultValue !== undefined ? { defaultValue: String(field.defaultValue) } : {}),
    ...(field.values?.length ? { values: field.values.map((value: any) => ({ id: String(value.id), ...(value.name ? { name: String(value.name) } : {}) })) } : {}),
  };
}

const TRIGGERS: Record<string, StartEventInfo['trigger']> = {
  'bpmn:TimerEventDefinition': 'timer',
  'bpmn:MessageEventDefinition': 'message',
  'bpmn:SignalEventDefinition': 'signal',
};

/** The top-level start events of a process, with their triggers and start forms. */
export function describeStartEvents(process: any): StartEventInfo[] {
  return (process.flowElements ?? [])
    .filter((element: any) => element.$type === 'bpmn:StartEvent')
    .map((element: any) => {
      const definitions: any[] = element.eventDefinitions ?? [];
      const trigger = definitions.length ? (TRIGGERS[definitions[0].$type] ?? 'other') : 'none';
      return {
        activityId: element.id,
        ...(element.name ? { name: String(element.name) } : {}),
        trigger,
        fields: rawFormFields(element).filter((field) => typeof field.id === 'string' && field.id.trim()).map(fieldInfo),
      };
    });
}

/** An end event and the outcome it stands for, so a list can colour an instance by where it ended. */
export interface EndEventInfo {
  activityId: string;
  name?: string;
  /**
   * `camunda:property name="outcome"` on the end event (`success`, `failure` or anything else,
   * shown neutral); an error end event without one is a `failure`.
   */
  outcome?: string;
}

/** Every end event of a process, at any depth, with its declared outcome. */
export function describeEndEvents(process: any): EndEventInfo[] {
  const found: EndEventInfo[] = [];
  const visit = (container: any) => {
    for (const element of container.flowElements ?? []) {
      if (element.flowElements) visit(element);
      if (element.$type !== 'bpmn:EndEvent') continue;
      const properties: any[] = (element.extensionElements?.values ?? []).filter((value: any) => value?.$type === 'camunda:Properties').flatMap((value: any) => value.values ?? []);
      const declared = properties.find((property) => property?.name === 'outcome')?.value;
      const error = (element.eventDefinitions ?? []).some((definition: any) => definition.$type === 'bpmn:ErrorEventDefinition');
      const outcome = declared ? String(declared) : error ? 'failure' : undefined;
      found.push({ activityId: element.id, ...(element.name ? { name: String(element.name) } : {}), ...(outcome ? { outcome } : {}) });
    }
  };
  visit(process);
  return found;
}
