import type { Request, RequestHandler, Response, Router } from 'express';
import { z } from 'zod';
import { allow, type Role } from './auth.js';

type Method = 'get' | 'post' | 'put' | 'patch' | 'delete';

/**
 * One route of the native API, declared once: its schemas validate the request and also
 * produce the OpenAPI document, so the spec cannot drift from what the router accepts.
 */
export interface RouteSpec<P extends z.ZodType = z.ZodType, Q extends z.ZodType = z.ZodType, B extends z.ZodType = z.ZodType> {
  method: Method;
  /** Express path relative to the router, e.g. `/process-instances/:id`. */
  path: string;
  summary: string;
  tag: string;
  /** Roles let through besides admin; `null` means no token is needed. */
  roles: Role[] | null;
  params?: P;
  query?: Q;
  /** The JSON body. */
  body?: B;
  /** Request media types the route parses itself (e.g. application/xml), with a schema when it has one. */
  alsoAccepts?: Record<string, { description: string; schema?: z.ZodType }>;
  responses: Record<number, { description: string; schema?: z.ZodType; contentType?: string }>;
  /** Runs before validation (body parsers for non-JSON bodies). */
  before?: RequestHandler[];
  handler: (input: { params: z.output<P>; query: z.output<Q>; body: z.output<B> }, req: Request, res: Response) => Promise<void> | void;
}

/**
 * A route as the spec and `GET /api/me` see it. Routers that mount their own handlers (alerts,
 * entropy, agents, the event stream, ...) declare theirs in `route-table.ts`, so one table lists
 * every route; a test walks express's stack and fails on any route missing from it.
 */
export type RouteDoc = Omit<RouteSpec, 'handler' | 'before'>;

/**
 * A router mounted at a path by a product module (src/modules/*): authenticated and counted
 * once, guarded by `roles` when given; `docs` lists every route it serves (full paths), so
 * the route table, the OpenAPI document and `GET /api/me` include them.
 */
export interface RouteMount {
  /** Full mount path, e.g. `/api/alerts`. */
  readonly path: string;
  /** Roles let through the whole mount (besides admin); per-route roles sit in the router. */
  readonly roles?: Role[];
  readonly router: Router;
  readonly docs: RouteDoc[];
}

/** Keeps the generic parameters of one route so its handler sees typed input. */
export function route<P extends z.ZodType = z.ZodObject<{}>, Q extends z.ZodType = z.ZodObject<{}>, B extends z.ZodType = z.ZodUndefined>(
  spec: RouteSpec<P, Q, B>,
): RouteSpec {
  return spec as unknown as RouteSpec;
}

/** Mounts routes on a router: role check, then body parsers, then validation, then the handler. */
export function mountRoutes(router: Router, routes: RouteSpec[]): void {
  for (const spec of routes) {
    const guards: RequestHandler[] = spec.roles ? [allow(...spec.roles)] : [];
    router[spec.method](spec.path, ...guards, ...(spec.before ?? []), async (req, res) => {
      const input = {
        params: spec.params ? spec.params.parse(req.params) : {},
        query: spec.query ? spec.query.parse(req.query ?? {}) : {},
        body: spec.body ? spec.body.parse(req.body ?? {}) : undefined,
      };
      await spec.handler(input as never, req, res);
    });
  }
}

/** The OpenAPI 3.1 document of a set of routes mounted under `prefix`. */
export function openApiDocument(routes: Array<{ prefix: string; routes: RouteDoc[] }>, info: { title: string; version: string }) {
  const paths: Record<string, Record<string, unknown>> = {};
  for (const group of routes) {
    for (const spec of group.routes) {
      const path = `${group.prefix}${spec.path}`.replace(/:([A-Za-z_]+)/g, '{$1}');
      const parameters = [
        ...parametersOf(spec.params, 'path'),
        ...parametersOf(spec.query, 'query'),
      ];
      const content: Record<string, unknown> = {};
      if (spec.body) content['application/json'] = { schema: jsonSchema(spec.body) };
      for (const [type, { description, schema }] of Object.entries(spec.alsoAccepts ?? {})) {
        content[type] = { schema: schema ? { ...jsonSchema(schema), description } : { description } };
      }
      const operation: Record<string, unknown> = {
        operationId: `${spec.method}${path.replace(/[^A-Za-z0-9]+(.)?/g, (_m, c: string | undefined) => (c ? c.toUpperCase() : ''))}`,
        summary: spec.summary,
        tags: [spec.tag],
        'x-roles': spec.roles ? ['admin', ...spec.roles] : 'public',
        security: spec.roles ? [{ bearer: [] }] : [],
        ...(parameters.length ? { parameters } : {}),
        ...(Object.keys(content).length ? { requestBody: { required: Boolean(spec.body && !spec.alsoAccepts), content } } : {}),
        responses: Object.fromEntries(
          Object.entries({ ...spec.responses, ...(spec.roles ? STANDARD_ERRORS : {}) }).map(([status, response]) => [
            status,
            {
              description: response.description,
              ...(response.schema || response.contentType
                ? {
                    content: {
                      [response.contentType ?? (Number(status) >= 400 ? 'application/problem+json' : 'application/json')]: {
                        schema: response.schema ? jsonSchema(response.schema, 'output') : {},
                      },
                    },
                  }
                : {}),
            },
          ]),
        ),
      };
      paths[path] = { ...paths[path], [spec.method]: operation };
    }
  }
  return {
    openapi: '3.1.0',
    info,
    components: {
      securitySchemes: { bearer: { type: 'http', scheme: 'bearer', description: 'a token from REGENFLOW_TOKENS' } },
      schemas: { Problem: jsonSchema(ProblemSchema, 'output') },
    },
    paths,
  };
}

/** RFC 9457 problem details as this API sends them. */
export const ProblemSchema = z.object({
  type: z.string(),
  title: z.string(),
  status: z.number().int(),
  detail: z.string(),
  code: z.string().describe('stable SCREAMING_SNAKE error code'),
  errors: z.array(z.object({ path: z.string(), message: z.string() })).optional(),
  details: z.record(z.string(), z.unknown()).optional(),
});

const STANDARD_ERRORS: RouteSpec['responses'] = {
  400: { description: 'invalid input (problem+json naming each field)', schema: ProblemSchema },
  401: { description: 'missing or invalid bearer token', schema: ProblemSchema },
  403: { description: 'the role of the token may not do this', schema: ProblemSchema },
  429: { description: 'the request budget of this token is used up', schema: ProblemSchema },
};

function jsonSchema(schema: z.ZodType, io: 'input' | 'output' = 'input'): Record<string, unknown> {
  const { $schema: _ignored, ...rest } = z.toJSONSchema(schema, { io, unrepresentable: 'any', target: 'draft-2020-12' }) as Record<string, unknown>;
  return rest;
}

function parametersOf(schema: z.ZodType | undefined, where: 'path' | 'query') {
  if (!schema) return [];
  const json = jsonSchema(schema) as { properties?: Record<string, Record<string, unknown>>; required?: string[] };
  return Object.entries(json.properties ?? {}).map(([name, property]) => ({
    name,
    in: where,
    required: where === 'path' || (json.required ?? []).includes(name),
    ...(property.description ? { description: property.description } : {}),
    schema: property,
  }));
}
