import express, { type RequestHandler } from 'express';
import helmet from 'helmet';
import type { AddressInfo } from 'node:net';
import { securityHeaders } from '../../src/api/http-server.js';

/** The headers an app with `middleware` in front of one JSON route answers with (date aside). */
async function headersWith(middleware: RequestHandler): Promise<Array<[string, string]>> {
  const app = express();
  app.use(middleware);
  app.get('/thing', (_req, res) => {
    res.json({ ok: true });
  });
  const server = app.listen(0, '127.0.0.1');
  await new Promise((resolve) => server.once('listening', resolve));
  try {
    const response = await fetch(`http://127.0.0.1:${(server.address() as AddressInfo).port}/thing`);
    await response.text();
    return [...response.headers].filter(([name]) => !['date', 'connection', 'keep-alive'].includes(name)).sort();
  } finally {
    await new Promise((resolve) => server.close(resolve));
  }
}

describe('security headers', () => {
  it('when helmet is replayed from its headers worked out once, then a response carries exactly what helmet() sends', async () => {
    const expected = await headersWith(helmet());
    expect(expected.map(([name]) => name)).toContain('content-security-policy');
    expect(await headersWith(securityHeaders())).toEqual(expected);
  });

  it('when the app set X-Powered-By, then the replayed headers remove it as helmet does', async () => {
    const app = express();
    app.use(securityHeaders());
    app.get('/thing', (_req, res) => {
      res.json({ ok: true });
    });
    const server = app.listen(0, '127.0.0.1');
    await new Promise((resolve) => server.once('listening', resolve));
    try {
      const response = await fetch(`http://127.0.0.1:${(server.address() as AddressInfo).port}/thing`);
      expect(response.headers.get('x-powered-by')).toBeNull();
    } finally {
      await new Promise((resolve) => server.close(resolve));
    }
  });
});
