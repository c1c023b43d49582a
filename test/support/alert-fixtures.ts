import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { repositoryRoot } from './server-process.js';

/** The captured Alertmanager webhook payloads in ../shared/fixtures/alertmanager (read, never copied). */
const folder = join(repositoryRoot, '..', 'shared', 'fixtures', 'alertmanager');

export type AlertmanagerFixture = Record<string, any> & { alerts: Array<Record<string, any>> };

export function alertmanagerFixture(name: 'firing' | 'resolved' | 'firing-grouped-truncated'): AlertmanagerFixture {
  return JSON.parse(readFileSync(join(folder, `${name}.json`), 'utf8'));
}

/**
 * The captured payload for another occurrence of the same alert: Alertmanager sends a new
 * startsAt when an alert that had resolved fires again (same fingerprint).
 */
export function occurrence(name: 'firing' | 'resolved', startsAt: string, endsAt?: string): AlertmanagerFixture {
  const payload = alertmanagerFixture(name);
  for (const alert of payload.alerts) {
    alert.startsAt = startsAt;
    if (endsAt) alert.endsAt = endsAt;
  }
  return payload;
}
