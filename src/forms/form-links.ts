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
/** A start tag of a process, user task or start event. `[^<>]*` stops at the next `<`, so the scan is linear whatever the text. */
const TAG = /<(?:([A-Za-z_][\w.-]*):)?(process|userTask|startEvent)(?=[\s/>])([^<>]*)>/g;
const ATTRIBUTE = /(?:([A-Za-z_][\w.-]*):)?([A-Za-z_][\w.-]*)\s*=\s*(?:"([^"]*)"|'([^']*)')/g;
const NAMESPACE = /xmlns(?::([A-Za-z_][\w.-]*))?\s*=\s*(?:"([^"]*)"|'([^']*)')/g;
const ENTITIES: Record<string, string> = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'" };

/**
 * The forms a BPMN resource's user tasks and start events link. A linear scan of the start
 * tags only (the analyser worker parsed and linted the whole document and knows no forms): a
 * 4 MB diagram takes ~50 ms here, where a second XML parse on the main thread took 1.5 s. A
 * diagram that mentions no form attribute is not scanned at all.
 */
export function declaredFormLinks(resourceName: string, xml: string): DeclaredFormLink[] {
  if (!xml.includes('formRef') && !xml.includes('formKey')) return [];
  const bpmnPrefixes = new Set<string>();
  const camundaPrefixes = new Set<string>();
  for (const [, prefix = '', double, single] of xml.matchAll(NAMESPACE)) {
    const uri = double ?? single ?? '';
    if (uri === BPMN) bpmnPrefixes.add(prefix);
    if (CAMUNDA.includes(uri)) camundaPrefixes.add(prefix);
  }
  const links: DeclaredFormLink[] = [];
  let processId: string | undefined;
  for (const [, prefix = '', name, rest] of xml.matchAll(TAG)) {
    if (!bpmnPrefixes.has(prefix) || (name !== 'process' && !rest!.includes('form'))) continue;
    const attrs: Record<string, string> = {};
    for (const [, attributePrefix, attribute, double, single] of rest!.matchAll(ATTRIBUTE)) {
      const value = decode(double ?? single ?? '');
      if (!attributePrefix) attrs[attribute!] = value;
      else if (camundaPrefixes.has(attributePrefix)) attrs[`camunda:${attribute}`] = value;
    }
    if (name === 'process') {
      processId = attrs.id;
      continue;
    }
    if (!processId) continue;
    const activityId = attrs.id ?? '';
    const link = readLink(resourceName, activityId, attrs);
    if (link) links.push({ processId, activityId, ...link });
  }
  return links;
}

function decode(value: string): string {
  return value.replace(/&(amp|lt|gt|quot|apos|#\d{1,7}|#x[0-9a-fA-F]{1,6});/g, (entity, name: string) => {
    if (!name.startsWith('#')) return ENTITIES[name]!;
    const code = name.startsWith('#x') ? parseInt(name.slice(2), 16) : Number(name.slice(1));
    return code <= 0x10ffff ? String.fromCodePoint(code) : entity; // the analyser refuses such a document anyway
  });
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
