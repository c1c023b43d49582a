import BpmnModeler from 'bpmn-js/lib/Modeler';
import { BpmnPropertiesPanelModule, BpmnPropertiesProviderModule, CamundaPlatformPropertiesProviderModule } from 'bpmn-js-properties-panel';
import CamundaBehaviorsModule from 'camunda-bpmn-js-behaviors/lib/camunda-platform';
import camundaModdle from 'camunda-bpmn-moddle/resources/camunda.json';
import lintModule from 'bpmn-js-bpmnlint';
import lintConfig from '../generated/bpmnlint-config.js';
import { api, ApiError } from './api.js';
import { diffDiagrams, newDiagramXml, type DiffEntry } from './diagrams.js';
import { withLayout } from './diagram-layout.js';
import { clear, download, formatTime, h, reportError, toast } from './dom.js';
import { debounce, type View } from './view.js';
import { can } from './session.js';
import { createStartForm } from './start-form.js';

interface DefinitionSummary {
  id: string;
  key: string;
  version: number;
  name: string | null;
  deployedAt: string;
  executable: boolean;
}
interface Topic {
  topic: string;
  description: string | null;
  sources: string[];
}
interface LintIssue {
  id: string;
  message: string;
  category: string;
  rule: string;
}

const TOPIC_TYPES = ['bpmn:ServiceTask', 'bpmn:SendTask', 'bpmn:BusinessRuleTask'];

/**
 * The modeler: bpmn-js with the Camunda 7 properties panel and behaviours, live bpmnlint
 * with the server's rules, a topic picker, deploy, versions with a diff, downloads.
 */
export function createModelerView(): View {
  const canvasHost = h('div', { class: 'rf-canvas', id: 'rf-modeler-canvas' });
  const propertiesHost = h('div', { class: 'rf-properties', id: 'rf-properties' });
  const titleLabel = h('span', { class: 'rf-diagram-title', id: 'rf-diagram-title' }, '');
  const dirtyLabel = h('span', { class: 'rf-dirty', id: 'rf-dirty', hidden: true }, 'unsaved changes');
  const openSelect = h('select', { id: 'rf-open-select', 'aria-label': 'Open a deployed process' });
  const fileInput = h('input', { type: 'file', accept: '.bpmn,.xml,application/xml', id: 'rf-open-file', hidden: true });
  const lintSummary = h('div', { class: 'rf-lint-summary', id: 'rf-lint-summary' }, 'linting…');
  const lintList = h('ul', { class: 'rf-lint-list', id: 'rf-lint-list' });
  // The server's whole deploy analysis (parse, lint and execution checks) where the API
  // offers a dry run (POST /api/deployments/lint); hidden where it does not.
  const serverCheck = h('div', { class: 'rf-server-check', id: 'rf-server-check', hidden: true });
  const topicSection = h('section', { class: 'rf-side-section', id: 'rf-topic-picker', hidden: true });
  const versionsSection = h('section', { class: 'rf-side-section', id: 'rf-versions' });
  const deployResult = h('div', { class: 'rf-deploy-result', id: 'rf-deploy-result' });
  // The properties panel's own topic field suggests the known topics too.
  const topicList = h('datalist', { id: 'rf-known-topics' });
  new MutationObserver(() => {
    const input = propertiesHost.querySelector('#bio-properties-panel-externalTopic');
    if (input && input.getAttribute('list') !== 'rf-known-topics') input.setAttribute('list', 'rf-known-topics');
  }).observe(propertiesHost, { childList: true, subtree: true });

  const modeler: any = new BpmnModeler({
    container: canvasHost,
    propertiesPanel: { parent: propertiesHost },
    linting: { bpmnlint: lintConfig, active: true },
    additionalModules: [BpmnPropertiesPanelModule, BpmnPropertiesProviderModule, CamundaPlatformPropertiesProviderModule, CamundaBehaviorsModule, lintModule],
    moddleExtensions: { camunda: camundaModdle },
  });
  let dirty = false;
  let loaded = false;
  /** The deployed version the diagram came from (null: new or from a file). */
  let loadedDefinitionId: string | null = null;
  let topics: Topic[] = [];
  let definitions: DefinitionSummary[] = [];

  const setDirty = (value: boolean) => {
    dirty = value;
    dirtyLabel.hidden = !value;
  };
  modeler.on('commandStack.changed', () => {
    setDirty(true);
    updateTitle();
    checkOnServer();
  });
  window.addEventListener('beforeunload', (event) => {
    if (!dirty) return;
    event.preventDefault();
    event.returnValue = '';
  });
  modeler.on('linting.completed', ({ issues }: { issues: Record<string, LintIssue[]> }) => renderLint(issues));
  modeler.on('selection.changed', () => renderTopicPicker());
  modeler.on('element.changed', ({ element }: { element: any }) => {
    const selected = modeler.get('selection').get();
    if (selected.length === 1 && selected[0] === element) renderTopicPicker();
  });

  function processOf(): any {
    const definitionsElement = modeler.getDefinitions?.();
    return definitionsElement?.rootElements?.find((element: any) => element.$type === 'bpmn:Process') ?? null;
  }
  function processKey(): string | null {
    return processOf()?.id ?? null;
  }
  function updateTitle(): void {
    const process = processOf();
    titleLabel.textContent = process ? `${process.name ?? process.id} (${process.id})` : '';
  }

  async function load(xml: string): Promise<void> {
    const laid = await withLayout(xml);
    const { warnings } = await modeler.importXML(laid.xml);
    if (warnings?.length) toast(`imported with ${warnings.length} warning(s): ${warnings[0].message}`);
    else if (laid.laidOut) toast('the diagram had no layout: it was laid out automatically (deploy to keep it)');
    fitBesidePalette();
    diffMarkers = [];
    loaded = true;
    setDirty(false);
    updateTitle();
    checkOnServer();
    await renderVersions();
  }

  const confirmDiscard = () => !dirty || confirm('The diagram has unsaved changes. Discard them?');

  async function openDefinition(id: string): Promise<void> {
    if (!confirmDiscard()) {
      history.replaceState(null, '', loadedDefinitionId ? `#/modeler/${encodeURIComponent(loadedDefinitionId)}` : '#/modeler');
      return;
    }
    await load(await api<string>('GET', `/api/process-definitions/${encodeURIComponent(id)}/xml`, undefined, { text: true }));
    loadedDefinitionId = id;
    if (location.hash !== `#/modeler/${encodeURIComponent(id)}`) history.replaceState(null, '', `#/modeler/${encodeURIComponent(id)}`);
  }

  async function refreshDefinitions(): Promise<void> {
    definitions = await api<DefinitionSummary[]>('GET', '/api/process-definitions');
    const latest = definitions.filter((definition, index) => definitions.findIndex((other) => other.key === definition.key) === index);
    clear(
      openSelect,
      h('option', { value: '' }, latest.length ? 'Open a deployed process…' : 'No deployed processes'),
      ...latest.map((definition) => h('option', { value: definition.id }, `${definition.name ?? definition.key} (${definition.key} v${definition.version})`)),
    );
  }

  async function refreshTopics(): Promise<void> {
    topics = await api<Topic[]>('GET', '/api/topics');
    clear(topicList, ...topics.map((topic) => h('option', { value: topic.topic }, topic.description ?? topic.sources.join(', '))));
    renderTopicPicker();
  }

  function renderTopicPicker(): void {
    const selected = modeler.get('selection').get();
    const element = selected.length === 1 ? selected[0] : null;
    const business = element?.businessObject;
    if (!business || !TOPIC_TYPES.includes(business.$type)) {
      topicSection.hidden = true;
      return;
    }
    topicSection.hidden = false;
    const currentTopic: string = business.get('camunda:topic') ?? '';
    const select = h(
      'select',
      { id: 'rf-topic-select', 'aria-label': 'Known topics' },
      h('option', { value: '' }, topics.length ? 'Choose a known topic…' : 'The server knows no topics yet'),
      ...topics.map((topic) =>
        h('option', { value: topic.topic, selected: topic.topic === currentTopic }, `${topic.topic}${topic.description ? ` – ${topic.description}` : ''} [${topic.sources.join(', ')}]`),
      ),
    );
    select.addEventListener('change', () => {
      if (!select.value) return;
      // External implementation with the chosen topic; the properties panel shows it at once.
      modeler.get('modeling').updateProperties(element, { 'camunda:type': 'external', 'camunda:topic': select.value });
    });
    clear(
      topicSection,
      h('h3', {}, 'Topic'),
      h('p', { class: 'rf-muted' }, currentTopic ? `This task waits on topic "${currentTopic}".` : 'No topic yet: the task would wait on its activity id.'),
      select,
    );
  }

  let serverLint: 'unknown' | 'available' | 'absent' = 'unknown';
  let serverCheckRound = 0;
  const checkOnServer = debounce(() => void runServerCheck(), 1000);
  async function runServerCheck(): Promise<void> {
    if (serverLint === 'absent' || !loaded) return;
    const round = ++serverCheckRound;
    const { xml } = await modeler.saveXML();
    try {
      const report = await api<any>('POST', '/api/deployments/lint', { name: `${processKey() ?? 'diagram'}.bpmn`, xml });
      if (round !== serverCheckRound) return;
      serverLint = 'available';
      const errors: any[] = report.errors ?? [];
      clear(
        serverCheck,
        h('div', { class: errors.length ? 'rf-bad' : 'rf-good' }, errors.length ? `Server check: a deploy would be refused (${errors.length} error(s))` : 'Server check: deployable'),
        errors.length ? h('ul', { class: 'rf-lint-list' }, ...errors.map((finding) => h('li', { class: 'rf-lint-error' }, h('strong', {}, finding.rule), ' ', finding.elementId ?? '', ': ', finding.message))) : null,
      );
      serverCheck.hidden = false;
    } catch (error) {
      if (error instanceof ApiError && (error.status === 404 || error.status === 403)) {
        serverLint = 'absent';
        serverCheck.hidden = true;
      }
    }
  }

  function renderLint(issues: Record<string, LintIssue[]>): void {
    const all = Object.entries(issues).flatMap(([elementId, list]) => list.map((issue) => ({ ...issue, elementId })));
    const errors = all.filter((issue) => issue.category === 'error');
    const warnings = all.filter((issue) => issue.category === 'warn');
    lintSummary.textContent = `${errors.length} error(s), ${warnings.length} warning(s)`;
    lintSummary.className = `rf-lint-summary ${errors.length ? 'rf-bad' : warnings.length ? 'rf-warn' : 'rf-good'}`;
    clear(
      lintList,
      ...all.map((issue) => {
        const item = h('li', { class: `rf-lint-${issue.category}` }, h('strong', {}, issue.rule), ' ', issue.elementId, ': ', issue.message);
        item.addEventListener('click', () => {
          const element = modeler.get('elementRegistry').get(issue.elementId);
          if (element) modeler.get('selection').select(element);
        });
        return item;
      }),
    );
  }

  async function renderVersions(): Promise<void> {
    const key = processKey();
    if (!key) return clear(versionsSection);
    const versions = definitions.filter((definition) => definition.key === key);
    const fromSelect = h('select', { id: 'rf-diff-from', 'aria-label': 'Compare from version' });
    const toSelect = h('select', { id: 'rf-diff-to', 'aria-label': 'Compare to version' });
    versions.forEach((version, index) => {
      fromSelect.append(h('option', { value: version.id, selected: index === 1 }, `v${version.version}`));
      toSelect.append(h('option', { value: version.id, selected: index === 0 }, `v${version.version}`));
    });
    const diffOutput = h('div', { id: 'rf-diff-output', class: 'rf-diff' });
    const compare = h('button', { type: 'button', id: 'rf-diff-button', disabled: versions.length < 2 }, 'Compare');
    compare.addEventListener('click', async () => {
      try {
        const [before, after] = await Promise.all(
          [fromSelect.value, toSelect.value].map((id) => api<string>('GET', `/api/process-definitions/${encodeURIComponent(id)}/xml`, undefined, { text: true })),
        );
        const diff = diffDiagrams(before as string, after as string);
        renderDiff(diffOutput, diff);
        markDiff(toSelect.value === loadedDefinitionId ? diff : null);
      } catch (error) {
        reportError(error);
      }
    });
    clear(
      versionsSection,
      h('h3', {}, `Versions of ${key}`),
      versions.length
        ? h(
            'ul',
            { class: 'rf-version-list' },
            ...versions.map((version) =>
              h(
                'li',
                {},
                h('a', { href: `#/modeler/${encodeURIComponent(version.id)}` }, `v${version.version}`),
                ` ${formatTime(version.deployedAt)} `,
                h('a', { href: `#/heatmap/${encodeURIComponent(version.id)}`, class: 'rf-small' }, 'heatmap'),
              ),
            ),
          )
        : h('p', { class: 'rf-muted' }, 'Not deployed yet.'),
      versions.length >= 2 ? h('div', { class: 'rf-row' }, fromSelect, ' → ', toSelect, compare) : null,
      diffOutput,
    );
  }

  /** Diff markers on the canvas when the newer version of a comparison is the one on screen. */
  let diffMarkers: Array<[string, string]> = [];
  function markDiff(diff: ReturnType<typeof diffDiagrams> | null): void {
    const canvas = modeler.get('canvas');
    const registry = modeler.get('elementRegistry');
    for (const [id, marker] of diffMarkers) if (registry.get(id)) canvas.removeMarker(id, marker);
    diffMarkers = [];
    if (!diff) return;
    for (const [entries, marker] of [
      [diff.added, 'rf-diff-added'],
      [diff.changed, 'rf-diff-changed'],
    ] as const) {
      for (const entry of entries) {
        if (!registry.get(entry.id)) continue;
        canvas.addMarker(entry.id, marker);
        diffMarkers.push([entry.id, marker]);
      }
    }
  }

  function renderDiff(target: HTMLElement, diff: ReturnType<typeof diffDiagrams>): void {
    const group = (title: string, kind: string, entries: DiffEntry[]) =>
      entries.length
        ? h(
            'div',
            { class: `rf-diff-${kind}` },
            h('h4', {}, `${title} (${entries.length})`),
            h(
              'ul',
              {},
              ...entries.map((entry) =>
                h('li', {}, h('code', {}, entry.id), ` ${entry.type}${entry.name ? ` "${entry.name}"` : ''}`, entry.changes.length && kind === 'changed' ? h('ul', {}, ...entry.changes.map((change) => h('li', {}, change))) : null),
              ),
            ),
          )
        : null;
    const nothing = !diff.added.length && !diff.removed.length && !diff.changed.length && !diff.moved.length;
    clear(target, nothing ? h('p', {}, 'No differences.') : null, group('Added', 'added', diff.added), group('Removed', 'removed', diff.removed), group('Changed', 'changed', diff.changed), group('Moved only', 'moved', diff.moved));
  }

  async function deploy(): Promise<void> {
    const key = processKey();
    const { xml } = await modeler.saveXML({ format: true });
    try {
      const deployment = await api<any>('POST', '/api/deployments', { name: `${key ?? 'diagram'}.bpmn`, xml });
      setDirty(false);
      const mine = deployment.definitions.find((definition: any) => definition.key === key);
      if (mine) {
        loadedDefinitionId = mine.id;
        history.replaceState(null, '', `#/modeler/${encodeURIComponent(mine.id)}`);
      }
      const lines = deployment.definitions.map((definition: any) => `${definition.key} v${definition.version}${definition.created ? ' deployed' : ' unchanged'}${definition.warnings?.length ? `, ${definition.warnings.length} warning(s)` : ''}`);
      clear(deployResult, h('p', { class: 'rf-good', id: 'rf-deploy-ok' }, lines.join('; ')));
      toast(lines.join('; '));
      await refreshDefinitions();
      await renderVersions();
      await refreshTopics();
    } catch (error) {
      if (error instanceof ApiError && error.problem?.details?.errors) {
        clear(
          deployResult,
          h('p', { class: 'rf-bad' }, 'Deploy refused:'),
          h('ul', {}, ...error.problem.details.errors.map((finding: any) => h('li', {}, `${finding.rule}${finding.elementId ? ` (${finding.elementId})` : ''}: ${finding.message}`))),
        );
      } else {
        clear(deployResult, h('p', { class: 'rf-bad' }, error instanceof Error ? error.message : String(error)));
      }
    }
  }

  /**
   * Fits the whole diagram into the part of the canvas the palette does not cover (fit-viewport
   * alone puts a wide diagram's left edge under it), never scaled above 1.
   */
  function fitBesidePalette(): void {
    // A hidden canvas has no size to fit into (bpmn-js would scale by NaN).
    if (!canvasHost.clientWidth || !canvasHost.clientHeight) return;
    const canvas = modeler.get('canvas');
    canvas.zoom('fit-viewport');
    const { inner, outer } = canvas.viewbox();
    if (!inner.width || !inner.height) return;
    const palette = canvasHost.querySelector('.djs-palette')?.getBoundingClientRect().width ?? 0;
    const left = palette + 24;
    const pad = 24;
    const scale = Math.min(1, (outer.width - left - pad) / inner.width, (outer.height - 2 * pad) / inner.height);
    canvas.viewbox({ x: inner.x - left / scale, y: inner.y - pad / scale, width: outer.width / scale, height: outer.height / scale });
  }

  const startDialogForm = createStartForm('rf-dialog-start', (instance) => {
    startDialog.close();
    location.hash = `#/instance/${instance.id}`;
  });
  const startDialog = h('dialog', { class: 'rf-dialog', id: 'rf-start-dialog' }, h('h3', {}, 'Start an instance'), startDialogForm.element, h('button', { type: 'button', class: 'rf-link', onclick: () => startDialog.close() }, 'Close'));

  async function startInstance(): Promise<void> {
    const key = processKey();
    if (!key) return;
    if (dirty) toast('The diagram has changes that are not deployed; the instance runs the deployed version.');
    if (!startDialog.isConnected) document.body.appendChild(startDialog);
    await startDialogForm.load(key);
    startDialog.showModal();
  }

  const button = (label: string, id: string, action: () => unknown, extra: Record<string, string> = {}) =>
    h('button', { type: 'button', id, ...extra, onclick: () => Promise.resolve(action()).catch(reportError) }, label);

  openSelect.addEventListener('change', () => {
    const id = openSelect.value;
    openSelect.value = '';
    if (id) openDefinition(id).catch(reportError);
  });
  fileInput.addEventListener('change', async () => {
    const file = fileInput.files?.[0];
    fileInput.value = '';
    if (!file || !confirmDiscard()) return;
    await load(await file.text()).catch(reportError);
    loadedDefinitionId = null;
    history.replaceState(null, '', '#/modeler');
  });

  const toolbar = h(
    'div',
    { class: 'rf-toolbar' },
    button('New', 'rf-new', async () => {
      if (!confirmDiscard()) return;
      await load(newDiagramXml());
      loadedDefinitionId = null;
      history.replaceState(null, '', '#/modeler');
    }),
    openSelect,
    button('Open file…', 'rf-open-file-button', () => fileInput.click()),
    fileInput,
    can('deploy') ? button('Deploy', 'rf-deploy', deploy, { class: 'rf-primary' }) : null,
    can('start') ? button('Start instance', 'rf-start', startInstance) : null,
    button('Download XML', 'rf-download-xml', async () => {
      const { xml } = await modeler.saveXML({ format: true });
      download(`${processKey() ?? 'diagram'}.bpmn`, xml, 'application/xml');
    }),
    button('Download SVG', 'rf-download-svg', async () => {
      const { svg } = await modeler.saveSVG();
      download(`${processKey() ?? 'diagram'}.svg`, svg, 'image/svg+xml');
    }),
    button('Undo', 'rf-undo', () => modeler.get('commandStack').undo()),
    button('Redo', 'rf-redo', () => modeler.get('commandStack').redo()),
    titleLabel,
    dirtyLabel,
  );
  const side = h(
    'aside',
    { class: 'rf-side' },
    deployResult,
    h('section', { class: 'rf-side-section' }, h('h3', {}, 'Lint (the rules deploy applies)'), lintSummary, lintList, serverCheck),
    topicSection,
    h('section', { class: 'rf-side-section rf-properties-section' }, h('h3', {}, 'Properties'), propertiesHost),
    versionsSection,
  );
  const element = h('section', { class: 'rf-view rf-modeler-view', id: 'rf-view-modeler' }, toolbar, h('div', { class: 'rf-modeler-body' }, canvasHost, side), topicList);

  return {
    element,
    async show(params) {
      await Promise.all([refreshDefinitions(), refreshTopics()]);
      const [definitionId] = params;
      if (definitionId) {
        // Coming back to the version on screen keeps its edits; another version asks first.
        if (definitionId !== loadedDefinitionId) await openDefinition(definitionId);
        else await renderVersions();
      } else if (!loaded) {
        await load(newDiagramXml());
      } else {
        await renderVersions();
      }
    },
  };
}
