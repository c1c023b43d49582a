// Browser packages without type declarations (their services are used through `any`).
declare module 'bpmn-js-properties-panel';
declare module 'camunda-bpmn-js-behaviors/lib/camunda-platform';
declare module 'bpmn-js-bpmnlint';
declare module '*/generated/bpmnlint-config.js';
declare module 'camunda-bpmn-moddle/resources/camunda.json';
declare module 'dmn-js/lib/Modeler';
declare module 'bpmn-auto-layout' {
  /** Adds diagram interchange (shapes and edges) to a BPMN document that has none. */
  export function layoutProcess(xml: string): Promise<string>;
}
