export { loadPhases, DEFAULT_PHASES_FILE, PHASE_NAMES, type PhaseConfig, type PhasesFile } from './phase-config.js';
export { runPhase, type PhaseTarget } from './phase-runner.js';
export { assessAudit, type AuditAssessment } from './npm-audit.js';
export { checkRegistry, checkSpans, RegistrySchema, type Registry, type CapturedSpan } from './semconv.js';
export { OtlpCapture } from './otlp-capture.js';
export { score, type Verdict } from './scoring.js';
export { checkActivitySpans, ExpectationSchema, type Expectation, type SpanCheck } from './span-validation.js';
export { validatorTopics, PhaseResultSchema, type ValidatorDependencies } from './validator-topics.js';
