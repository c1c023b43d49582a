import { z } from 'zod';
import { BpmnErrorSignal } from '../../src/engine/runtime/service-binding.js';
import { AppError } from '../../src/errors.js';
import { ScaffoldFileSchema } from '../generator/scaffold.js';
import type { ServiceTaskDefinition } from '../registry.js';
import type { MonitoredSystemStore } from '../../src/store/monitored-systems.js';
import { ServiceNameSchema } from '../../src/telemetry/service-name.js';
import type { Profiles } from './profiles.js';
import type { InlineHandlerContext } from '../../src/engine/runtime/service-binding.js';
import type { LiveLogFactory } from './live-log.js';
import { REF, type WorktreeResult, type WorktreeRunner, type WorktreeTask } from './worktree-runner.js';

export interface AgentTopicDependencies {
  runner: WorktreeRunner;
  profiles: () => Promise<Profiles>;
  /** Whether the instance's integration phase passed, as its phase task recorded it (never a variable). */
  integrationPassed: (instanceId: string) => Promise<boolean | undefined>;
  /** The commit an instance's validation pinned for a ref: deploys run that, never what the ref names later. */
  pinnedCommit?: (instanceId: string, ref: string) => Promise<string | undefined>;
  /** Where feature.handoff registers the released system for the evolution cycle. */
  monitoredSystems: MonitoredSystemStore;
  /** Live logs of the commands while they run (absent: none are written). */
  liveLog?: LiveLogFactory;
}

const kebab = z.string().regex(/^[a-z][a-z0-9]*(-[a-z0-9]+)*$/, 'must be kebab-case').max(60);
const Ref = z.string().regex(REF, 'must be a plain git ref');
/** Agents only ever write feature branches: nothing they do can move main. */
const FeatureBranch = Ref.refine((ref) => ref.startsWith('feature/'), 'must start with feature/');
const Repository = z.string().min(1).max(1000);

const WorkItemSchema = z.object({ entity: kebab, branch: FeatureBranch, files: z.array(ScaffoldFileSchema).min(1).max(20) });
const ScaffoldsSchema = z.array(z.object({ entity: kebab, files: z.array(ScaffoldFileSchema).min(1).max(20) })).min(1).max(20);

const CommandSummary = z.object({ argv: z.array(z.string()), exitCode: z.number().nullable(), timedOut: z.boolean(), durationMs: z.number(), output: z.string(), missingScript: z.string().optional() });
const AgentResultSchema = z.object({
  entity: z.string(),
  branch: z.string(),
  commit: z.string().nullable(),
  succeeded: z.boolean(),
  changedFiles: z.array(z.string()),
  durationMs: z.number(),
  commands: z.array(CommandSummary),
  diff: z.string(),
});

/** Keeps the handler's types inferred from its schemas. */
export const defineTopic = <I extends z.ZodType, O extends z.ZodType>(definition: ServiceTaskDefinition<I, O>): ServiceTaskDefinition =>
  definition as unknown as ServiceTaskDefinition;

const OUTPUT_KEPT = 4000;
const summarise = (result: WorktreeResult) =>
  result.commands.map((command) => ({
    argv: command.argv,
    exitCode: command.exitCode,
    timedOut: command.timedOut,
    durationMs: command.durationMs,
    output: command.output.length > OUTPUT_KEPT ? `…${command.output.slice(-OUTPUT_KEPT)}` : command.output,
    ...(command.missingScript && { missingScript: command.missingScript }),
  }));
const cap = (text: string, bytes = 16_000) => (text.length > bytes ? `${text.slice(0, bytes)}\n… (diff cut at ${bytes} characters)` : text);

/**
 * The manager and worker topics of the agent loop (plan → execute → review → refine) and
 * the command-profile topics (deploy.*). Each is an external task: the built-in,
 * deterministic agents here serve them unless a healthy remote agent took the topic over.
 */
export function agentTopics(dependencies: AgentTopicDependencies): ServiceTaskDefinition[] {
  const { runner } = dependencies;
  const profileCommands = async (topic: string) => (await dependencies.profiles())[topic]?.commands ?? [];
  /** Runs a worktree task with its output in the instance's live log, closed with how it went. */
  const runLogged = async (context: InlineHandlerContext, run: string, task: WorktreeTask): Promise<WorktreeResult> => {
    const log = dependencies.liveLog?.({ instanceId: context.instanceId, activityId: context.activityId, run });
    log?.start(`${run}: ${task.commands.map((command) => command.argv.join(' ')).join(' && ') || 'no commands'}`);
    let result: WorktreeResult;
    try {
      result = await runner.run({ ...task, onOutput: log ? (text) => log.write(text) : undefined });
    } catch (error) {
      await log?.end({ passed: false, summary: `${run} could not run: ${runner.relativePaths(error instanceof Error ? error.message : String(error)).slice(0, 500)}` });
      throw error;
    }
    const failed = result.succeeded ? undefined : result.commands.at(-1);
    const why = failed ? (failed.missingScript ? failed.output : `${failed.argv.join(' ')}: ${failed.timedOut ? 'timed out' : `exit code ${failed.exitCode}`}`) : '';
    await log?.end({ passed: result.succeeded, summary: result.succeeded ? `${run} succeeded in ${result.durationMs} ms` : `${run} failed: ${why}`, durationMs: result.durationMs });
    return result;
  };

  const plan = defineTopic({
    topic: 'agent.plan',
    description: 'manager: splits a feature into one work item (entity, branch, files) per agent',
    mode: 'worker',
    input: z.object({ feature: kebab, scaffolds: ScaffoldsSchema }),
    output: z.object({ workItems: z.array(WorkItemSchema), reviewRound: z.number().int() }),
    handler: async ({ feature, scaffolds }) => ({
      workItems: scaffolds.map((scaffold) => ({ entity: scaffold.entity, branch: `feature/${feature}--${scaffold.entity}`, files: scaffold.files })),
      reviewRound: 0,
    }),
  });

  const execute = defineTopic({
    topic: 'agent.execute',
    description: 'worker: writes its work item into a fresh worktree, runs the agent.execute profile, commits to its branch',
    mode: 'worker',
    input: z.object({ workItem: WorkItemSchema, repository: Repository, baseRef: Ref, feature: kebab }),
    output: z.object({ agentResult: AgentResultSchema }),
    handler: async ({ workItem, repository, baseRef, feature }, context) => {
      const result = await runLogged(context, `agent.execute ${workItem.entity}`, {
        repository,
        ref: baseRef,
        key: `agent-${context.instanceId}-${context.executionId}`,
        branch: workItem.branch,
        files: workItem.files,
        commands: await profileCommands('agent.execute'),
        message: `${feature}: scaffold ${workItem.entity}\n\nwritten by regenflow agent.execute for instance ${context.instanceId}`,
      });
      return {
        agentResult: {
          entity: workItem.entity,
          branch: workItem.branch,
          commit: result.commit,
          succeeded: result.succeeded,
          changedFiles: result.changedFiles,
          durationMs: result.durationMs,
          commands: summarise(result),
          diff: cap(result.diff),
        },
      };
    },
  });

  const sync = defineTopic({
    topic: 'agent.sync',
    description: 'merges every agent branch into the feature branch (a conflict is the BPMN error MERGE_CONFLICT)',
    mode: 'worker',
    bpmnErrors: ['MERGE_CONFLICT'],
    input: z.object({ workItems: z.array(WorkItemSchema).min(1), repository: Repository, baseRef: Ref, feature: kebab }),
    output: z.object({ featureBranch: FeatureBranch, featureCommit: z.string(), merged: z.array(z.string()) }),
    handler: async ({ workItems, repository, baseRef, feature }, context) => {
      const featureBranch = `feature/${feature}`;
      const git = ['git', '-c', 'user.name=regenflow', '-c', 'user.email=regenflow@localhost', '-c', 'commit.gpgsign=false'];
      const result = await runner
        .run({
          repository,
          ref: baseRef,
          key: `sync-${context.instanceId}`,
          branch: featureBranch,
          commands: workItems.map((item) => ({ argv: [...git, 'merge', '--no-ff', '--no-edit', '-m', `merge ${item.branch}`, item.branch], timeoutMs: 60_000 })),
        })
        .catch((error: unknown) => {
          // The feature branch is checked out elsewhere (often by the person resolving a conflict):
          // git will not make it again from baseRef, and retrying cannot help. That person decides.
          if (error instanceof AppError && error.code === 'WORKTREE_FAILED' && /already (checked out|used by worktree)/.test(error.message)) {
            const mergeFailure = `${featureBranch} could not be made again from ${baseRef}: ${runner.relativePaths(error.message).slice(0, 2000)}`;
            throw new BpmnErrorSignal('MERGE_CONFLICT', mergeFailure, { mergeFailure });
          }
          throw error;
        });
      if (!result.succeeded) {
        // The runner aborted the conflicted merge: the feature branch holds the merges before it, and
        // the next attempt (after a person fixed the agent branches) makes it again from baseRef.
        const failed = result.commands.at(-1);
        const mergeFailure = `merging ${failed?.argv.at(-1) ?? 'an agent branch'} into ${featureBranch} failed:\n${runner.relativePaths(failed?.output ?? '').slice(0, 4000)}`;
        throw new BpmnErrorSignal('MERGE_CONFLICT', mergeFailure.slice(0, 2000), { mergeFailure });
      }
      return { featureBranch, featureCommit: result.head, merged: workItems.map((item) => item.branch) };
    },
  });

  const review = defineTopic({
    topic: 'agent.review',
    description: 'manager: scores the feature branch (expected files present, integration phase passed) as quality 0..1',
    mode: 'worker',
    input: z.object({
      repository: Repository,
      featureBranch: FeatureBranch,
      workItems: z.array(WorkItemSchema).min(1),
      reviewRound: z.number().int().min(0).default(0),
    }),
    output: z.object({ quality: z.number().min(0).max(1), reviewRound: z.number().int(), review: z.object({ missing: z.array(z.string()), notes: z.array(z.string()) }) }),
    handler: async ({ repository, featureBranch, workItems, reviewRound }, context) => {
      const passed = await dependencies.integrationPassed(context.instanceId);
      const integration = passed === undefined ? undefined : { passed };
      const present = new Set(await runner.listFiles(repository, featureBranch));
      const expected = workItems.flatMap((item) => item.files.map((file) => file.path));
      const missing = expected.filter((path) => !present.has(path));
      const completeness = expected.length ? (expected.length - missing.length) / expected.length : 0;
      const tests = integration ? (integration.passed ? 1 : 0) : 0.5;
      const notes = [
        `${expected.length - missing.length} of ${expected.length} expected files are on ${featureBranch}`,
        integration ? `integration phase ${integration.passed ? 'passed' : 'failed'}` : 'no integration result to go by',
      ];
      return { quality: Math.round((0.6 * completeness + 0.4 * tests) * 1000) / 1000, reviewRound: reviewRound + 1, review: { missing, notes } };
    },
  });

  const refine = defineTopic({
    topic: 'agent.refine',
    description: 'worker: writes what the review found missing onto the feature branch',
    mode: 'worker',
    input: z.object({ repository: Repository, featureBranch: FeatureBranch, workItems: z.array(WorkItemSchema), review: z.object({ missing: z.array(z.string()) }) }),
    output: z.object({ refined: z.array(z.string()), featureCommit: z.string() }),
    handler: async ({ repository, featureBranch, workItems, review: findings }, context) => {
      const files = workItems.flatMap((item) => item.files).filter((file) => findings.missing.includes(file.path));
      const result = await runLogged(context, 'agent.refine', {
        repository,
        ref: featureBranch,
        key: `refine-${context.instanceId}-${context.executionId}`,
        branch: featureBranch,
        files,
        commands: await profileCommands('agent.execute'),
        message: `refine: ${files.length} missing files`,
      });
      return { refined: result.changedFiles, featureCommit: result.head };
    },
  });

  const profileTopic = (topic: string, errorCode: string): ServiceTaskDefinition =>
    defineTopic({
    topic,
    description: `runs the ${topic} command profile in a worktree of the repository at ref (failure is the BPMN error ${errorCode})`,
    mode: 'worker',
    bpmnErrors: [errorCode],
    input: z.object({ repository: Repository, ref: Ref }),
    output: z.object({ [topic.replace('.', '_')]: z.object({ commit: z.string(), durationMs: z.number(), commands: z.array(CommandSummary) }) }),
    handler: async ({ repository, ref }, context) => {
      const commands = await profileCommands(topic);
      // A deploy step that runs nothing must not look like a deploy.
      if (!commands.length) throw new BpmnErrorSignal(errorCode, `no commands are configured for ${topic}`, { failedStep: topic });
      // What this instance validated under that ref, not what the ref names now (it may have moved since).
      const commit = (await dependencies.pinnedCommit?.(context.instanceId, ref)) ?? ref;
      const result = await runLogged(context, topic, { repository, ref: commit, key: `${topic}-${context.instanceId}-${context.executionId}`, commands }).catch((error: unknown) => {
        // A rollback that cannot even start (unknown previous ref, no worktree, repository gone) leaves
        // production broken: a person must act now, not after retries end in an incident.
        if (errorCode !== 'ROLLBACK_FAILED') throw error;
        const why = error instanceof AppError ? `${error.code}: ${error.message}` : String(error);
        throw new BpmnErrorSignal(errorCode, `${topic} could not run: ${why}`.slice(0, 2000), { [topic.replace('.', '_')]: { error: why.slice(0, 2000) }, failedStep: topic });
      });
      const summary = { commit: result.head, durationMs: result.durationMs, commands: summarise(result) };
      if (!result.succeeded) {
        const failed = result.commands.at(-1)!;
        const why = failed.missingScript ? failed.output : `${failed.argv.join(' ')}: ${failed.timedOut ? 'timed out' : `exit code ${failed.exitCode}`}`;
        throw new BpmnErrorSignal(errorCode, why, {
          [topic.replace('.', '_')]: summary,
          failedStep: topic,
        });
      }
      return { [topic.replace('.', '_')]: summary };
    },
    });

  const handoff = defineTopic({
    topic: 'feature.handoff',
    description: "registers the released feature's system (serviceName, else the feature name) in the monitored systems the evolution cycle measures",
    mode: 'inline',
    input: z.object({ feature: kebab, featureCommit: z.string().max(100).optional(), serviceName: ServiceNameSchema.optional() }),
    output: z.object({
      monitoring: z.object({ by: z.literal('evolution-cycle'), subject: z.string(), serviceName: z.string(), commit: z.string().nullable(), since: z.string() }),
    }),
    handler: async ({ feature, featureCommit, serviceName }, context) => {
      // Idempotent: the same instance handing over again (at-least-once) leaves the row as it was.
      const row = await dependencies.monitoredSystems.register({ serviceName: serviceName ?? feature, feature, commit: featureCommit ?? null, instanceId: context.instanceId });
      return {
        monitoring: { by: 'evolution-cycle' as const, subject: `feature/${feature}`, serviceName: row.service_name, commit: row.commit, since: new Date(row.since).toISOString() },
      };
    },
  });

  return [
    plan,
    execute,
    sync,
    review,
    refine,
    profileTopic('deploy.staging', 'DEPLOY_FAILED'),
    profileTopic('deploy.smoke', 'SMOKE_FAILED'),
    profileTopic('deploy.production', 'DEPLOY_FAILED'),
    profileTopic('deploy.watch', 'WATCH_FAILED'),
    profileTopic('deploy.rollback', 'ROLLBACK_FAILED'),
    handoff,
  ];
}
