import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parse } from 'yaml';
import { z } from 'zod';
import { sourceAsset } from '../source-asset.js';
import { CommandFields, IF_PRESENT_REFUSED, noIfPresent, npmRunArgv } from './npm-scripts.js';

const CommandSchema = z
  .object({
    ...CommandFields,
    timeoutMs: z.number().int().positive(),
  })
  .strict()
  .refine((command) => !!command.argv !== !!command.script, 'a command needs an argv or a script (not both)')
  .refine(noIfPresent, IF_PRESENT_REFUSED)
  .transform((command) => ({ argv: command.argv ?? npmRunArgv(command.script!), timeoutMs: command.timeoutMs, ...(command.script && { script: command.script }) }));
const ProfilesSchema = z.object({ profiles: z.record(z.string(), z.object({ commands: z.array(CommandSchema) }).strict()) }).strict();
export type Profiles = z.infer<typeof ProfilesSchema>['profiles'];

export const DEFAULT_PROFILES_FILE = join(sourceAsset(import.meta.dirname), 'profiles.yaml');

/** The command profiles of server configuration; a topic's commands are its profile's. */
export async function loadProfiles(path = DEFAULT_PROFILES_FILE): Promise<Profiles> {
  const parsed = ProfilesSchema.safeParse(parse(await readFile(path, 'utf8')));
  if (!parsed.success) throw new Error(`${path}: ${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`);
  return parsed.data.profiles;
}
