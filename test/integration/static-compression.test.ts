import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import type { Server } from 'node:http';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { brotliCompressSync, gzipSync } from 'node:zlib';
import express from 'express';
import { staticRouter } from '../../src/api/static-router.js';

/** The raw answer (fetch would decode the body and hide Content-Encoding's effect). */
function get(port: number, path: string, acceptEncoding?: string): Promise<{ status: number; headers: Record<string, unknown>; body: Buffer }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, headers: acceptEncoding ? { 'accept-encoding': acceptEncoding } : {} }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
    });
    req.on('error', reject);
    req.end();
  });
}

describe('the browser app served compressed', () => {
  const folder = mkdtempSync(join(tmpdir(), 'regenflow-static-'));
  const script = `console.log(${JSON.stringify('x'.repeat(5000))});`;
  let server: Server;
  let port: number;

  beforeAll(async () => {
    writeFileSync(join(folder, 'index.html'), '<!doctype html><title>t</title>');
    writeFileSync(join(folder, 'app.js'), script);
    writeFileSync(join(folder, 'app.js.br'), brotliCompressSync(script));
    writeFileSync(join(folder, 'app.js.gz'), gzipSync(script));
    writeFileSync(join(folder, 'plain.js'), script);
    server = express().use(staticRouter(folder)).listen(0, '127.0.0.1');
    await new Promise((resolve) => server.once('listening', resolve));
    port = (server.address() as { port: number }).port;
  });
  afterAll(async () => {
    await new Promise((resolve) => server.close(resolve));
    rmSync(folder, { recursive: true, force: true });
  });

  it('when the browser accepts brotli or gzip, then the precompressed file is sent with its encoding, type and Vary', async () => {
    const br = await get(port, '/app.js', 'gzip, deflate, br');
    expect(br.headers['content-encoding']).toBe('br');
    expect(br.headers['content-type']).toBe('text/javascript; charset=utf-8');
    expect(br.headers.vary).toContain('Accept-Encoding');
    expect(br.body.length).toBeLessThan(script.length / 10);
    expect(br.headers['content-security-policy']).toContain("script-src 'self'");

    const gz = await get(port, '/app.js', 'gzip');
    expect(gz.headers['content-encoding']).toBe('gzip');
    expect(gz.body.length).toBeLessThan(script.length / 10);
  });

  it('when the browser accepts no encoding, or a file has no compressed copy, or the path climbs out, then the plain file (or nothing) is sent', async () => {
    const plain = await get(port, '/app.js');
    expect(plain.headers['content-encoding']).toBeUndefined();
    expect(plain.body.toString()).toBe(script);
    const noCopy = await get(port, '/plain.js', 'br');
    expect(noCopy.headers['content-encoding']).toBeUndefined();
    expect(noCopy.body.toString()).toBe(script);
    const climbing = await get(port, '/..%2f..%2fetc%2fpasswd.js', 'br');
    expect(climbing.status).toBe(404);
  });
});
