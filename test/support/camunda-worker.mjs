// A remote worker written with the real camunda-external-task-client-js, run as a child
// process by the tests. It serves one topic; each task's `outcome` variable says what to do.
import { Client, Variables, logger } from 'camunda-external-task-client-js';

const [baseUrl, topic, token] = process.argv.slice(2);
const bearer = (config) => ({ ...config, headers: { ...config.headers, Authorization: `Bearer ${token}` } });
const client = new Client({
  baseUrl,
  workerId: 'c7-client',
  asyncResponseTimeout: 2000,
  interval: 50,
  interceptors: bearer,
  use: logger.level('error'),
});

client.subscribe(topic, async ({ task, taskService }) => {
  const outcome = task.variables.get('outcome');
  if (outcome === 'complete') {
    const variables = new Variables().set('handledBy', 'c7-client').set('score', 0.93);
    await taskService.complete(task, variables);
  } else if (outcome === 'bpmn-error') {
    await taskService.handleBpmnError(task, 'C7_REJECTED', 'rejected by the remote worker');
  } else {
    await taskService.handleFailure(task, { errorMessage: 'remote worker failed', errorDetails: 'stack', retries: 0, retryTimeout: 0 });
  }
  process.stdout.write(`handled ${task.id} ${outcome}\n`);
});
process.stdout.write('subscribed\n');
