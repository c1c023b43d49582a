import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { repositoryRoot } from './server-process.js';

/** The captured Alertmanager webhook payloads in ../shared/fixtures/alertmanager (read, never copied). */
const folder = join(repositoryRoot, '..', 'shared', 'fixtures', 'alertmanager');

/**
 * Whether the shared fixtures are beside this checkout. A plain checkout runs without them: the
 * tests that read them are skipped with a note; under CI (CI set) they always run, so a missing
 * folder fails there instead of passing quietly.
 */
export const HAS_SHARED_FIXTURES = existsSync(folder);
export const describeWithSharedFixtures: jest.Describe = HAS_SHARED_FIXTURES || process.env.CI ? describe : describe.skip;
if (!HAS_SHARED_FIXTURES && !process.env.CI) console.warn(`skipping the tests that read ${folder} (not in this checkout)`);

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
