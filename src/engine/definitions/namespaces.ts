const CAMUNDA_URI = 'http://camunda.org/schema/1.0/bpmn';
/** Camunda 7 reads the Activiti namespace as its own; so do we. */
const CAMUNDA_ALIASES = ['http://activiti.org/bpmn'];

/** Rewrites namespace URIs that mean the Camunda 7 extension to the one camunda-bpmn-moddle knows. */
export function normalizeNamespaces(xml: string): string {
  let result = xml;
  for (const alias of CAMUNDA_ALIASES) result = result.split(`"${alias}"`).join(`"${CAMUNDA_URI}"`);
  return result;
}
