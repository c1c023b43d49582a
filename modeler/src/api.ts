/**
 * The API client. The token is asked for once and kept in sessionStorage; it travels only in
 * the Authorization header, so live updates are read with fetch() and a stream reader
 * instead of EventSource (which cannot send headers).
 */
const TOKEN_KEY = 'regenflow.token';

export class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly problem: Record<string, any> | null,
  ) {
    super(message);
  }
}

export function getToken(): string | null {
  return sessionStorage.getItem(TOKEN_KEY);
}

export function setToken(token: string | null): void {
  if (token) sessionStorage.setItem(TOKEN_KEY, token);
  else sessionStorage.removeItem(TOKEN_KEY);
}

let onUnauthenticated: () => void = () => {};
export function whenUnauthenticated(handler: () => void): void {
  onUnauthenticated = handler;
}

export async function api<T = any>(method: string, path: string, body?: unknown, options: { text?: boolean; xml?: boolean } = {}): Promise<T> {
  const headers: Record<string, string> = { authorization: `Bearer ${getToken() ?? ''}`, accept: 'application/json, application/problem+json, application/xml' };
  let payload: string | undefined;
  if (body !== undefined) {
    if (options.xml) {
      headers['content-type'] = 'application/xml';
      payload = String(body);
    } else {
      headers['content-type'] = 'application/json';
      payload = JSON.stringify(body);
    }
  }
  const response = await fetch(path, { method, headers, body: payload });
  const text = await response.text();
  if (!response.ok) {
    let problem: Record<string, any> | null = null;
    try {
      problem = JSON.parse(text);
    } catch {
      problem = null;
    }
    if (response.status === 401) onUnauthenticated();
    throw new ApiError(response.status, problem?.detail ?? `${method} ${path}: ${response.status}`, problem);
  }
  if (options.text) return text as T;
  return (text ? JSON.parse(text) : null) as T;
}

/** GET that answers null when the endpoint does not exist (parts built by other modules). */
export async function optional<T = any>(path: string): Promise<T | null> {
  try {
    return await api<T>('GET', path);
  } catch (error) {
    if (error instanceof ApiError && error.status === 404) return null;
    throw error;
  }
}

export interface EngineEvent {
  type: string;
  data: any;
}

/**
 * Follows GET /api/events. Reconnects after a drop with a growing delay; `onState` says
 * whether the stream is up. Returns a function that stops it.
 */
export function followEvents(onEvent: (event: EngineEvent) => void, onState: (live: boolean) => void): () => void {
  let stopped = false;
  let controller: AbortController | null = null;
  let delay = 1000;

  const connect = async () => {
    while (!stopped) {
      controller = new AbortController();
      try {
        const response = await fetch('/api/events', {
          headers: { authorization: `Bearer ${getToken() ?? ''}`, accept: 'text/event-stream' },
          signal: controller.signal,
        });
        if (response.status === 401) {
          onUnauthenticated();
          return;
        }
        if (!response.ok || !response.body) throw new Error(`events: ${response.status}`);
        onState(true);
        delay = 1000;
        const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
        let buffer = '';
        for (;;) {
          const { value, done } = await reader.read();
          if (done) break;
          buffer += value;
          let end: number;
          while ((end = buffer.indexOf('\n\n')) >= 0) {
            const frame = buffer.slice(0, end);
            buffer = buffer.slice(end + 2);
            const event = parseFrame(frame);
            if (event) onEvent(event);
          }
        }
      } catch {
        // dropped or aborted: fall through to the retry below
      }
      onState(false);
      if (stopped) return;
      await new Promise((resolve) => setTimeout(resolve, delay));
      delay = Math.min(delay * 2, 30_000);
    }
  };
  void connect();
  return () => {
    stopped = true;
    controller?.abort();
  };
}

function parseFrame(frame: string): EngineEvent | null {
  let type = 'message';
  const data: string[] = [];
  for (const line of frame.split('\n')) {
    if (line.startsWith(':')) continue;
    if (line.startsWith('event:')) type = line.slice(6).trim();
    else if (line.startsWith('data:')) data.push(line.slice(5).trimStart());
  }
  if (!data.length) return null;
  try {
    return { type, data: JSON.parse(data.join('\n')) };
  } catch {
    return { type, data: data.join('\n') };
  }
}
