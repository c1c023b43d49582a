import { api, ApiError } from './api.js';
import { clear, formatTime, h, reportError, toast } from './dom.js';
import type { View } from './view.js';

interface DecisionVersion {
  id: string;
  key: string;
  version: number;
  name: string | null;
  resourceName: string;
  drgKey: string;
  deployedAt: string;
}
interface TableInput {
  id: string;
  label: string | null;
  expression: string;
}
interface DecisionModel {
  id: string;
  name: string | null;
  logic: { kind: 'table'; inputs: TableInput[] } | { kind: 'literal'; text: string } | null;
}

const NEW_DMN = (id: string) => `<?xml version="1.0" encoding="UTF-8"?>
<definitions xmlns="https://www.omg.org/spec/DMN/20191111/MODEL/" xmlns:dmndi="https://www.omg.org/spec/DMN/20191111/DMNDI/" xmlns:dc="http://www.omg.org/spec/DMN/20180521/DC/" id="${id}_drg" name="${id}" namespace="http://regenflow.dev/decisions">
  <decision id="${id}" name="${id}">
    <decisionTable id="${id}_table" hitPolicy="UNIQUE">
      <input id="${id}_input" label="Input"><inputExpression id="${id}_input_expression" typeRef="string"><text>input</text></inputExpression></input>
      <output id="${id}_output" label="Output" name="output" typeRef="string" />
    </decisionTable>
  </decision>
  <dmndi:DMNDI><dmndi:DMNDiagram id="${id}_diagram"><dmndi:DMNShape id="${id}_di" dmnElementRef="${id}"><dc:Bounds height="80" width="180" x="160" y="100" /></dmndi:DMNShape></dmndi:DMNDiagram></dmndi:DMNDI>
</definitions>`;

/** dmn-js and its styles load with the first visit of this view, in their own chunk and file. */
let dmnModule: Promise<any> | null = null;
function loadDmnJs(): Promise<any> {
  if (!document.querySelector('link[data-rf-dmn]')) {
    document.head.appendChild(h('link', { rel: 'stylesheet', href: 'dmn-styles.css', 'data-rf-dmn': 'true' }));
  }
  dmnModule ??= import('dmn-js/lib/Modeler').then((module) => module.default);
  return dmnModule;
}

/**
 * Decisions: the DMN editor (dmn-js: DRD, decision tables, literal expressions) with deploy,
 * the deployed versions, and a "test this decision" panel that evaluates the deployed version
 * over input values (each evaluation is recorded, as any other).
 */
export function createDmnEditorView(): View {
  const canvas = h('div', { class: 'rf-dmn-canvas', id: 'rf-dmn-canvas' });
  const tabs = h('div', { class: 'rf-dmn-tabs', id: 'rf-dmn-tabs', role: 'tablist' });
  const openSelect = h('select', { id: 'rf-dmn-open', 'aria-label': 'Open a deployed decision' });
  const title = h('span', { class: 'rf-diagram-title', id: 'rf-dmn-title' }, '');
  const deployResult = h('div', { id: 'rf-dmn-deploy-result' });
  const versionsList = h('ul', { id: 'rf-dmn-versions' });
  const testForm = h('form', { id: 'rf-dmn-test' });
  const testResult = h('div', { class: 'rf-dmn-result', id: 'rf-dmn-test-result' });
  const element = h(
    'div',
    { class: 'rf-dmn', id: 'rf-dmn-view' },
    h(
      'div',
      { class: 'rf-dmn-main' },
      h(
        'div',
        { class: 'rf-dmn-toolbar' },
        openSelect,
        h('button', { type: 'button', id: 'rf-dmn-new', onclick: () => void newDecision().catch(reportError) }, 'New decision'),
        h('button', { type: 'button', class: 'rf-primary', id: 'rf-dmn-deploy', onclick: () => void deploy().catch(reportError) }, 'Deploy'),
        title,
      ),
      tabs,
      canvas,
      deployResult,
    ),
    h(
      'aside',
      { class: 'rf-dmn-side' },
      h('section', {}, h('h2', {}, 'Test this decision'), h('p', { class: 'rf-muted' }, 'Evaluates the deployed version over these inputs (values as JSON; plain text is a string).'), testForm, testResult),
      h('section', {}, h('h2', {}, 'Versions'), versionsList),
    ),
  );

  let modeler: any = null;
  /** The deployed version open in the editor (null: a new, undeployed file). */
  let opened: DecisionVersion | null = null;
  let resourceName = 'decision.dmn';

  async function ensureModeler(): Promise<any> {
    if (modeler) return modeler;
    const DmnModeler = await loadDmnJs();
    modeler = new DmnModeler({ container: canvas });
    modeler.on('views.changed', ({ views, activeView }: { views: any[]; activeView: any }) => renderTabs(views, activeView));
    return modeler;
  }

  function renderTabs(views: any[], activeView: any): void {
    clear(
      tabs,
      ...views.map((view) =>
        h(
          'button',
          {
            type: 'button',
            role: 'tab',
            'data-view-type': view.type,
            'data-element-id': view.element.id,
            'aria-selected': String(view === activeView),
            onclick: () => void modeler.open(view).catch(reportError),
          },
          `${view.type === 'drd' ? 'DRD' : view.type === 'decisionTable' ? 'Table' : 'Literal'}: ${view.element.name ?? view.element.id}`,
        ),
      ),
    );
  }

  async function importXml(xml: string, decisionKey?: string): Promise<void> {
    const dmn = await ensureModeler();
    await dmn.importXML(xml);
    const view = dmn.getViews().find((candidate: any) => candidate.element.id === decisionKey && candidate.type !== 'drd');
    if (view) await dmn.open(view);
  }

  async function refreshList(selected?: string): Promise<void> {
    const latest = await api<DecisionVersion[]>('GET', '/api/decision-definitions?latest=true');
    clear(openSelect, h('option', { value: '' }, 'Open a deployed decision…'), ...latest.map((row) => h('option', { value: row.key }, `${row.name ?? row.key} (v${row.version})`)));
    if (selected) openSelect.value = selected;
  }

  async function open(idOrKey: string): Promise<void> {
    const [definition, xml] = await Promise.all([
      api<DecisionVersion & { drg: { decisions: DecisionModel[] } }>('GET', `/api/decision-definitions/${encodeURIComponent(idOrKey)}`),
      api<string>('GET', `/api/decision-definitions/${encodeURIComponent(idOrKey)}/xml`, undefined, { text: true }),
    ]);
    opened = definition;
    resourceName = definition.resourceName;
    await importXml(xml, definition.key);
    title.textContent = `${definition.name ?? definition.key} — version ${definition.version}`;
    openSelect.value = definition.key;
    renderTest(definition.drg.decisions.find((decision) => decision.id === definition.key) ?? null);
    await renderVersions(definition.key);
  }

  async function renderVersions(key: string): Promise<void> {
    const versions = await api<DecisionVersion[]>('GET', `/api/decision-definitions?key=${encodeURIComponent(key)}`);
    clear(
      versionsList,
      ...versions.map((version) =>
        h(
          'li',
          {},
          h('button', { type: 'button', class: 'rf-link-button', 'data-version': version.version, onclick: () => void open(version.id).catch(reportError) }, `v${version.version}`),
          ` ${formatTime(version.deployedAt)}${opened?.id === version.id ? ' (open)' : ''}`,
        ),
      ),
    );
  }

  function renderTest(decision: DecisionModel | null): void {
    clear(testResult);
    if (!decision || !opened) return void clear(testForm, h('p', { class: 'rf-muted' }, 'Deploy the decision to test it.'));
    const names = decision.logic?.kind === 'table' ? [...new Set(decision.logic.inputs.map((input) => input.expression).filter((text) => /^[A-Za-z_][\w]*$/.test(text)))] : [];
    const fields = names.map((name) => h('label', {}, name, h('input', { name, 'data-input': name, id: `rf-dmn-input-${name}` })));
    const extra = h('textarea', { name: 'extra', id: 'rf-dmn-extra', rows: 3, placeholder: '{"more": "variables as JSON"}' });
    clear(
      testForm,
      ...fields,
      h('label', {}, 'More variables (JSON)', extra),
      h('button', { type: 'submit', class: 'rf-primary', id: 'rf-dmn-evaluate' }, `Evaluate v${opened.version}`),
    );
    testForm.onsubmit = (event) => {
      event.preventDefault();
      void evaluate(names, extra.value).catch(reportError);
    };
  }

  async function evaluate(names: string[], extra: string): Promise<void> {
    if (!opened) return;
    const variables: Record<string, unknown> = extra.trim() ? JSON.parse(extra) : {};
    for (const name of names) {
      const raw = (testForm.querySelector(`[data-input="${name}"]`) as HTMLInputElement).value;
      if (raw === '') continue;
      try {
        variables[name] = JSON.parse(raw);
      } catch {
        variables[name] = raw;
      }
    }
    try {
      const outcome = await api<{ result: unknown[]; evaluated: Array<{ decisionId: string; matchedRules: Array<{ id: string; index: number }> }> }>(
        'POST',
        `/api/decision-definitions/${encodeURIComponent(opened.id)}/evaluate`,
        { variables },
      );
      const matched = outcome.evaluated.map((decision) => `${decision.decisionId}: ${decision.matchedRules.map((rule) => `rule ${rule.index} (${rule.id})`).join(', ') || 'no rule matched'}`);
      testResult.textContent = `result: ${JSON.stringify(outcome.result, null, 2)}\n${matched.join('\n')}`;
    } catch (error) {
      testResult.textContent = error instanceof ApiError ? `${error.problem?.code ?? error.status}: ${error.message}` : String(error);
    }
  }

  async function deploy(): Promise<void> {
    const dmn = await ensureModeler();
    const { xml } = await dmn.saveXML({ format: true });
    const key = dmn.getDefinitions?.()?.drgElement?.find((element: any) => element.$type === 'dmn:Decision')?.id ?? opened?.key;
    clear(deployResult);
    try {
      const deployment = await api<{ decisions: Array<{ id: string; key: string; version: number; created: boolean }> }>('POST', '/api/deployments', { name: resourceName, xml });
      const summary = deployment.decisions.map((decision) => `${decision.key} v${decision.version}${decision.created ? ' (new)' : ' (unchanged)'}`).join(', ');
      toast(`deployed ${summary}`);
      clear(deployResult, h('p', { id: 'rf-dmn-deployed' }, `Deployed: ${summary}`));
      const target = deployment.decisions.find((decision) => decision.key === (opened?.key ?? key)) ?? deployment.decisions[0];
      await refreshList(target?.key);
      if (target) await open(target.id);
    } catch (error) {
      if (!(error instanceof ApiError)) throw error;
      const errors: Array<{ elementId?: string; message: string; rule: string }> = error.problem?.details?.errors ?? [];
      clear(
        deployResult,
        h('p', { class: 'rf-error' }, error.message),
        h('ul', { class: 'rf-dmn-errors', id: 'rf-dmn-deploy-errors' }, ...errors.map((finding) => h('li', {}, `${finding.elementId ?? ''}: ${finding.message} (${finding.rule})`))),
      );
    }
  }

  async function newDecision(): Promise<void> {
    const key = `decision_${Math.random().toString(36).slice(2, 8)}`;
    opened = null;
    resourceName = `${key}.dmn`;
    await importXml(NEW_DMN(key), key);
    title.textContent = `${key} — not deployed`;
    renderTest(null);
    clear(versionsList);
  }

  openSelect.addEventListener('change', () => {
    if (openSelect.value) void open(openSelect.value).catch(reportError);
  });

  return {
    element,
    async show(params) {
      await ensureModeler();
      await refreshList();
      const wanted = params[0];
      if (wanted) await open(wanted);
      else if (!opened && !modeler.getDefinitions?.()) await newDecision();
    },
  };
}
