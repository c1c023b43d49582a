import { Parser } from 'saxen';
import { AppError } from '../errors.js';

/** A user task's or start event's form, as its process declares it. */
export interface DeclaredFormLink {
  processId: string;
  activityId: string;
  /** By form id (`camunda:formRef`, or a plain `camunda:formKey`), or by resource name (`camunda-forms:deployment:<name>`). */
  ref: { key: string } | { resourceName: string };
  binding: 'latest' | 'deployment' | 'version';
  version?: number;
  /** A plain `camunda:formKey` is a form when one with that id is deployed (when shown); otherwise it stays an opaque key, as in Camunda 7. */
  optional: boolean;
}

const BPMN = 'http://www.omg.org/spec/BPMN/20100524/MODEL';
const CAMUNDA = ['http://camunda.org/schema/1.0/bpmn', 'http://activiti.org/bpmn'];
const FORM_ID = /^[A-Za-z_][\w.-]{0,254}$/;
const DEPLOYMENT_PREFIX = 'camunda-forms:deployment:';
const FORM_ELEMENTS = new Set(['bpmn:userTask', 'bpmn:startEvent']);

/**
 * The forms a BPMN resource's user tasks and start events link. A streaming scan of the
 * attributes only (the full parse and lint ran in the analyser worker, which does not know
 * forms); a diagram that mentions no form attribute is not scanned at all.
 */
export function declaredFormLinks(resourceName: string, xml: string): DeclaredFormLink[] {
  if (!xml.includes('formRef') && !xml.includes('formKey')) return [];
  const links: DeclaredFormLink[] = [];
  const processes: string[] = [];
  const parser = new Parser();
  parser.ns(Object.fromEntries([[BPMN, 'bpmn'], ...CAMUNDA.map((uri) => [uri, 'camunda'])]));
  parser.on('error', () => undefined); // the analyser already refused a broken document
  parser.on('closeTag', (name: string) => {
    if (name === 'bpmn:process') processes.pop();
  });
  parser.on('openTag', (name: string, attributes: () => Record<string, string>) => {
    if (name === 'bpmn:process') processes.push(attributes().id ?? '');
    if (!FORM_ELEMENTS.has(name)) return;
    const processId = processes.at(-1);
    if (!processId) return;
    const attrs = attributes();
    const activityId = attrs.id ?? '';
    const link = readLink(resourceName, activityId, attrs);
    if (link) links.push({ processId, activityId, ...link });
  });
  parser.parse(xml);
  return links;
}

function readLink(resourceName: string, activityId: string, attrs: Record<string, string>): Omit<DeclaredFormLink, 'processId' | 'activityId'> | null {
  const refused = (message: string) =>
    new AppError('INVALID_DEFINITION', `${resourceName} was rejected: ${activityId} (form): ${message}`, {
      details: { resource: resourceName, errors: [{ severity: 'error', rule: 'form', elementId: activityId, message }], warnings: [] },
    });
  const formRef = attrs['camunda:formRef']?.trim();
  const formKey = attrs['camunda:formKey']?.trim();
  if (formRef) {
    if (!FORM_ID.test(formRef)) throw refused(`camunda:formRef '${formRef.slice(0, 80)}' is not a form id (expressions are not supported)`);
    const binding = (attrs['camunda:formRefBinding']?.trim() || 'latest') as DeclaredFormLink['binding'];
    if (!['latest', 'deployment', 'version'].includes(binding)) throw refused(`camunda:formRefBinding '${binding}' is not supported (latest, deployment, version)`);
    if (binding !== 'version') return { ref: { key: formRef }, binding, optional: false };
    const version = Number(attrs['camunda:formRefVersion']);
    if (!Number.isInteger(version) || version < 1) throw refused(`camunda:formRefVersion '${attrs['camunda:formRefVersion'] ?? ''}' is not a version number`);
    return { ref: { key: formRef }, binding, version, optional: false };
  }
  if (!formKey) return null;
  if (formKey.startsWith(DEPLOYMENT_PREFIX)) {
    const resource = formKey.slice(DEPLOYMENT_PREFIX.length).split(/[\\/]/).pop() ?? '';
    if (!resource) throw refused(`camunda:formKey '${formKey}' names no resource`);
    return { ref: { resourceName: resource }, binding: 'deployment', optional: false };
  }
  return FORM_ID.test(formKey) ? { ref: { key: formKey }, binding: 'latest', optional: true } : null;
}
