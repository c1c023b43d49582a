declare module 'bpmn-auto-layout' {
  /** Adds diagram interchange (shapes and edges) to a BPMN document that has none. */
  export function layoutProcess(xml: string): Promise<string>;
}
