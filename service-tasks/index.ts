import { join } from 'node:path';
import type { Config } from '../src/config.js';
import type { KeptWorktreeStore } from '../src/store/kept-worktrees.js';
import { WorktreeRunner } from './agent/index.js';

export { ServiceTaskRegistry, type ServiceTaskDefinition } from './registry.js';

/** The worktree agent as configured: work folder below the data folder, allowed repositories, environment allow-list. */
export function createWorktreeRunner(config: Config, kept?: KeptWorktreeStore): WorktreeRunner {
  const list = (value: string) => value.split(',').map((item) => item.trim()).filter(Boolean);
  return new WorktreeRunner({
    workRoot: join(config.REGENFLOW_DATA_DIR, 'work'),
    repositoryRoots: list(config.REGENFLOW_AGENT_REPOSITORIES),
    envAllowList: list(config.REGENFLOW_AGENT_ENV),
    kept,
    // Unset, the runner keeps an id in its work folder: hostname-pid would change at every restart.
    nodeId: config.REGENFLOW_NODE_ID,
  });
}
