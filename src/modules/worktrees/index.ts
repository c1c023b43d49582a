import { createWorktreeRunner } from '../../../service-tasks/index.js';
import type { WorktreeRunner } from '../../../service-tasks/agent/index.js';
import { createKeptWorktreeStore } from '../../store/kept-worktrees.js';
import { defineModule } from '../product-module.js';

export interface Worktrees {
  /** This node's worktree runner, made (and swept) on first use: by the agent and validator topics. */
  runner(): WorktreeRunner;
}

/**
 * A git worktree per task, shared by the agent and validator topics. Worktrees kept for an
 * instance go when it ends; this node's worktrees of instances that ended while it was down
 * (or on another node) go at start and on every sweep; each node removes only its own.
 */
export const worktreesModule = defineModule<Worktrees>({
  name: 'worktrees',
  tables: ['kept_worktrees'],
  init({ config, knex, engine }) {
    let runner: WorktreeRunner | undefined;
    let stopSweeping: (() => void) | undefined;
    return {
      service: {
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
