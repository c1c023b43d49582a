import { existsSync } from 'node:fs';
import { extname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import express, { Router, type RequestHandler } from 'express';
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

const TYPES: Record<string, string> = { '.js': 'text/javascript; charset=utf-8', '.css': 'text/css; charset=utf-8', '.html': 'text/html; charset=utf-8', '.svg': 'image/svg+xml' };

/**
 * Sends the `.br` or `.gz` file the build wrote beside a script, stylesheet or page when the
 * browser accepts it (brotli first), with Vary: Accept-Encoding; anything else falls through to
 * express.static. Nothing is compressed per request.
 */
function precompressed(directory: string): RequestHandler {
  const root = resolve(directory);
  return (req, res, next) => {
    if (req.method !== 'GET' && req.method !== 'HEAD') return next();
    const path = req.path === '/' ? '/index.html' : req.path;
    const type = TYPES[extname(path)];
    if (!type) return next();
    const file = resolve(root, `.${decodeURIComponent(path)}`);
    if (!file.startsWith(`${root}/`)) return next();
    const accepted = String(req.headers['accept-encoding'] ?? '');
    const encoding = /\bbr\b/.test(accepted) && existsSync(`${file}.br`) ? 'br' : /\bgzip\b/.test(accepted) && existsSync(`${file}.gz`) ? 'gzip' : null;
    res.setHeader('Vary', 'Accept-Encoding');
    if (!encoding) return next();
    res.setHeader('Content-Encoding', encoding);
    res.setHeader('Content-Type', type);
    res.setHeader('Cache-Control', 'public, max-age=0');
    res.sendFile(`${file}.${encoding === 'br' ? 'br' : 'gz'}`, { lastModified: true, etag: true }, (error) => error && next(error));
  };
}

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
  router.use(precompressed(directory));
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
