/**
 * Event-loop stalls from one request: runs a scenario against a real server process while
 * a probe GETs /healthz every 50 ms, and prints the scenario's time and the probe's
 * latencies. `npm run bench:stalls -- [root of the checkout to run] [scenario...]`; the
 * server runs from that checkout (default: this one), on PGlite in a temporary folder.
 * Scenarios: otlp (162k minimal spans, 8.3 MB protobuf; BENCH_SPANS), regex (FEEL matches(), 26
 * characters), deploy (one document with 100 processes of BENCH_TASKS user tasks: 120 make 2.1 MB), alerts (1,000
 * Alertmanager notifications from 25 concurrent senders, each a new alert that starts an
 * incident-response instance; BENCH_ALERTS, BENCH_SENDERS: their latency p50/p99/max).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { encodeTraceRequest } from '../src/telemetry/otlp-ingest.js';

const root = resolve(process.argv[2] ?? '.');
const scenarios = process.argv.slice(3).length ? process.argv.slice(3) : ['otlp', 'regex', 'deploy', 'alerts'];
const TOKEN = 'bench-admin';

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
  const { port } = server.address() as { port: number };
  await new Promise((done) => server.close(done));
  return port;
}

async function startServer(port: number, dataDir: string): Promise<ChildProcess> {
  const child = spawn(process.execPath, ['--import', 'tsx', join(root, 'src/cli/main.ts'), 'serve'], {
    cwd: root,
    env: { ...process.env, PORT: String(port), REGENFLOW_DATA_DIR: dataDir, REGENFLOW_TOKENS: `admin:${TOKEN},telemetry:${TOKEN}-t,alert:${TOKEN}-a`, REGENFLOW_RATE_LIMIT: '1000000', REGENFLOW_PROCESSES_DIR: join(dataDir, 'none') },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  await new Promise<void>((done, fail) => {
    let output = '';
    child.stdout!.on('data', (chunk) => {
      output += chunk;
      if (output.includes('listening on')) done();
    });
    child.stderr!.on('data', (chunk) => (output += chunk));
    child.once('exit', (code) => fail(new Error(`server exited ${code}: ${output}`)));
  });
  return child;
}

function quantile(values: number[], q: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted.length ? sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]! : 0;
}

async function withProbe(base: string, work: () => Promise<string>): Promise<void> {
  const latencies: number[] = [];
  let running = true;
  const probe = (async () => {
    while (running) {
      const started = performance.now();
      await fetch(`${base}/healthz`).then((response) => response.arrayBuffer()).catch(() => {});
      latencies.push(performance.now() - started);
      await new Promise((done) => setTimeout(done, 50));
    }
  })();
  const started = performance.now();
  const outcome = await work().catch((error: Error) => `failed: ${(error.cause as Error)?.message ?? error.message}`);
  const took = performance.now() - started;
  running = false;
  await probe;
  console.log(
    `  ${outcome}; took ${(took / 1000).toFixed(2)} s; /healthz during it: n=${latencies.length} p50=${quantile(latencies, 0.5).toFixed(0)} ms p99=${quantile(latencies, 0.99).toFixed(0)} ms max=${Math.max(...latencies).toFixed(0)} ms`,
  );
}

function otlpBody(spans: number): Buffer {
  const bytes = (seed: number, length: number) => Array.from({ length }, (_, index) => (seed * 31 + index * 7 + 1) & 0xff);
  const now = BigInt(Date.now()) * 1_000_000n;
  const perScope = 1000;
  const scopeSpans = [];
  for (let scope = 0; scope * perScope < spans; scope++) {
    const list: object[] = [];
    for (let index = scope * perScope; index < Math.min(spans, (scope + 1) * perScope); index++) {
      // As small as a span gets (ids, a one-letter name, times): 162k of them fit the 8 MiB limit, as in the issue.
      list.push({
        traceId: bytes(index >> 4, 16),
        spanId: bytes(index, 8),
        name: String.fromCharCode(97 + (index % 10)),
        startTimeUnixNano: String(now + BigInt(index) * 1000n),
        endTimeUnixNano: String(now + BigInt(index) * 1000n + 5_000_000n),
      });
    }
    scopeSpans.push({ scope: { name: 'bench' }, spans: list });
  }
  return encodeTraceRequest({ resourceSpans: [{ resource: { attributes: [{ key: 'service.name', value: { stringValue: 'bench-shop' } }] }, scopeSpans }] });
}

function bigDefinition(processes: number, tasksEach: number): string {
  const parts = [];
  for (let p = 0; p < processes; p++) {
    const ids = ['start', ...Array.from({ length: tasksEach }, (_, index) => `task_${index}`), 'end'];
    const elements = [
      `<bpmn:startEvent id="p${p}_start" />`,
      ...Array.from({ length: tasksEach }, (_, index) => `<bpmn:userTask id="p${p}_task_${index}" name="Task ${index} of process ${p} with a longer name to weigh" />`),
      `<bpmn:endEvent id="p${p}_end" />`,
      ...ids.slice(1).map((target, index) => `<bpmn:sequenceFlow id="p${p}_f${index}" sourceRef="p${p}_${ids[index]}" targetRef="p${p}_${target}" />`),
    ];
    parts.push(`<bpmn:process id="bench_p${p}" isExecutable="true">${elements.join('\n')}</bpmn:process>`);
  }
  return `<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" xmlns:camunda="http://camunda.org/schema/1.0/bpmn" id="bench_defs" targetNamespace="http://bench">
${parts.join('\n')}
</bpmn:definitions>`;
}

/** An Alertmanager webhook notification with one new firing alert (its own fingerprint). */
function alertmanagerNotification(index: number): object {
  const labels = { alertname: 'HighErrorRate', service: `shop-${index % 25}`, instance: `app-${index}:8080`, severity: 'critical' };
  return {
    version: '4',
    groupKey: `{}:{alertname="HighErrorRate",instance="app-${index}:8080"}`,
    truncatedAlerts: 0,
    status: 'firing',
    receiver: 'regenflow',
    groupLabels: { alertname: 'HighErrorRate' },
    commonLabels: labels,
    commonAnnotations: {},
    externalURL: 'http://alertmanager:9093',
    alerts: [
      {
        status: 'firing',
        labels,
        annotations: { summary: `error rate above 5% on app-${index}` },
        startsAt: new Date(Date.now() - 60_000).toISOString(),
        endsAt: '0001-01-01T00:00:00Z',
        generatorURL: 'http://prometheus:9090/graph',
        fingerprint: `bench${index.toString(16).padStart(12, '0')}`,
      },
    ],
  };
}

const dataDir = mkdtempSync(join(tmpdir(), 'regenflow-stalls-'));
const port = await freePort();
const base = `http://127.0.0.1:${port}`;
const server = await startServer(port, dataDir);
const auth = { authorization: `Bearer ${TOKEN}` };
try {
  console.log(`server from ${root}`);
  for (const scenario of scenarios) {
    console.log(scenario);
    if (scenario === 'otlp') {
      const body = otlpBody(Number(process.env.BENCH_SPANS ?? 162_000));
      await withProbe(base, async () => {
        const response = await fetch(`${base}/v1/traces`, { method: 'POST', headers: { authorization: `Bearer ${TOKEN}-t`, 'content-type': 'application/x-protobuf' }, body });
        await response.arrayBuffer();
        return `POST /v1/traces ${(body.length / 1e6).toFixed(1)} MB -> ${response.status}`;
      });
    }
    if (scenario === 'regex') {
      const xml = `<?xml version="1.0" encoding="UTF-8"?><bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" id="d" targetNamespace="http://bench"><bpmn:process id="regex" isExecutable="true">
        <bpmn:startEvent id="s" /><bpmn:exclusiveGateway id="g" default="f3" /><bpmn:endEvent id="yes" /><bpmn:endEvent id="no" />
        <bpmn:sequenceFlow id="f1" sourceRef="s" targetRef="g" />
        <bpmn:sequenceFlow id="f2" sourceRef="g" targetRef="yes"><bpmn:conditionExpression xsi:type="bpmn:tFormalExpression">=matches(s, p)</bpmn:conditionExpression></bpmn:sequenceFlow>
        <bpmn:sequenceFlow id="f3" sourceRef="g" targetRef="no" /></bpmn:process></bpmn:definitions>`;
      await fetch(`${base}/api/deployments?name=regex.bpmn`, { method: 'POST', headers: { ...auth, 'content-type': 'application/xml' }, body: xml });
      const length = Number(process.env.BENCH_REGEX_CHARS ?? 26);
      await withProbe(base, async () => {
        const response = await fetch(`${base}/api/process-instances`, {
          method: 'POST',
          headers: { ...auth, 'content-type': 'application/json' },
          body: JSON.stringify({ processKey: 'regex', variables: { s: `${'a'.repeat(length)}!`, p: '^(a+)+$' } }),
        });
        await response.arrayBuffer();
        return `start with matches() over ${length} characters -> ${response.status}`;
      });
    }
    if (scenario === 'deploy') {
      const xml = bigDefinition(100, Number(process.env.BENCH_TASKS ?? 120));
      await withProbe(base, async () => {
        const response = await fetch(`${base}/api/deployments?name=big.bpmn`, { method: 'POST', headers: { ...auth, 'content-type': 'application/xml' }, body: xml });
        const text = await response.text();
        return `deploy ${(xml.length / 1e6).toFixed(2)} MB, 100 processes -> ${response.status}${response.status >= 400 ? ` ${text.slice(0, 200)}` : ''}`;
      });
    }
    if (scenario === 'alerts') {
      const xml = readFileSync(join(root, 'processes/incident-response.bpmn'), 'utf8');
      const deployed = await fetch(`${base}/api/deployments?name=incident-response.bpmn`, { method: 'POST', headers: { ...auth, 'content-type': 'application/xml' }, body: xml });
      if (deployed.status >= 300) throw new Error(`deploying incident-response answered ${deployed.status}: ${await deployed.text()}`);
      const total = Number(process.env.BENCH_ALERTS ?? 1000);
      const senders = Number(process.env.BENCH_SENDERS ?? 25);
      const latencies: number[] = [];
      const statuses = new Map<number, number>();
      await withProbe(base, async () => {
        await Promise.all(
          Array.from({ length: senders }, async (_, sender) => {
            for (let index = sender; index < total; index += senders) {
              const body = JSON.stringify(alertmanagerNotification(index));
              const started = performance.now();
              const response = await fetch(`${base}/api/alerts/alertmanager`, { method: 'POST', headers: { authorization: `Bearer ${TOKEN}-a`, 'content-type': 'application/json' }, body });
              await response.arrayBuffer();
              latencies.push(performance.now() - started);
              statuses.set(response.status, (statuses.get(response.status) ?? 0) + 1);
            }
          }),
        );
        const answered = [...statuses].map(([status, count]) => `${count}x${status}`).join(' ');
        return `${total} alerts from ${senders} senders -> ${answered}; latency p50=${quantile(latencies, 0.5).toFixed(0)} ms p99=${quantile(latencies, 0.99).toFixed(0)} ms max=${Math.max(...latencies).toFixed(0)} ms`;
      });
    }
  }
} finally {
  server.kill('SIGKILL');
  rmSync(dataDir, { recursive: true, force: true });
}
