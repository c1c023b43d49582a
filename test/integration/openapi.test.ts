import { createHttpApp } from '../../src/api/http-server.js';
import { TokenRegistry } from '../../src/api/auth.js';
import { nativeRouter, nativeRoutes } from '../../src/api/native-router.js';
import { worktreesModule } from '../../src/modules/index.js';
import { createTestApp } from '../support/test-app.js';

/** GET /api/openapi.json is generated from the routes' zod schemas; /api/docs lists them. */
describe('OpenAPI document and docs page', () => {
  let app: Awaited<ReturnType<typeof createTestApp>>;
  let base: string;

  beforeAll(async () => {
    app = await createTestApp();
    base = `http://127.0.0.1:${await app.listen()}`;
  });
  afterAll(async () => {
    await app.dispose();
  });

  it('when the spec is fetched, then every route the native router serves is in it, with its schemas and roles', async () => {
    const response = await fetch(`${base}/api/openapi.json`);
    expect(response.status).toBe(200);
    const spec = (await response.json()) as { openapi: string; paths: Record<string, Record<string, any>> };
    expect(spec.openapi).toBe('3.1.0');

    // What express actually mounted, read from the router itself.
    const router = nativeRouter(nativeRoutes(app.engine, { bpmnBytes: 1024 })) as unknown as { stack: Array<{ route?: { path: string; methods: Record<string, boolean> } }> };
    const served = router.stack
      .filter((layer) => layer.route)
      .flatMap((layer) => Object.keys(layer.route!.methods).map((method) => `${method} /api${layer.route!.path.replace(/:(\w+)/g, '{$1}')}`));
    const documented = Object.entries(spec.paths).flatMap(([path, operations]) => Object.keys(operations).map((method) => `${method} ${path}`));
    expect(served.length).toBeGreaterThan(20);
    expect(documented).toEqual(expect.arrayContaining(served));
    expect(documented).toEqual(expect.arrayContaining(['get /api/openapi.json', 'get /api/docs']));

    const start = spec.paths['/api/process-instances']!.post;
    expect(start['x-roles']).toEqual(['admin', 'owner', 'operator']);
    const body = start.requestBody.content['application/json'].schema;
    expect(body.properties).toHaveProperty('processKey');
    expect(body.properties).toHaveProperty('variables');
    expect(body.additionalProperties).toBe(false);
    const list = spec.paths['/api/process-instances']!.get;
    expect(list.parameters.map((parameter: { name: string }) => parameter.name)).toEqual(
      expect.arrayContaining(['status', 'processKey', 'businessKey', 'startedBefore', 'startedAfter', 'limit', 'offset']),
    );
    expect(list.parameters.find((parameter: { name: string }) => parameter.name === 'status').schema.enum).toEqual(['active', 'completed', 'cancelled', 'failed']);
    const execute = spec.paths['/api/jobs/{id}/execute']!.post;
    expect(execute.parameters).toEqual([expect.objectContaining({ name: 'id', in: 'path', required: true })]);
    expect(Object.keys(spec.paths['/api/deployments']!.post.requestBody.content)).toEqual(['application/json', 'application/xml', 'multipart/form-data']);

    // Answers name their camelCase fields: a task, an incident, the waits inside an instance.
    const answer = (path: string, method = 'get') => spec.paths[path]![method].responses['200'].content['application/json'].schema;
    expect(Object.keys(answer('/api/tasks').items.properties)).toEqual(expect.arrayContaining(['instanceId', 'activityId', 'candidateGroups', 'dueAt', 'createdAt']));
    expect(Object.keys(answer('/api/incidents').items.properties)).toEqual(expect.arrayContaining(['instanceId', 'processKey', 'jobId', 'externalTaskId', 'resolvedAt']));
    const detail = answer('/api/process-instances/{id}').properties;
    expect(Object.keys(detail.userTasks.items.properties)).toContain('candidateGroups');
    expect(Object.keys(detail.incidents.items.properties)).toContain('activityId');
    const fieldNames = JSON.stringify(Object.values(spec.paths).flatMap((operations) => Object.values(operations).map((operation) => operation.responses?.['200'] ?? operation.responses?.['201'] ?? null)));
    expect(fieldNames.match(/"[a-z]+_[a-z_]+":\{/g) ?? []).toEqual([]);
  });

  it('when express mounts a route anywhere outside /engine-rest, then the spec lists it: a route left out of the route table fails here', async () => {
    const spec = (await (await fetch(`${base}/api/openapi.json`)).json()) as { paths: Record<string, Record<string, unknown>> };
    const documented = new Set(Object.entries(spec.paths).flatMap(([path, operations]) => Object.keys(operations).map((method) => `${method} ${path}`)));
    // Every product module's routers, as the server mounts them.
    const http = createHttpApp(app.engine, {
      tokens: new TokenRegistry([]),
      isReady: async () => true,
      mounts: app.modules.routes,
      liveLog: app.modules.get(worktreesModule).liveLogReader,
    }) as unknown as { router: Layer };
    const served = walk(http.router, '').filter((route) => !route.startsWith('get /engine-rest') && !/ \/engine-rest/.test(route));
    const api = served.filter((route) => / \/(api|v1|metrics|healthz|readyz)\b/.test(route));
    expect(api.length).toBeGreaterThan(60);
    expect(api.filter((route) => !documented.has(route))).toEqual([]);
    for (const wanted of ['post /api/alerts/alertmanager', 'get /api/entropy/control-charts', 'get /api/patterns/decisions', 'get /api/agents', 'get /api/validation-runs/{id}', 'get /api/topics', 'get /api/events', 'get /api/process-definitions/{id}/activity-stats', 'get /api/me']) {
      expect(documented).toContain(wanted);
    }
  });

  it('when the docs page is opened, then it lists the routes as static HTML that runs no script under a strict CSP', async () => {
    const response = await fetch(`${base}/api/docs`);
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toMatch(/^text\/html/);
    const csp = response.headers.get('content-security-policy') ?? '';
    expect(csp).toContain("script-src 'self'");
    expect(csp).not.toContain('unsafe-eval');
    const html = await response.text();
    expect(html).not.toMatch(/<script/i);
    expect(html).not.toMatch(/\son\w+=/i);
    expect(html).not.toMatch(/https?:\/\/(?!127\.0\.0\.1)/);
    expect(html).toContain('/api/process-instances/{id}/history');
    expect(html).toContain('/api/jobs/{id}/execute');
    const css = await fetch(`${base}/api/docs.css`);
    expect(css.headers.get('content-type')).toMatch(/^text\/css/);
  });
});

interface Layer {
  stack?: Layer[];
  rawPath?: unknown;
  route?: { path: string; methods: Record<string, boolean> };
  handle?: Layer;
}

/** Every `method path` express serves, walking mounted routers with their mount paths. */
function walk(router: Layer, prefix: string): string[] {
  const found: string[] = [];
  for (const layer of router.stack ?? []) {
    if (layer.route) {
      const path = `${prefix}${layer.route.path === '/' && prefix ? '' : layer.route.path}`.replace(/:(\w+)/g, '{$1}');
      for (const method of Object.keys(layer.route.methods)) found.push(`${method} ${path}`);
    } else if (layer.handle?.stack) {
      const mount = typeof layer.rawPath === 'string' && layer.rawPath !== '/' ? layer.rawPath : '';
      found.push(...walk(layer.handle, `${prefix}${mount}`));
    }
  }
  return found;
}
