import { api } from './api.js';
import { clear, formatTime, h } from './dom.js';
import { jsonTree } from './json-tree.js';

interface Evaluation {
  id: string;
  root_id: string | null;
  decision_key: string;
  decision_version: number;
  decision_definition_id: string;
  activity_id: string | null;
  inputs: Array<{ id: string; label: string | null; expression: string; value: unknown }>;
  matched_rules: Array<{ id: string; index: number; description: string | null; outputs: Record<string, unknown> }>;
  outputs: Array<Record<string, unknown>>;
  record: { decisionName?: string | null; hitPolicy?: string | null; resultValue?: unknown };
  evaluated_at: string;
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
      { class: `rf-decision${evaluation.root_id ? ' rf-decision-required' : ''}`, 'data-decision': evaluation.decision_key, open: !evaluation.root_id },
      h(
        'summary',
        {},
        h('strong', {}, evaluation.record?.decisionName ?? evaluation.decision_key),
        ` v${evaluation.decision_version}`,
        evaluation.activity_id ? h('span', { class: 'rf-muted' }, ` at ${nameOf(evaluation.activity_id)}`) : null,
        h('span', { class: 'rf-muted' }, ` · ${formatTime(evaluation.evaluated_at)}`),
      ),
      evaluation.inputs?.length
        ? h('table', { class: 'rf-table rf-compact rf-decision-inputs' }, h('tr', {}, h('th', {}, 'input'), h('th', {}, 'value')), ...evaluation.inputs.map((input) => h('tr', {}, h('td', { title: input.expression }, input.label ?? input.expression), h('td', {}, text(input.value)))))
        : null,
      h(
        'p',
        { class: 'rf-decision-rules' },
        evaluation.matched_rules?.length
          ? `matched rule${evaluation.matched_rules.length > 1 ? 's' : ''} ${evaluation.matched_rules.map((rule) => `#${rule.index}${rule.description ? ` (${rule.description})` : ''}`).join(', ')}${evaluation.record?.hitPolicy ? ` · hit policy ${evaluation.record.hitPolicy}` : ''}`
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
