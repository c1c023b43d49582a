import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parse } from 'yaml';
import { z } from 'zod';
import { sourceAsset } from '../source-asset.js';
import { CommandFields, IF_PRESENT_REFUSED, noIfPresent, npmRunArgv } from '../agent/npm-scripts.js';

export const PHASE_NAMES = ['setup', 'unit', 'integration', 'performance', 'security', 'otel', 'registry', 'e2e', 'score'] as const;
export type PhaseName = (typeof PHASE_NAMES)[number];

const PhaseSchema = z
  .object({
    name: z.enum(PHASE_NAMES),
    kind: z.enum(['command', 'npm-audit', 'otel', 'registry', 'score']),
    // A missing script fails a required phase and skips any other.
    ...CommandFields,
    weight: z.number().min(0),
    timeoutMs: z.number().int().positive(),
    required: z.boolean(),
  })
  .strict()
  .refine((phase) => ['registry', 'score'].includes(phase.kind) || !!phase.argv !== !!phase.script, 'command phases need an argv or a script (not both)')
  .refine(noIfPresent, IF_PRESENT_REFUSED)
  // A script phase runs `npm run <script>`; the script stays on the phase for the package.json check.
  .transform((phase) => (phase.script ? { ...phase, argv: npmRunArgv(phase.script) } : phase));

export const PhasesFileSchema = z
  .object({
    gate: z.number().min(0).max(1).optional(),
    /** Where the semantic-convention registry lies inside the repository being validated. */
    registry: z.string().min(1).default('semconv/registry.yaml'),
    phases: z.array(PhaseSchema).min(1),
  })
  .strict();

export type PhaseConfig = z.infer<typeof PhaseSchema>;
export type PhasesFile = z.infer<typeof PhasesFileSchema>;

export const DEFAULT_PHASES_FILE = join(sourceAsset(import.meta.dirname), 'phases.yaml');

/** Reads the phases from server configuration (a YAML file), never from process variables. */
export async function loadPhases(path = DEFAULT_PHASES_FILE): Promise<PhasesFile> {
  const parsed = PhasesFileSchema.safeParse(parse(await readFile(path, 'utf8')));
  if (!parsed.success) throw new Error(`${path}: ${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`);
  const names = parsed.data.phases.map((phase) => phase.name);
  if (new Set(names).size !== names.length) throw new Error(`${path}: a phase is listed twice`);
  return parsed.data;
}
