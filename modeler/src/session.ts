import { api } from './api.js';

/** What `GET /api/me` says about the signed-in token. */
export interface Session {
  role: string;
  actor: string;
  can: Record<string, boolean>;
}

let session: Session | null = null;

/** Loads who the token is; the UI shows each role only what it may do. */
export async function loadSession(): Promise<Session> {
  session = await api<Session>('GET', '/api/me');
  document.body.dataset.role = session.role;
  return session;
}

export function forgetSession(): void {
  session = null;
  delete document.body.dataset.role;
}

/** Whether the signed-in role may do `ability` (see `can` in GET /api/me); false before sign-in. */
export function can(ability: string): boolean {
  return Boolean(session?.can[ability]);
}

export function currentSession(): Session | null {
  return session;
}
