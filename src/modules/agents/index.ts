import { z } from 'zod';
import { AgentRegistry, agentTopics, loadProfiles } from '../../../service-tasks/agent/index.js';
import { agentsRouter, RegisterSchema } from '../../api/agents-router.js';
import type { RouteDoc } from '../../api/route-spec.js';
import { createAgentStore } from '../../store/agents.js';
import { loadOnce, defineModule } from '../product-module.js';
import { entropyModule } from '../entropy/index.js';
import { validatorModule } from '../validator/index.js';
import { worktreesModule } from '../worktrees/index.js';

const Json = z.record(z.string(), z.unknown());
const Rows = z.array(Json);

/**
 * Agents: the registry of local and remote agents (topics, heartbeats, health) and the
 * agent.* topics that run commands in worktrees. Every fetch is a heartbeat; silent remote
 * agents lose their locks, and their topics go back to the built-in workers.
 */
export const agentsModule = defineModule<AgentRegistry>({
  name: 'agents',
  tables: ['agents'],
  depends: [worktreesModule, validatorModule, entropyModule],
  init({ config, knex, engine, registry, nodeId, logError }, use) {
    const agents = new AgentRegistry(createAgentStore(knex), {
      heartbeatTimeoutMs: config.REGENFLOW_AGENT_HEARTBEAT_MS,
      onReleased: (topics) => engine.emit('external-tasks.created', topics),
      onError: logError,
    });
    const { runs } = use(validatorModule);
    return {
      service: agents,
      topics: () =>
        agentTopics({
          runner: use(worktreesModule).runner(),
          profiles: loadOnce(() => loadProfiles(config.REGENFLOW_AGENT_PROFILES)),
          monitoredSystems: use(entropyModule).monitoredSystems,
          pinnedCommit: (instanceId, ref) => runs.pinned(instanceId, ref),
          integrationPassed: async (instanceId) => (await runs.phaseResults(instanceId)).get('integration')?.passed,
          liveLog: use(worktreesModule).liveLog,
        }),
      routes: [{ path: '/api/agents', router: agentsRouter(agents), docs: AGENT_ROUTES }],
      listeners: { 'external-tasks.fetching': (workerId: string) => void agents.heartbeat(workerId).catch(logError) },
      async start() {
        // This node's in-process workers are an agent too, serving every built-in worker topic.
        const builtInTopics = registry.topics().filter((definition) => definition.mode === 'worker').map((definition) => definition.topic);
        if (builtInTopics.length) await agents.register({ name: `regenflow:${nodeId}`, topics: builtInTopics, capacity: 4, kind: 'built-in' });
        agents.start();
      },
      stop: () => agents.stop(),
    };
  },
});

const AGENT_ROUTES: RouteDoc[] = [
  { method: 'get', path: '/api/agents', tag: 'agents', summary: 'Registered agents with their topics, capacity, heartbeat and health.', roles: ['owner', 'operator', 'worker'], responses: { 200: { description: 'agents', schema: Rows } } },
  { method: 'post', path: '/api/agents', tag: 'agents', summary: 'Register an agent or send its heartbeat.', roles: ['worker'], body: RegisterSchema, responses: { 200: { description: 'the agent', schema: Json } } },
  { method: 'get', path: '/api/agents/:name', tag: 'agents', summary: 'One agent.', roles: ['owner', 'operator', 'worker'], params: z.object({ name: z.string() }), responses: { 200: { description: 'the agent', schema: Json }, 404: { description: 'no such agent' } } },
  { method: 'delete', path: '/api/agents/:name', tag: 'agents', summary: 'Deregister an agent.', roles: ['worker'], params: z.object({ name: z.string() }), responses: { 204: { description: 'gone' } } },
];
