import { api, followEvents, getToken, setToken, whenUnauthenticated } from './api.js';
import { clear, h, reportError } from './dom.js';
import { createDiagramView } from './diagram-view.js';
import { createDmnEditorView } from './dmn-editor-view.js';
import { createHealthView } from './health-view.js';
import { createHeatmapView } from './heatmap-view.js';
import { createInstanceView } from './instance-view.js';
import { createInstancesView } from './instances-view.js';
import { createModelerView } from './modeler-view.js';
import { createTasksView } from './tasks-view.js';
import type { View } from './view.js';

const factories: Record<string, () => View> = {
  modeler: createModelerView,
  instances: createInstancesView,
  instance: createInstanceView,
  heatmap: createHeatmapView,
  tasks: createTasksView,
  health: createHealthView,
  diagram: createDiagramView,
  decisions: createDmnEditorView,
};
const navFor: Record<string, string> = { instance: 'instances', heatmap: 'instances', diagram: 'modeler' };

const main = document.getElementById('rf-main') as HTMLElement;
const views = new Map<string, View>();
let current: View | null = null;
let stopEvents: (() => void) | null = null;

function route(): void {
  if (!getToken()) return showLogin();
  const [name = 'modeler', ...params] = location.hash.replace(/^#\/?/, '').split('/').map(decodeURIComponent);
  const key = factories[name] ? name : 'modeler';
  let view = views.get(key);
  if (!view) {
    view = (factories[key] as () => View)();
    views.set(key, view);
    main.appendChild(view.element);
  }
  if (current && current !== view) {
    current.hide?.();
    current.element.hidden = true;
  }
  current = view;
  view.element.hidden = false;
  for (const link of document.querySelectorAll<HTMLAnchorElement>('.rf-nav a')) {
    link.classList.toggle('rf-active-nav', link.dataset.view === (navFor[key] ?? key));
  }
  Promise.resolve(view.show(params)).catch(reportError);
  startEvents();
}

function startEvents(): void {
  if (stopEvents) return;
  const live = document.getElementById('rf-live') as HTMLElement;
  stopEvents = followEvents(
    (event) => current?.onEvent?.(event),
    (up) => {
      live.textContent = up ? 'live' : 'offline';
      live.classList.toggle('rf-live-up', up);
    },
  );
}

/** Asks for the API token once per browser session. */
function showLogin(message?: string): void {
  stopEvents?.();
  stopEvents = null;
  for (const view of views.values()) view.element.remove();
  views.clear();
  current = null;
  const input = h('input', { type: 'password', name: 'token', id: 'rf-token', autocomplete: 'current-password', required: true, placeholder: 'Bearer token' });
  const error = h('p', { class: 'rf-error' }, message ?? '');
  const form = h(
    'form',
    { class: 'rf-login', id: 'rf-login' },
    h('h1', {}, 'Sign in to regenflow'),
    h('p', {}, 'Paste an API token (REGENFLOW_TOKENS, or the admin-token file in the data folder). It is kept for this browser tab only.'),
    h('label', { for: 'rf-token' }, 'Token'),
    input,
    h('button', { type: 'submit', class: 'rf-primary' }, 'Sign in'),
    error,
  );
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    setToken(input.value.trim());
    try {
      await api('GET', '/api/process-definitions?latest=true');
      clear(main);
      route();
    } catch (failure) {
      setToken(null);
      error.textContent = failure instanceof Error ? failure.message : String(failure);
    }
  });
  clear(main, form);
  input.focus();
}

whenUnauthenticated(() => {
  setToken(null);
  showLogin('The token was refused; sign in again.');
});
document.getElementById('rf-logout')?.addEventListener('click', () => {
  setToken(null);
  showLogin();
});
window.addEventListener('hashchange', route);
window.addEventListener('unhandledrejection', (event) => reportError(event.reason));
route();
