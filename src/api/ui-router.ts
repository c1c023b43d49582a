import { Router, type RequestHandler, type Response } from 'express';
import { z } from 'zod';
import type { WorkflowEngine } from '../engine/workflow-engine.js';
import { notFound } from '../errors.js';
import { allow } from './auth.js';

/** A topic a built-in module serves (the registry's view, without handlers). */
export interface KnownTopic {
  topic: string;
  description: string;
  mode: 'inline' | 'worker';
}

/** Engine events the browser UI follows; payloads are ids and keys, never variables. */
export const STREAMED_EVENTS = ['instance.started', 'instance.ended', 'transition.committed', 'external-tasks.created', 'jobs.scheduled', 'incident.created'] as const;

const HEARTBEAT_MS = 15_000;
const DefinitionId = z.string().min(1).max(300);

/**
 * One listener per engine event fans out to every open stream, so a hundred browser tabs
 * do not add a hundred listeners to the engine.
 */
class EventHub {
  private readonly clients = new Set<Response>();
  private attached = false;

  constructor(private readonly engine: WorkflowEngine) {}

  add(res: Response): void {
    this.clients.add(res);
    if (this.attached) return;
    this.attached = true;
    for (const name of STREAMED_EVENTS) {
      this.engine.on(name, (payload: unknown) => this.broadcast(name, payload));
    }
  }

  remove(res: Response): void {
    this.clients.delete(res);
  }

  private broadcast(name: string, payload: unknown): void {
    const frame = `event: ${name}\ndata: ${JSON.stringify(payload ?? null)}\n\n`;
    for (const client of this.clients) client.write(frame);
  }
}

const hubs = new WeakMap<WorkflowEngine, EventHub>();

/**
 * What the browser UI needs beyond the native API: the topics the server knows, a
 * server-sent event stream of engine events (read with fetch, since the token travels only
 * in the Authorization header), and per-activity figures for the heatmap.
 */
export function uiApiRouter(engine: WorkflowEngine, options: { authenticated: RequestHandler[]; topics: () => KnownTopic[] }): Router {
  const router = Router();
  // Authentication per route: other /api requests pass through this router untouched.
  const viewer = [...options.authenticated, allow('owner', 'operator')];

  router.get('/topics', ...viewer, async (_req, res) => {
    const inUse = await engine.queries.topicsInUse();
    const byTopic = new Map<string, { topic: string; description: string | null; mode: string | null; sources: string[] }>();
    const add = (topic: string, source: string, description: string | null = null, mode: string | null = null) => {
      const entry = byTopic.get(topic) ?? { topic, description, mode, sources: [] };
      entry.description ??= description;
      entry.mode ??= mode;
      if (!entry.sources.includes(source)) entry.sources.push(source);
      byTopic.set(topic, entry);
    };
    for (const known of options.topics()) add(known.topic, 'built-in', known.description, known.mode);
    for (const topic of inUse.openTasks) add(topic, 'open-tasks');
    for (const topic of inUse.definitions) add(topic, 'deployed');
    res.json([...byTopic.values()].sort((a, b) => a.topic.localeCompare(b.topic)));
  });

  router.get('/events', ...viewer, (req, res) => {
    let hub = hubs.get(engine);
    if (!hub) hubs.set(engine, (hub = new EventHub(engine)));
    res.writeHead(200, {
      'Content-Type': 'text/event-stream; charset=utf-8',
      'Cache-Control': 'no-cache, no-transform',
      Connection: 'keep-alive',
      'X-Accel-Buffering': 'no',
    });
    res.write('retry: 3000\n: connected\n\n');
    hub.add(res);
    const heartbeat = setInterval(() => res.write(': ping\n\n'), HEARTBEAT_MS);
    heartbeat.unref();
    req.on('close', () => {
      clearInterval(heartbeat);
      hub.remove(res);
    });
  });

  router.get('/process-definitions/:id/activity-stats', ...viewer, async (req, res) => {
    const id = DefinitionId.parse(req.params.id);
    if (!(await engine.definitionQueries.findDefinition(id))) throw notFound('process definition', id);
    res.json(await engine.queries.activityStats(id));
  });

  return router;
}
