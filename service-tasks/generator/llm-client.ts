import { z } from 'zod';
import { AppError } from '../../src/errors.js';

export interface ChatMessage {
  role: 'system' | 'user' | 'assistant';
  content: string;
}

export interface LlmClientOptions {
  /** e.g. http://127.0.0.1:11434/v1 or https://api.openai.com/v1 */
  baseUrl: string;
  model: string;
  apiKey?: string;
  /** Attempts when the answer is not valid JSON of the expected shape. @default 3 */
  attempts?: number;
  /** Per request. @default 60000 */
  timeoutMs?: number;
}

const ChatCompletion = z.object({
  choices: z.array(z.object({ message: z.object({ content: z.string().nullable() }) })).min(1),
});

/**
 * A client of the OpenAI-compatible chat completions API that only accepts answers of a
 * given zod shape: an invalid answer is sent back to the model with what was wrong, up to
 * `attempts` times, then the call fails with LLM_INVALID_OUTPUT.
 */
export class LlmClient {
  private readonly attempts: number;

  constructor(private readonly options: LlmClientOptions) {
    this.attempts = options.attempts ?? 3;
  }

  async completeJson<S extends z.ZodType>(schema: S, messages: ChatMessage[]): Promise<z.infer<S>> {
    const conversation = [...messages];
    let lastProblem = '';
    for (let attempt = 1; attempt <= this.attempts; attempt++) {
      const content = await this.chat(conversation);
      let problem: string;
      try {
        const parsed = schema.safeParse(JSON.parse(stripFence(content)));
        if (parsed.success) return parsed.data;
        problem = parsed.error.issues.map((issue) => `${issue.path.join('.') || '(root)'}: ${issue.message}`).join('; ');
      } catch (error) {
        problem = `not JSON: ${(error as Error).message}`;
      }
      lastProblem = problem;
      conversation.push({ role: 'assistant', content }, { role: 'user', content: `That answer is invalid (${problem}). Answer again with only the corrected JSON.` });
    }
    throw new AppError('LLM_INVALID_OUTPUT', `no valid answer after ${this.attempts} attempts: ${lastProblem}`);
  }

  /** One chat completion; returns the first choice's text. */
  async chat(messages: ChatMessage[]): Promise<string> {
    const response = await fetch(`${this.options.baseUrl.replace(/\/$/, '')}/chat/completions`, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        ...(this.options.apiKey && { authorization: `Bearer ${this.options.apiKey}` }),
      },
      body: JSON.stringify({ model: this.options.model, messages, temperature: 0, response_format: { type: 'json_object' } }),
      signal: AbortSignal.timeout(this.options.timeoutMs ?? 60_000),
    });
    if (!response.ok) {
      throw new AppError('LLM_UNAVAILABLE', `chat completions answered ${response.status}: ${(await response.text()).slice(0, 500)}`, {
        retryable: response.status >= 500 || response.status === 429,
      });
    }
    const body = ChatCompletion.safeParse(await response.json());
    if (!body.success) throw new AppError('LLM_UNAVAILABLE', 'chat completions answered without choices[0].message.content');
    return body.data.choices[0]!.message.content ?? '';
  }
}

/** Models often wrap JSON in a ```json fence despite being told not to. */
function stripFence(text: string): string {
  const fenced = text.trim().match(/^```(?:json)?\s*([\s\S]*?)\s*```$/);
  return fenced ? fenced[1]! : text.trim();
}
