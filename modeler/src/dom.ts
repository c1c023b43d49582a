/**
 * Tiny DOM helpers. Every text goes in through textContent or attributes, never innerHTML:
 * names and documentation come from diagrams, which anyone with deploy rights can write.
 */
type Child = Node | string | number | null | undefined | false;
type Attributes = Record<string, string | number | boolean | null | undefined | EventListener>;

export function h<K extends keyof HTMLElementTagNameMap>(tag: K, attributes: Attributes = {}, ...children: Child[]): HTMLElementTagNameMap[K] {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (value === null || value === undefined || value === false) continue;
    if (typeof value === 'function') element.addEventListener(name.replace(/^on/, ''), value);
    else if (name === 'class') element.className = String(value);
    else if (name === 'value' && 'value' in element) (element as HTMLInputElement).value = String(value);
    else if (name === 'checked' && element instanceof HTMLInputElement) element.checked = Boolean(value);
    else element.setAttribute(name, value === true ? '' : String(value));
  }
  append(element, ...children);
  return element;
}

export function append(parent: Node, ...children: Child[]): void {
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    parent.appendChild(typeof child === 'object' ? child : document.createTextNode(String(child)));
  }
}

export function clear(element: Element, ...children: Child[]): void {
  element.replaceChildren();
  append(element, ...children);
}

const SVG = 'http://www.w3.org/2000/svg';
export function svg(tag: string, attributes: Record<string, string | number> = {}, ...children: Array<SVGElement | string>): SVGElement {
  const element = document.createElementNS(SVG, tag);
  for (const [name, value] of Object.entries(attributes)) element.setAttribute(name, String(value));
  for (const child of children) element.appendChild(typeof child === 'string' ? document.createTextNode(child) : child);
  return element;
}

export function formatTime(value: string | null | undefined): string {
  if (!value) return '–';
  const date = new Date(value);
  return Number.isNaN(date.getTime()) ? String(value) : date.toLocaleString();
}

export function formatMs(ms: number | null | undefined): string {
  if (ms === null || ms === undefined) return '–';
  if (ms < 1000) return `${Math.round(ms)} ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)} s`;
  if (ms < 3_600_000) return `${(ms / 60_000).toFixed(1)} min`;
  return `${(ms / 3_600_000).toFixed(1)} h`;
}

let toastTimer: ReturnType<typeof setTimeout> | undefined;
/** A short message at the bottom of the page. */
export function toast(message: string, kind: 'info' | 'error' = 'info'): void {
  const element = document.getElementById('rf-toast');
  if (!element) return;
  element.textContent = message;
  element.className = `rf-toast rf-toast-${kind} rf-toast-shown`;
  clearTimeout(toastTimer);
  toastTimer = setTimeout(() => (element.className = 'rf-toast'), kind === 'error' ? 8000 : 3500);
}

/** Offers text as a file download (blob URL, no data in the page). */
export function download(name: string, text: string, type: string): void {
  const url = URL.createObjectURL(new Blob([text], { type }));
  const link = h('a', { href: url, download: name });
  document.body.appendChild(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), 1000);
}

/** Shows a failure to the user (problem+json detail when the API answered one). */
export function reportError(error: unknown): void {
  // A 401 already took the page back to sign-in (api.ts): work a view had in flight when the
  // token went away is no error to show.
  if ((error as { status?: unknown } | null)?.status === 401) return;
  toast(error instanceof Error ? error.message : String(error), 'error');
  console.error(error);
}
