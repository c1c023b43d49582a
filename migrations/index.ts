import type { Knex } from 'knex';
import * as engineCore from './0001-engine-core.js';
import * as telemetry from './0002-telemetry.js';
import * as auditLog from './0003-audit-log.js';
import * as entropy from './0004-entropy.js';
import * as incidentResponse from './0005-incident-response.js';
import * as agentsValidation from './0006-agents-validation.js';
import * as metricsAndRollback from './0007-metrics-and-rollback.js';
import * as agentsRecords from './0008-agents-records.js';
import * as validationCommits from './0009-validation-commits.js';
import * as keptWorktreesPerNode from './0010-kept-worktrees-per-node.js';
import * as engineRaces from './0012-engine-races.js';
import * as idempotencyKeys from './0013-idempotency-keys.js';
import * as definitionResources from './0013b-definition-resources.js';
import * as decisions from './0015-decisions.js';
import * as decisionDeploymentLinks from './0015b-decision-deployment-links.js';
import * as idempotentAnswers from './0020-idempotent-answers.js';
import * as forms from './0021-forms.js';
import * as leanInstanceState from './0025-lean-instance-state.js';
import * as batches from './0026-batches.js';
import * as alertQueue from './0027-alert-queue.js';
import * as signalBroadcasts from './0027b-signal-broadcasts.js';
import * as commandOutput from './0028-command-output.js';
import * as instanceVariablesIndex from './0028b-instance-variables-index.js';
import * as taskFilters from './0028c-task-filters.js';

interface Migration {
  up(knex: Knex): Promise<void>;
  down(knex: Knex): Promise<void>;
}

/** Numbered, forward-only. Imported statically so dist, tsx and jest load the same list. */
const migrations: Array<[name: string, migration: Migration]> = [
  ['0001-engine-core', engineCore],
  ['0002-telemetry', telemetry],
  ['0003-audit-log', auditLog],
  ['0004-entropy', entropy],
  ['0005-incident-response', incidentResponse],
  ['0006-agents-validation', agentsValidation],
  ['0007-metrics-and-rollback', metricsAndRollback],
  ['0008-agents-records', agentsRecords],
  ['0009-validation-commits', validationCommits],
  ['0010-kept-worktrees-per-node', keptWorktreesPerNode],
  ['0012-engine-races', engineRaces],
  ['0013-idempotency-keys', idempotencyKeys],
  ['0013b-definition-resources', definitionResources],
  ['0015-decisions', decisions],
  ['0015b-decision-deployment-links', decisionDeploymentLinks],
  ['0020-idempotent-answers', idempotentAnswers],
  ['0021-forms', forms],
  ['0025-lean-instance-state', leanInstanceState],
  ['0026-batches', batches],
  ['0027-alert-queue', alertQueue],
  ['0027b-signal-broadcasts', signalBroadcasts],
  ['0028-command-output', commandOutput],
  ['0028b-instance-variables-index', instanceVariablesIndex],
  ['0028c-task-filters', taskFilters],
];

export const migrationSource: Knex.MigrationSource<[string, Migration]> = {
  getMigrations: async () => migrations,
  getMigrationName: ([name]) => name,
  getMigration: async ([, migration]) => migration,
};
