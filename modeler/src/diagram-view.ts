import { DiagramViewer } from './diagram-viewer.js';
import { h } from './dom.js';
import type { View } from './view.js';

/** One deployed version on its own, read-only (for links and pictures). */
export function createDiagramView(): View {
  const canvasHost = h('div', { class: 'rf-canvas rf-viewer rf-diagram-only', id: 'rf-diagram-canvas' });
  const viewer = new DiagramViewer(canvasHost);
  const element = h('section', { class: 'rf-view', id: 'rf-view-diagram' }, canvasHost);
  return {
    element,
    async show(params) {
      if (params[0]) await viewer.showDefinition(params[0]);
      canvasHost.dataset.shown = params[0] ?? '';
    },
  };
}
