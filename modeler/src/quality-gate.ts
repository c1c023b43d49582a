import { formatMs, h } from './dom.js';

/** What `validator.score` records (`validation`) and each phase task (`phase_<name>`). */
interface Verdict {
  score: number;
  gate: number;
  passed: boolean;
  vitalFew: string[];
  skipped: string[];
  reasons: string[];
}

interface PhaseResult {
  name: string;
  passed: boolean;
  score: number;
  weight: number;
  required: boolean;
  durationMs: number;
  summary: string;
  output?: string;
  skipped?: boolean;
}

const isVerdict = (value: any): value is Verdict =>
  !!value && typeof value.score === 'number' && typeof value.gate === 'number' && typeof value.passed === 'boolean' && Array.isArray(value.reasons);
const isPhase = (value: any): value is PhaseResult => !!value && typeof value.name === 'string' && typeof value.passed === 'boolean' && typeof value.weight === 'number';

const WHAT_SKIPPED_MEANS =
  'A phase that is not required and whose script the repository lacks is skipped: it is not a pass, it scores 0 with its full weight, ' +
  'and among the vital few (the heaviest phases, 80 % of the weight) it fails the gate. A skipped phase outside the vital few only lowers the score.';

/**
 * The quality gate of a validation instance (ci-pipeline, feature-lifecycle's validation): the
 * verdict with its reasons once scored, and each phase's result as the phase tasks record them,
 * so a run in progress shows what passed so far (the diagram marks the phase that runs now).
 */
export function qualityGatePanel(variables: Record<string, unknown>): HTMLElement | null {
  const verdict = isVerdict(variables.validation) ? variables.validation : null;
  const phases = Object.entries(variables)
    .filter(([name, value]) => name.startsWith('phase_') && isPhase(value))
    .map(([, value]) => value as PhaseResult);
  if (!verdict && !phases.length) return null;
  const vital = new Set(verdict?.vitalFew ?? []);

  const status = (phase: PhaseResult) => (phase.skipped ? 'skipped' : phase.passed ? 'passed' : 'failed');
  // Four narrow columns: the side panel is ~360 px wide; the summary and output go under the name.
  const rows = phases.map((phase) =>
    h(
      'tr',
      { 'data-phase': phase.name },
      h(
        'td',
        {},
        h('strong', {}, phase.name),
        vital.has(phase.name) ? h('span', { class: 'rf-muted', title: 'one of the vital few' }, ' ★') : null,
        h('div', { class: 'rf-muted' }, `${phase.required ? 'required' : 'optional'} · ${phase.summary}`),
        phase.output ? h('details', { class: 'rf-raw' }, h('summary', {}, 'output'), h('pre', {}, phase.output)) : null,
      ),
      h('td', { class: phase.skipped ? 'rf-muted' : phase.passed ? 'rf-good' : 'rf-bad' }, status(phase)),
      h('td', {}, `${phase.score.toFixed(2)} × ${phase.weight}`),
      h('td', {}, formatMs(phase.durationMs)),
    ),
  );

  return h(
    'section',
    { class: 'rf-side-section', id: 'rf-quality-gate' },
    h('h3', {}, 'Quality gate'),
    verdict
      ? h(
          'p',
          { class: verdict.passed ? 'rf-good' : 'rf-bad', id: 'rf-gate-verdict' },
          `${verdict.passed ? 'Passed' : 'Failed'}: score ${verdict.score} against the gate ${verdict.gate}`,
        )
      : h('p', { class: 'rf-muted', id: 'rf-gate-verdict' }, `not scored yet: ${phases.length} phase(s) recorded so far`),
    verdict?.reasons.length ? h('ul', { id: 'rf-gate-reasons' }, ...verdict.reasons.map((reason) => h('li', { class: 'rf-bad' }, reason))) : null,
    rows.length ? h('table', { class: 'rf-table rf-compact', id: 'rf-gate-phases' }, h('tr', {}, h('th', {}, 'phase'), h('th', {}, 'result'), h('th', {}, 'score × weight'), h('th', {}, 'took')), ...rows) : null,
    verdict?.vitalFew.length ? h('p', { class: 'rf-muted' }, `★ the vital few: ${verdict.vitalFew.join(', ')}; each must pass.`) : null,
    phases.some((phase) => phase.skipped) ? h('p', { class: 'rf-muted', id: 'rf-gate-skipped' }, WHAT_SKIPPED_MEANS) : null,
  );
}
