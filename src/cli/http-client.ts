/**
 * The CLI's HTTP client: fetch with the token from REGENFLOW_TOKEN, and failures said as what
 * to do next (no server there, a refused token, a role that may not). It imports nothing of
 * the server, so a client command starts in a fraction of a second.
 */
export class CliError extends Error {}

export interface ClientOptions {
  url: string;
  token?: string;
}

export type Request = (method: string, path: string, body?: string, contentType?: string) => Promise<unknown>;

export function httpRequest(options: () => ClientOptions): Request {
  return async (method, path, body, contentType = 'application/json') => {
    const { url, token } = options();
    let response: Response;
    try {
      response = await fetch(new URL(path, url), {
        method,
        body,
        headers: { ...(body && { 'content-type': contentType }), ...(token && { authorization: `Bearer ${token}` }), accept: 'application/json, application/problem+json' },
      });
    } catch (error) {
      throw new CliError(connectionAdvice(url, error));
    }
    const text = await response.text();
    if (!response.ok) throw new CliError(failureAdvice(method, path, response.status, text, Boolean(token)));
    return text ? JSON.parse(text) : null;
  };
}

function connectionAdvice(url: string, error: unknown): string {
  const code = (error as { cause?: { code?: string } })?.cause?.code;
  if (code === 'ECONNREFUSED') {
    return `no regenflow server answers at ${url} (connection refused).\n` + '  Start one with `regenflow serve` (or `npm start`), or point --url / REGENFLOW_URL at the one you use.';
  }
  if (code === 'ENOTFOUND') return `the host of ${url} is unknown; check --url / REGENFLOW_URL.`;
  return `cannot reach ${url}: ${(error as { cause?: Error })?.cause?.message ?? (error as Error).message}`;
}

function failureAdvice(method: string, path: string, status: number, text: string, hadToken: boolean): string {
  let detail = text;
  try {
    const problem = JSON.parse(text) as { detail?: string; message?: string };
    detail = problem.detail ?? problem.message ?? text;
  } catch {
    // not JSON: keep the text
  }
  if (status === 401) {
    return hadToken
      ? `the server refused the token in REGENFLOW_TOKEN (${detail}).\n  Use a token from the server's REGENFLOW_TOKENS, or for a local server without them: export REGENFLOW_TOKEN=$(cat data/admin-token)`
      : 'the server needs a token: set REGENFLOW_TOKEN.\n  For a local server started without REGENFLOW_TOKENS: export REGENFLOW_TOKEN=$(cat data/admin-token)';
  }
  if (status === 403) return `${detail}\n  \`regenflow whoami\` shows what this token may do.`;
  return `${method} ${path}: ${status} ${detail}`;
}
