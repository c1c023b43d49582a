import type { Knex } from 'knex';
import { listenForChangeNotices, sendChangeNotice, type ChangeNotice } from '../store/change-notices.js';
import type { WorkflowEngine } from './workflow-engine.js';

/**
 * On PostgreSQL, wakes the other nodes when this one commits a job or an external task
 * (LISTEN/NOTIFY), so a timer due in 200 ms or a task a long-polling worker waits for on
 * another node does not wait for that node's next poll. Polling stays the fallback: a lost
 * notice only costs latency. Notices are coalesced per event-loop turn.
 */
export function startClusterWakeUps(options: {
  engine: WorkflowEngine;
  knex: Knex;
  databaseUrl: string;
  nodeId: string;
  onError: (error: unknown) => void;
}): { close(): Promise<void> } {
  const { engine, knex, nodeId, onError } = options;
  let relaying = false;
  let jobs = false;
  let definitions = false;
  let topics: Set<string> | null = null;
  let flush: NodeJS.Immediate | null = null;
  const send = () => {
    flush = null;
    const notices: ChangeNotice[] = [];
    if (definitions) notices.push({ node: nodeId, kind: 'definitions' });
    if (jobs) notices.push({ node: nodeId, kind: 'jobs' });
    if (topics) notices.push({ node: nodeId, kind: 'external-tasks', topics: [...topics] });
    jobs = false;
    definitions = false;
    topics = null;
    for (const notice of notices) void sendChangeNotice(knex, notice).catch(onError);
  };
  const queue = () => {
    if (!flush) flush = setImmediate(send);
  };
  const onJobs = () => {
    if (relaying) return;
    jobs = true;
    queue();
  };
  const onTasks = (created: string[] = []) => {
    if (relaying) return;
    topics ??= new Set();
    for (const topic of created) topics.add(topic);
    queue();
  };
  // The other nodes' cached "latest version per key" (definition-cache.ts) must be read again.
  const onDeployed = () => {
    if (relaying) return;
    definitions = true;
    queue();
  };
  engine.on('definitions.deployed', onDeployed);
  engine.on('jobs.scheduled', onJobs);
  engine.on('external-tasks.created', onTasks);
  const listener = listenForChangeNotices(
    options.databaseUrl,
    (notice) => {
      if (notice.node === nodeId) return;
      // Re-emitted locally, not sent on again.
      relaying = true;
      try {
        if (notice.kind === 'jobs') engine.emit('jobs.scheduled');
        else if (notice.kind === 'definitions') engine.emit('definitions.deployed');
        else engine.emit('external-tasks.created', notice.topics ?? []);
      } finally {
        relaying = false;
      }
    },
    onError,
  );
  return {
    async close() {
      engine.off('definitions.deployed', onDeployed);
      engine.off('jobs.scheduled', onJobs);
      engine.off('external-tasks.created', onTasks);
      if (flush) clearImmediate(flush);
      await listener.close();
    },
  };
}
