import { followEvents, getToken, setToken, whenUnauthenticated } from './api.js';
import { can, currentSession, forgetSession, loadSession } from './session.js';
import { clear, h, reportError } from './dom.js';
import { createDiagramView } from './diagram-view.js';
import { createDmnEditorView } from './dmn-editor-view.js';
import { createHealthView } from './health-view.js';
import { createHeatmapView } from './heatmap-view.js';
import { createInstanceView } from './instance-view.js';
import { createInstancesView } from './instances-view.js';
import { createTasksView } from './tasks-view.js';
import type { View } from './view.js';

/**
 * The modeler (bpmn-js Modeler, properties panel, lint: most of the code) loads when it is first
 * opened; the operations views load with the app.
 */
function lazyView(load: () => Promise<View>): View {
  const element = h('div', { class: 'rf-lazy' });
  let inner: Promise<View> | null = null;
  const view = () => (inner ??= load().then((loaded) => (element.appendChild(loaded.element), loaded)));
  return {
    element,
    async show(params) {
      await (await view()).show(params);
    },
    hide() {
      void inner?.then((loaded) => loaded.hide?.());
    },
    onEvent(event) {
      void inner?.then((loaded) => loaded.onEvent?.(event));
    },
  };
}

const factories: Record<string, () => View> = {
  modeler: () => lazyView(() => import('./modeler-view.js').then((module) => module.createModelerView())),
  instances: createInstancesView,
  instance: createInstanceView,
  heatmap: createHeatmapView,
  tasks: createTasksView,
  health: createHealthView,
  diagram: createDiagramView,
  decisions: createDmnEditorView,
  // The form-js editor is its own chunk, loaded when the page is first opened.
  forms: () => lazyView(() => import('./forms-view.js').then((module) => module.createFormsView())),
  migrations: () => lazyView(() => import('./migration-view.js').then((module) => module.createMigrationView())),
};
const navFor: Record<string, string> = { instance: 'instances', heatmap: 'instances', diagram: 'modeler' };

const main = document.getElementById('rf-main') as HTMLElement;
const views = new Map<string, View>();
let current: View | null = null;
let stopEvents: (() => void) | null = null;

/** Which ability each page needs; a role that lacks it does not see the page. */
const pageAbility: Record<string, string> = { modeler: 'viewDefinitions', instances: 'viewInstances', tasks: 'viewTasks', health: 'viewHealth', decisions: 'viewDefinitions', forms: 'viewDefinitions', migrations: 'migrate' };

function route(): void {
  if (!getToken()) return showLogin();
  if (!currentSession()) {
    loadSession()
      .then(applySession)
      .then(route)
      .catch((error) => showLogin(error instanceof Error ? error.message : String(error)));
    return;
  }
  if (!Object.values(pageAbility).some((ability) => can(ability))) return showNoPages();
  const [name = firstPage(), ...params] = location.hash.replace(/^#\/?/, '').split('/').map(decodeURIComponent);
  const ability = pageAbility[navFor[name] ?? name];
  const key = factories[name] && (!ability || can(ability)) ? name : firstPage();
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

function firstPage(): string {
  return Object.keys(pageAbility).find((page) => can(pageAbility[page] as string)) ?? 'instances';
}

/** Shows the role in the header and hides the pages it may not use. */
function applySession(): void {
  const session = currentSession();
  const who = document.getElementById('rf-who');
  if (who && session) {
    who.textContent = session.role;
    who.title = `signed in as ${session.actor}`;
  }
  for (const link of document.querySelectorAll<HTMLAnchorElement>('.rf-nav a')) {
    link.hidden = !can(pageAbility[link.dataset.view ?? ''] ?? '');
  }
}

/** A role with no page here (worker, alert, telemetry) is told what its token is for. */
function showNoPages(): void {
  const session = currentSession();
  if (!session) return;
  clear(
    main,
    h(
      'section',
      { class: 'rf-view', id: 'rf-no-pages' },
      h('h2', {}, `The ${session.role} role has no pages here`),
      h('p', {}, `This token may: ${Object.entries(session.can).filter(([, allowed]) => allowed).map(([ability]) => ability).join(', ') || 'nothing the UI shows'}. Sign out and use an owner or operator token.`),
    ),
  );
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
  forgetSession();
  for (const view of views.values()) view.element.remove();
  views.clear();
  current = null;
  const input = h('input', { type: 'password', name: 'token', id: 'rf-token', autocomplete: 'current-password', required: true, placeholder: 'Bearer token' });
  const error = h('p', { class: 'rf-error' }, message ?? '');
  const form = h(
    'form',
    { class: 'rf-login', id: 'rf-login' },
    h('h1', {}, 'Sign in to regenflow'),
    h(
      'p',
      {},
      'Paste an API token: one of REGENFLOW_TOKENS, or, on a server started without them, the admin token it wrote to ',
      h('code', {}, 'data/admin-token'),
      ' (',
      h('code', {}, 'cat data/admin-token'),
      '; the folder is REGENFLOW_DATA_DIR). It is kept for this browser tab only.',
    ),
    h('label', { for: 'rf-token' }, 'Token'),
    input,
    h('button', { type: 'submit', class: 'rf-primary' }, 'Sign in'),
    error,
  );
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    setToken(input.value.trim());
    try {
      await loadSession();
      applySession();
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
