import NavigatedViewer from 'bpmn-js/lib/NavigatedViewer';
import camundaModdle from 'camunda-bpmn-moddle/resources/camunda.json';
import { api } from './api.js';
import { withLayout } from './diagram-layout.js';
import { h } from './dom.js';

const SCOPES = new Set(['bpmn:SubProcess', 'bpmn:Transaction', 'bpmn:AdHocSubProcess']);

/**
 * A read-only diagram (pan with the mouse, zoom with the wheel or the buttons, fitted on load)
 * with markers and overlays, for instances and heatmaps. Collapsed sub-processes drill in
 * (bpmn-js's drilldown, breadcrumbs to come back out); markers hold on every plane.
 */
export class DiagramViewer {
  private readonly viewer: any;
  private markers: Array<[string, string]> = [];
  private loadedDefinitionId: string | null = null;
  readonly controls: HTMLElement;

  constructor(container: HTMLElement) {
    this.viewer = new NavigatedViewer({ container, moddleExtensions: { camunda: camundaModdle } });
    const zoom = (factor: number) => {
      const canvas = this.viewer.get('canvas');
      canvas.zoom(canvas.zoom() * factor);
    };
    this.controls = h(
      'div',
      { class: 'rf-zoom-controls' },
      h('button', { type: 'button', title: 'zoom in', 'aria-label': 'zoom in', onclick: () => zoom(1.25) }, '+'),
      h('button', { type: 'button', title: 'zoom out', 'aria-label': 'zoom out', onclick: () => zoom(0.8) }, '−'),
      h('button', { type: 'button', title: 'fit the diagram', 'aria-label': 'fit', class: 'rf-zoom-fit', onclick: () => this.fit() }, 'fit'),
    );
    container.appendChild(this.controls);
    // Drilling in or out shows the whole plane.
    this.viewer.get('eventBus').on('root.set', () => setTimeout(() => this.fit(), 0));
  }

  /** Loads a deployed version (kept when it is already shown). */
  async showDefinition(definitionId: string): Promise<void> {
    if (this.loadedDefinitionId === definitionId) return;
    const xml = await api<string>('GET', `/api/process-definitions/${encodeURIComponent(definitionId)}/xml`, undefined, { text: true });
    await this.viewer.importXML((await withLayout(xml)).xml);
    this.fit();
    this.loadedDefinitionId = definitionId;
    this.markers = [];
  }

  /** The whole current plane in view, never scaled above 1 (a small diagram stays readable). */
  fit(): void {
    const canvas = this.viewer.get('canvas');
    canvas.zoom('fit-viewport', 'auto');
    if (canvas.zoom() > 1) canvas.zoom(1, 'auto');
  }

  /** The process's documentation text (shown as text: anyone who deploys writes it). */
  documentation(): string {
    const process = this.viewer.getDefinitions?.()?.rootElements?.find((element: any) => element.$type === 'bpmn:Process');
    return (process?.documentation ?? []).map((entry: any) => entry.text ?? '').join('\n').trim();
  }

  has(elementId: string): boolean {
    return Boolean(this.viewer.get('elementRegistry').get(elementId));
  }

  /** Element ids and names of the flow nodes on the diagram (on every plane), once each. */
  activities(): Array<{ id: string; name: string; type: string }> {
    return this.viewer
      .get('elementRegistry')
      // A label (`<id>_label`) and a collapsed sub-process's own plane (`<id>_plane`) share the node's business object.
      .filter((element: any) => element.id === element.businessObject?.id && element.businessObject.$instanceOf?.('bpmn:FlowNode'))
      .map((element: any) => ({ id: element.id, name: element.businessObject.name ?? '', type: element.type }));
  }

  /** The process's name from the diagram. */
  processName(): string | null {
    const process = this.viewer.getDefinitions?.()?.rootElements?.find((element: any) => element.$type === 'bpmn:Process');
    return process?.name ?? null;
  }

  /** An element's name, or its id. */
  nameOf(elementId: string): string {
    return this.viewer.get('elementRegistry').get(elementId)?.businessObject?.name ?? elementId;
  }

  /** The sub-processes around an element, innermost first. */
  ancestors(elementId: string): string[] {
    const found: string[] = [];
    let parent = this.viewer.get('elementRegistry').get(elementId)?.businessObject?.$parent;
    while (parent && SCOPES.has(parent.$type)) {
      found.push(parent.id);
      parent = parent.$parent;
    }
    return found;
  }

  /** The declared outcome of an end event (`camunda:property outcome`), error end events failing. */
  outcomeOf(elementId: string): string | null {
    const bo = this.viewer.get('elementRegistry').get(elementId)?.businessObject;
    if (!bo) return null;
    const properties = (bo.extensionElements?.values ?? []).filter((value: any) => value.$type === 'camunda:Properties').flatMap((value: any) => value.values ?? []);
    const declared = properties.find((property: any) => property.name === 'outcome')?.value;
    if (declared) return String(declared);
    return (bo.eventDefinitions ?? []).some((definition: any) => definition.$type === 'bpmn:ErrorEventDefinition') ? 'failure' : null;
  }

  /** Shows the plane an element is drawn on (drilling into its sub-process) and centres it. */
  reveal(elementId: string): void {
    const registry = this.viewer.get('elementRegistry');
    const canvas = this.viewer.get('canvas');
    const element = registry.get(elementId);
    if (!element) return;
    const root = canvas.findRoot(element);
    if (root && root !== canvas.getRootElement()) canvas.setRootElement(root);
    setTimeout(() => canvas.scrollToElement(element), 0);
  }

  /** Which plane is shown: the process, or the id of the sub-process drilled into. */
  plane(): string | null {
    const root = this.viewer.get('canvas').getRootElement();
    return root?.businessObject && SCOPES.has(root.businessObject.$type) ? root.businessObject.id : null;
  }

  /** Back to the process's top plane. */
  top(): void {
    const canvas = this.viewer.get('canvas');
    const roots = canvas.getRootElements?.() ?? [];
    const top = roots.find((root: any) => root.businessObject?.$type === 'bpmn:Process' || root.businessObject?.$type === 'bpmn:Collaboration');
    if (top && top !== canvas.getRootElement()) canvas.setRootElement(top);
  }

  clear(): void {
    const canvas = this.viewer.get('canvas');
    for (const [id, marker] of this.markers) canvas.removeMarker(id, marker);
    this.markers = [];
    // Only ours: the drilldown buttons of collapsed sub-processes are overlays too.
    this.viewer.get('overlays').remove({ type: 'rf' });
  }

  mark(elementId: string, marker: string): void {
    if (!this.has(elementId)) return;
    this.viewer.get('canvas').addMarker(elementId, marker);
    this.markers.push([elementId, marker]);
  }

  /** An overlay built with DOM nodes (never HTML text). */
  overlay(elementId: string, node: HTMLElement, position: Record<string, number> = { bottom: 6, right: 12 }): void {
    if (!this.has(elementId)) return;
    this.viewer.get('overlays').add(elementId, 'rf', { position, html: node });
  }
}
