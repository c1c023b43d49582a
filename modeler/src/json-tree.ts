import { h } from './dom.js';

const PREVIEW = 60;

function preview(value: unknown): string {
  const text = JSON.stringify(value);
  return text.length > PREVIEW ? `${text.slice(0, PREVIEW)}…` : text;
}

/**
 * A JSON value as a tree: objects and arrays fold (`<details>`), the first level open when
 * small; scalars shown typed. Text only (textContent): variables come from workers and forms.
 */
export function jsonTree(value: unknown, depth = 0): HTMLElement {
  if (value === null || typeof value !== 'object') {
    const kind = value === null ? 'null' : typeof value;
    return h('span', { class: `rf-json-${kind}` }, typeof value === 'string' ? JSON.stringify(value) : String(value));
  }
  const entries: Array<[string, unknown]> = Array.isArray(value) ? value.map((item, index) => [String(index), item]) : Object.entries(value as Record<string, unknown>);
  const label = Array.isArray(value) ? `[${entries.length}]` : `{${entries.length}}`;
  const open = depth === 0 && entries.length <= 8;
  return h(
    'details',
    { class: 'rf-json', open },
    h('summary', {}, h('span', { class: 'rf-json-count' }, label), ' ', h('span', { class: 'rf-muted' }, open ? '' : preview(value))),
    h('ul', {}, ...entries.map(([key, item]) => h('li', {}, h('span', { class: 'rf-json-key' }, `${key}: `), jsonTree(item, depth + 1)))),
  );
}
