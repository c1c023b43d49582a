import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import express, { Router } from 'express';
import { sendProblem } from './problem.js';

/** Where `npm run build` puts the browser app (scripts/build-modeler.ts), from sources and from dist. */
export const DEFAULT_MODELER_DIR = fileURLToPath(new URL(import.meta.url.endsWith('.ts') ? '../../dist/modeler/' : '../../modeler/', import.meta.url));

/**
 * The policy of the UI pages. bpmn-js needs no inline script and no eval; it sets inline
 * style attributes on the canvas (hence 'unsafe-inline' for styles only) and embeds its
 * icon font as a data: URL. Everything else comes from this server.
 */
export const MODELER_CSP = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self' 'unsafe-inline'",
  "img-src 'self' data: blob:",
  "font-src 'self' data:",
  "connect-src 'self'",
  "object-src 'none'",
  "base-uri 'none'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join('; ');

/** Serves the built browser app at / (no token needed: it holds no data, the API does). */
export function staticRouter(directory: string = DEFAULT_MODELER_DIR): Router {
  const router = Router();
  router.use((_req, res, next) => {
    res.setHeader('Content-Security-Policy', MODELER_CSP);
    next();
  });
  router.get('/', (_req, res, next) => {
    if (existsSync(join(directory, 'index.html'))) return next();
    sendProblem(res, 503, 'Service Unavailable', 'the browser app is not built; run npm run build', { code: 'MODELER_NOT_BUILT' });
  });
  router.use(
    express.static(directory, {
      index: 'index.html',
      fallthrough: true,
      // File names do not carry a content hash: revalidate, but let the browser keep a copy.
      cacheControl: true,
      maxAge: 0,
      setHeaders: (res, path) => {
        if (path.endsWith('.map')) res.setHeader('Cache-Control', 'no-store');
      },
    }),
  );
  return router;
}
