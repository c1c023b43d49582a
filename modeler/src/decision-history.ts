import { api } from './api.js';
import { clear, formatTime, h } from './dom.js';
import { jsonTree } from './json-tree.js';

interface Evaluation {
  id: string;
  rootId: string | null;
  decisionKey: string;
  decisionVersion: number;
  decisionDefinitionId: string;
  activityId: string | null;
  inputs: Array<{ id: string; label: string | null; expression: string; value: unknown }>;
  matchedRules: Array<{ id: string; index: number; description: string | null; outputs: Record<string, unknown> }>;
  outputs: Array<Record<string, unknown>>;
  record: { decisionName?: string | null; hitPolicy?: string | null; resultValue?: unknown };
  evaluatedAt: string;
}

const text = (value: unknown) => (typeof value === 'string' ? JSON.stringify(value) : value === undefined ? '–' : JSON.stringify(value));

/**
 * Every DMN evaluation an instance's business rule tasks made, in order: the decision and
 * version, the activity that asked, each input with its value, the rules that matched and
 * the outputs (required decisions of a DRG indented under the one that asked for them).
 */
export function createDecisionHistory(nameOf: (activityId: string) => string): { element: HTMLElement; show(instanceId: string | null): Promise<void> } {
  const list = h('div', { class: 'rf-decision-list' });
  const element = h('section', { class: 'rf-side-section rf-decision-history', id: 'rf-decision-history', hidden: true }, h('h3', {}, 'Decisions'), list);
  let shownFor = '';

  const card = (evaluation: Evaluation) =>
    h(
      'details',
      { class: `rf-decision${evaluation.rootId ? ' rf-decision-required' : ''}`, 'data-decision': evaluation.decisionKey, open: !evaluation.rootId },
      h(
        'summary',
        {},
        h('strong', {}, evaluation.record?.decisionName ?? evaluation.decisionKey),
        ` v${evaluation.decisionVersion}`,
        evaluation.activityId ? h('span', { class: 'rf-muted' }, ` at ${nameOf(evaluation.activityId)}`) : null,
        h('span', { class: 'rf-muted' }, ` · ${formatTime(evaluation.evaluatedAt)}`),
      ),
      evaluation.inputs?.length
        ? h('table', { class: 'rf-table rf-compact rf-decision-inputs' }, h('tr', {}, h('th', {}, 'input'), h('th', {}, 'value')), ...evaluation.inputs.map((input) => h('tr', {}, h('td', { title: input.expression }, input.label ?? input.expression), h('td', {}, text(input.value)))))
        : null,
      h(
        'p',
        { class: 'rf-decision-rules' },
        evaluation.matchedRules?.length
          ? `matched rule${evaluation.matchedRules.length > 1 ? 's' : ''} ${evaluation.matchedRules.map((rule) => `#${rule.index}${rule.description ? ` (${rule.description})` : ''}`).join(', ')}${evaluation.record?.hitPolicy ? ` · hit policy ${evaluation.record.hitPolicy}` : ''}`
          : evaluation.record?.hitPolicy
            ? 'no rule matched'
            : 'literal expression',
      ),
      h('div', { class: 'rf-decision-outputs' }, h('span', { class: 'rf-muted' }, 'output '), jsonTree(evaluation.record?.resultValue !== undefined ? evaluation.record.resultValue : evaluation.outputs)),
    );

  return {
    element,
    async show(instanceId) {
      if (!instanceId) {
        element.hidden = true;
        return;
      }
      const evaluations = await api<Evaluation[]>('GET', `/api/process-instances/${instanceId}/decisions?limit=1000`).catch(() => null);
      if (!evaluations) return;
      // Unchanged: keep what is open or closed as the reader left it.
      const key = `${instanceId}:${evaluations.map((evaluation) => evaluation.id).join(',')}`;
      if (key === shownFor) return;
      shownFor = key;
      element.hidden = evaluations.length === 0;
      clear(list, ...evaluations.map(card));
    },
  };
}
