import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { z } from 'zod';
import { LlmClient } from '../../service-tasks/generator/llm-client.js';
import { generateScaffold, renderScaffold } from '../../service-tasks/generator/scaffold.js';

/**
 * A chat-completions peer on loopback that speaks the OpenAI shape: each request gets the
 * next scripted answer; the requests are kept to check what the client sent.
 */
class ChatPeer {
  readonly requests: Array<{ authorization?: string; body: any }> = [];
  private server: Server | null = null;
  constructor(private readonly answers: string[]) {}

  async start(): Promise<string> {
    this.server = createServer(async (req, res) => {
      const body = JSON.parse(await read(req));
      this.requests.push({ authorization: req.headers.authorization, body });
      if (req.url !== '/v1/chat/completions') return void res.writeHead(404).end();
      const content = this.answers[Math.min(this.requests.length - 1, this.answers.length - 1)];
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ id: 'chatcmpl-1', object: 'chat.completion', model: body.model, choices: [{ index: 0, message: { role: 'assistant', content }, finish_reason: 'stop' }] }));
    });
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve));
    return `http://127.0.0.1:${(this.server!.address() as AddressInfo).port}/v1`;
  }

  async stop() {
    await new Promise((resolve) => this.server?.close(resolve));
  }
}

const read = (req: IncomingMessage) =>
  new Promise<string>((resolve) => {
    let text = '';
    req.on('data', (chunk) => (text += chunk));
    req.on('end', () => resolve(text));
  });

const Answer = z.object({ score: z.number().min(0).max(1), reason: z.string() });

describe('LLM client (OpenAI-compatible chat completions)', () => {
  it('when the first answer is invalid, then the client tells the model what was wrong and takes the valid retry', async () => {
    const peer = new ChatPeer(['not json at all', '```json\n{"score": 2, "reason": "too high"}\n```', '{"score": 0.75, "reason": "fine"}']);
    const baseUrl = await peer.start();
    try {
      const client = new LlmClient({ baseUrl, model: 'test-model', apiKey: 'sk-test' });
      const answer = await client.completeJson(Answer, [{ role: 'user', content: 'rate it' }]);
      expect(answer).toEqual({ score: 0.75, reason: 'fine' });
      expect(peer.requests).toHaveLength(3);
      expect(peer.requests[0]).toMatchObject({ authorization: 'Bearer sk-test', body: { model: 'test-model', response_format: { type: 'json_object' } } });
      const lastMessages = peer.requests[2]!.body.messages as Array<{ role: string; content: string }>;
      expect(lastMessages.at(-1)?.content).toContain('score: Too big');
    } finally {
      await peer.stop();
    }
  });

  it('when every answer is invalid, then the call fails with LLM_INVALID_OUTPUT after the attempts', async () => {
    const peer = new ChatPeer(['{"score": "high"}']);
    const baseUrl = await peer.start();
    try {
      const client = new LlmClient({ baseUrl, model: 'test-model', attempts: 2 });
      await expect(client.completeJson(Answer, [{ role: 'user', content: 'rate it' }])).rejects.toMatchObject({ code: 'LLM_INVALID_OUTPUT' });
      expect(peer.requests).toHaveLength(2);
    } finally {
      await peer.stop();
    }
  });

  it('when the LLM writes a valid scaffold, then it is used; when it writes paths outside src/ and test/, then the templates are', async () => {
    const good = JSON.stringify({ files: [{ path: 'src/models/order.ts', content: 'export const OrderSchema = 1;\n' }] });
    const escaping = JSON.stringify({ files: [{ path: '../../etc/passwd', content: 'x' }] });
    const spec = { name: 'order', fields: [{ name: 'total', type: 'number' as const, required: true }] };
    const peer = new ChatPeer([good, escaping]);
    const baseUrl = await peer.start();
    try {
      const client = new LlmClient({ baseUrl, model: 'test-model', attempts: 1 });
      expect(await generateScaffold(spec, client)).toMatchObject({ source: 'llm', files: [{ path: 'src/models/order.ts' }] });
      const fallback = await generateScaffold(spec, client);
      expect(fallback).toMatchObject({ source: 'templates', note: expect.stringContaining('src/ or test/') });
      expect(fallback.files).toEqual(renderScaffold(spec));
    } finally {
      await peer.stop();
    }
  });
});

describe('scaffold templates', () => {
  it('when an entity spec is rendered, then the zod model, the express router and the jest test name it consistently', () => {
    const files = renderScaffold({ name: 'purchase-order', plural: 'purchase-orders', fields: [{ name: 'total', type: 'number', required: true }, { name: 'note', type: 'string', required: false }] });
    expect(files.map((file) => file.path)).toEqual(['src/models/purchase-order.ts', 'src/routes/purchase-order-router.ts', 'test/purchase-order-router.test.ts']);
    expect(files[0]!.content).toContain('export const PurchaseOrderSchema = z.object({');
    expect(files[0]!.content).toContain('note: z.string().min(1).optional(),');
    expect(files[1]!.content).toContain('export function purchaseOrderRouter(');
    expect(files[2]!.content).toContain("use('/purchase-orders', purchaseOrderRouter())");
    expect(files[2]!.content).toContain('{"total":1.5,"note":"text"}');
  });

  it('when a spec is not kebab-case or has an unknown field type, then it is refused', () => {
    expect(() => renderScaffold({ name: 'Bad Name', fields: [{ name: 'x', type: 'string', required: true }] })).toThrow(/kebab-case/);
    expect(() => renderScaffold({ name: 'ok', fields: [{ name: 'x', type: 'blob' as 'string', required: true }] })).toThrow();
  });
});
