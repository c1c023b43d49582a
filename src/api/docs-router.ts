import { Router } from 'express';
import type { openApiDocument } from './route-spec.js';

type OpenApi = ReturnType<typeof openApiDocument>;

/**
 * `GET /api/openapi.json` and a docs page (`GET /api/docs`) listing every route of the spec.
 * Public: they describe the API, not its data. The page is static HTML with no script and
 * its stylesheet from the same origin, so helmet's Content-Security-Policy holds.
 */
export function docsRouter(spec: OpenApi): Router {
  const router = Router();
  const page = renderDocs(spec);
  router.get('/openapi.json', (_req, res) => {
    res.json(spec);
  });
  router.get('/docs', (_req, res) => {
    res.type('text/html').send(page);
  });
  router.get('/docs.css', (_req, res) => {
    res.type('text/css').send(STYLES);
  });
  return router;
}

const STYLES = `body{font:15px/1.5 system-ui,sans-serif;margin:2rem auto;max-width:60rem;padding:0 1rem;color:#222}
h2{margin-top:2rem;border-bottom:1px solid #ddd}
table{border-collapse:collapse;width:100%}td{padding:.3rem .5rem;vertical-align:top;border-bottom:1px solid #eee}
code{font-size:90%}.method{font-weight:600;text-transform:uppercase;width:5rem}.roles{color:#666;width:12rem}`;

function escape(text: unknown): string {
  return String(text).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

function renderDocs(spec: OpenApi): string {
  const byTag = new Map<string, string[]>();
  for (const [path, operations] of Object.entries(spec.paths)) {
    for (const [method, operation] of Object.entries(operations) as Array<[string, { summary?: string; tags?: string[]; 'x-roles'?: unknown }]>) {
      const tag = operation.tags?.[0] ?? 'other';
      const roles = Array.isArray(operation['x-roles']) ? operation['x-roles'].join(', ') : String(operation['x-roles'] ?? '');
      const row = `<tr><td class="method">${escape(method)}</td><td><code>${escape(path)}</code><br>${escape(operation.summary ?? '')}</td><td class="roles">${escape(roles)}</td></tr>`;
      byTag.set(tag, [...(byTag.get(tag) ?? []), row]);
    }
  }
  const sections = [...byTag].map(([tag, rows]) => `<h2>${escape(tag)}</h2><table>${rows.join('')}</table>`).join('\n');
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>${escape(spec.info.title)} API</title>
<link rel="stylesheet" href="docs.css"></head>
<body><h1>${escape(spec.info.title)} API ${escape(spec.info.version)}</h1>
<p>Send <code>Authorization: Bearer &lt;token&gt;</code>. Errors are <code>application/problem+json</code> (RFC 9457) with a stable <code>code</code>.
The machine-readable spec is <a href="openapi.json">openapi.json</a>; the Camunda 7 subset lives under <code>/engine-rest</code>.</p>
${sections}
</body></html>
`;
}
