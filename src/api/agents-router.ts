import { Router } from 'express';
import { z } from 'zod';
import type { AgentHealth, AgentRegistry } from '../../service-tasks/agent/index.js';
import { notFound } from '../errors.js';
import { allow } from './auth.js';

const Name = z.string().min(1).max(200).regex(/^[\w.:@-]+$/, 'letters, digits and . _ : @ - only');
export const RegisterSchema = z
  .object({
    name: Name,
    topics: z.array(z.string().min(1).max(200)).min(1).max(100),
    capacity: z.number().int().min(1).max(1000).default(1),
  })
  .strict();

const describe = (agent: AgentHealth) => ({
  name: agent.name,
  kind: agent.kind,
  topics: agent.topics,
  capacity: agent.capacity,
  healthy: agent.healthy,
  registeredAt: new Date(agent.registered_at).toISOString(),
  lastHeartbeatAt: new Date(agent.last_heartbeat_at).toISOString(),
  releasedAt: agent.released_at ? new Date(agent.released_at).toISOString() : null,
  work: agent.work.map((task) => ({ ...task, lockExpiresAt: task.lockExpiresAt ? new Date(task.lockExpiresAt).toISOString() : null })),
});

/**
 * `/api/agents`: agents register with the name they fetch with (their workerId), the topics
 * they serve and a capacity; listing shows health and the tasks each holds.
 */
export function agentsRouter(agents: AgentRegistry): Router {
  const router = Router();

  router.get('/', allow('owner', 'operator', 'worker'), async (_req, res) => {
    res.json((await agents.list()).map(describe));
  });

  router.post('/', allow('worker'), async (req, res) => {
    const body = RegisterSchema.parse(req.body);
    await agents.register(body);
    res.status(201).json(describe((await agents.get(body.name))!));
  });

  router.get('/:name', allow('owner', 'operator', 'worker'), async (req, res) => {
    const name = Name.parse(req.params.name);
    const agent = await agents.get(name);
    if (!agent) throw notFound('agent', name);
    res.json(describe(agent));
  });

  router.delete('/:name', allow('worker'), async (req, res) => {
    const name = Name.parse(req.params.name);
    if (!(await agents.unregister(name))) throw notFound('agent', name);
    res.status(204).end();
  });

  return router;
}
