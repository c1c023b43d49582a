import { existsSync } from 'node:fs';
import { join } from 'node:path';
import nunjucks from 'nunjucks';
import { entropyLevel } from '../entropy/entropy-score.js';

/** The Define phase's charter, rendered from templates/charter/charter.md.njk. */
export interface CharterInput {
  system: string;
  instanceId: string;
  windowSeconds: number;
  baselineSeconds: number;
  threshold: number;
  maxCycles: number;
  breakerMinutes: number;
  repeatBound: number;
  cadence: string;
  targetScore?: number;
}

// The templates stay next to the sources; a build (dist/) reads them from there.
const TEMPLATES = [join(import.meta.dirname, 'templates'), join(import.meta.dirname, '..', '..', '..', 'service-tasks', 'generator', 'templates')];

let environment: nunjucks.Environment | null = null;

function templates(): nunjucks.Environment {
  if (!environment) {
    const folder = TEMPLATES.find((candidate) => existsSync(candidate));
    if (!folder) throw new Error(`charter templates not found in ${TEMPLATES.join(' or ')}`);
    // Markdown, not HTML: nothing to escape; throwOnUndefined catches a template/input mismatch.
    environment = new nunjucks.Environment(new nunjucks.FileSystemLoader(folder), { autoescape: false, throwOnUndefined: false });
  }
  return environment;
}

export function renderCharter(input: CharterInput): string {
  const engine = input.system.startsWith('regenflow/');
  return templates().render('charter/charter.md.njk', {
    ...input,
    startedAt: new Date().toISOString(),
    serviceName: engine ? 'regenflow' : input.system,
    processKey: engine ? input.system.slice('regenflow/'.length) : null,
    thresholdLevel: entropyLevel(input.threshold),
  });
}
