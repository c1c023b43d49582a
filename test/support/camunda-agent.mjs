// A remote review agent written with the real camunda-external-task-client-js, run as a
// child process by the tests: it registers itself at /api/agents, then serves agent.review
// the way an LLM-backed manager would (here with a fixed verdict).
import { Client, Variables, logger } from 'camunda-external-task-client-js';

const [base, token, name] = process.argv.slice(2);
const registered = await fetch(`${base}/api/agents`, {
  method: 'POST',
  headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
  body: JSON.stringify({ name, topics: ['agent.review'], capacity: 2 }),
});
if (registered.status !== 201) {
  process.stderr.write(`registration failed: ${registered.status} ${await registered.text()}\n`);
  process.exit(1);
}
const client = new Client({
  baseUrl: `${base}/engine-rest`,
  workerId: name,
  asyncResponseTimeout: 1000,
  interval: 50,
  interceptors: (config) => ({ ...config, headers: { ...config.headers, Authorization: `Bearer ${token}` } }),
  use: logger.level('error'),
});
client.subscribe('agent.review', async ({ task, taskService }) => {
  const round = Number(task.variables.get('reviewRound') ?? 0);
  const variables = new Variables()
    .set('quality', 0.95)
    .set('reviewRound', round + 1)
    .setTyped('review', { type: 'Json', value: JSON.stringify({ missing: [], notes: ['reviewed remotely'] }) })
    .set('reviewedBy', name);
  await taskService.complete(task, variables);
  process.stdout.write(`reviewed ${task.id}\n`);
});
process.stdout.write('subscribed\n');
