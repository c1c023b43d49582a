export { AgentRegistry, type AgentHealth, type AgentRegistryOptions } from './agent-registry.js';
export { agentTopics, defineTopic, type AgentTopicDependencies } from './agent-topics.js';
export { runCommand, insideRoot, allowedEnvironment, type CommandSpec, type CommandResult, type RunOptions } from './command-runner.js';
export { loadProfiles, DEFAULT_PROFILES_FILE, type Profiles } from './profiles.js';
export { WorktreeRunner, type WorktreeTask, type WorktreeResult, type WorktreeRunnerOptions } from './worktree-runner.js';
export { LiveLog, type LiveLogFactory, type LiveLogTarget, type LiveLogOptions } from './live-log.js';
