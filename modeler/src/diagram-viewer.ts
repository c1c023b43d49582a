import NavigatedViewer from 'bpmn-js/lib/NavigatedViewer';
import camundaModdle from 'camunda-bpmn-moddle/resources/camunda.json';
import { api } from './api.js';

/** A read-only diagram (pan and zoom) with markers and overlays, for instances and heatmaps. */
export class DiagramViewer {
  private readonly viewer: any;
  private markers: Array<[string, string]> = [];
  private loadedDefinitionId: string | null = null;

  constructor(container: HTMLElement) {
    this.viewer = new NavigatedViewer({ container, moddleExtensions: { camunda: camundaModdle } });
  }

  /** Loads a deployed version (kept when it is already shown). */
  async showDefinition(definitionId: string): Promise<void> {
    if (this.loadedDefinitionId === definitionId) return;
    const xml = await api<string>('GET', `/api/process-definitions/${encodeURIComponent(definitionId)}/xml`, undefined, { text: true });
    await this.viewer.importXML(xml);
    this.viewer.get('canvas').zoom('fit-viewport', 'auto');
    this.loadedDefinitionId = definitionId;
    this.markers = [];
  }

  /** The process's documentation text (shown as text: anyone who deploys writes it). */
  documentation(): string {
    const process = this.viewer.getDefinitions?.()?.rootElements?.find((element: any) => element.$type === 'bpmn:Process');
    return (process?.documentation ?? []).map((entry: any) => entry.text ?? '').join('\n').trim();
  }

  has(elementId: string): boolean {
    return Boolean(this.viewer.get('elementRegistry').get(elementId));
  }

  /** Element ids and names of the flow nodes on the diagram. */
  activities(): Array<{ id: string; name: string; type: string }> {
    return this.viewer
      .get('elementRegistry')
      .filter((element: any) => element.type !== 'label' && element.businessObject?.$instanceOf?.('bpmn:FlowNode'))
      .map((element: any) => ({ id: element.id, name: element.businessObject.name ?? '', type: element.type }));
  }

  clear(): void {
    const canvas = this.viewer.get('canvas');
    for (const [id, marker] of this.markers) canvas.removeMarker(id, marker);
    this.markers = [];
    this.viewer.get('overlays').clear();
  }

  mark(elementId: string, marker: string): void {
    if (!this.has(elementId)) return;
    this.viewer.get('canvas').addMarker(elementId, marker);
    this.markers.push([elementId, marker]);
  }

  /** An overlay built with DOM nodes (never HTML text). */
  overlay(elementId: string, node: HTMLElement, position: Record<string, number> = { bottom: 6, right: 12 }): void {
    if (!this.has(elementId)) return;
    this.viewer.get('overlays').add(elementId, { position, html: node });
  }
}
