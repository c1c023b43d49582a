import { createWorktreeRunner } from '../../../service-tasks/index.js';
import type { WorktreeRunner } from '../../../service-tasks/agent/index.js';
import { LiveLog, type LiveLogFactory } from '../../../service-tasks/agent/live-log.js';
import type { LiveLogReader } from '../../api/command-output-router.js';
import { createCommandOutputStore, instanceStatus, listCommandOutput } from '../../store/command-output.js';
import { createKeptWorktreeStore } from '../../store/kept-worktrees.js';
import { defineModule } from '../product-module.js';

export interface Worktrees {
  /** This node's worktree runner, made (and swept) on first use: by the agent and validator topics. */
  runner(): WorktreeRunner;
  /** Streams a command's output into `command_output` while it runs (the instance view's live log). */
  readonly liveLog: LiveLogFactory;
  /** Reads an instance's live log for GET /api/process-instances/:id/logs. */
  readonly liveLogReader: LiveLogReader;
}

/**
 * A git worktree per task, shared by the agent and validator topics. Worktrees kept for an
 * instance go when it ends; this node's worktrees of instances that ended while it was down
 * (or on another node) go at start and on every sweep; each node removes only its own.
 */
export const worktreesModule = defineModule<Worktrees>({
  name: 'worktrees',
  tables: ['kept_worktrees', 'command_output'],
  init({ config, knex, engine, log }) {
    let runner: WorktreeRunner | undefined;
    let stopSweeping: (() => void) | undefined;
    const commandOutput = createCommandOutputStore(knex);
    return {
      service: {
        liveLog: (target) =>
          new LiveLog(commandOutput, target, {
            // A lost log line must not fail the command it describes.
            onError: (error) => log(`live log of ${target.instanceId}/${target.activityId} not written: ${error instanceof Error ? error.message : String(error)}`),
          }),
        liveLogReader: {
          instanceStatus: (instanceId) => instanceStatus(knex, instanceId),
          list: (instanceId, page) => listCommandOutput(knex, instanceId, page),
        },
        runner() {
          if (runner) return runner;
          const made = (runner = createWorktreeRunner(config, createKeptWorktreeStore(knex)));
          engine.on('instance.ended', (ended: { id: string }) => void made.releaseInstance(ended.id).catch(() => {}));
          void made.releaseOrphans().catch(() => {});
          stopSweeping = made.startSweeping();
          return made;
        },
      },
      stop: () => stopSweeping?.(),
    };
  },
});
