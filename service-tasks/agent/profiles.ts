import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parse } from 'yaml';
import { z } from 'zod';
import { sourceAsset } from '../source-asset.js';

const CommandSchema = z.object({ argv: z.array(z.string().min(1)).min(1), timeoutMs: z.number().int().positive() }).strict();
const ProfilesSchema = z.object({ profiles: z.record(z.string(), z.object({ commands: z.array(CommandSchema) }).strict()) }).strict();
export type Profiles = z.infer<typeof ProfilesSchema>['profiles'];

export const DEFAULT_PROFILES_FILE = join(sourceAsset(import.meta.dirname), 'profiles.yaml');

/** The command profiles of server configuration; a topic's commands are its profile's. */
export async function loadProfiles(path = DEFAULT_PROFILES_FILE): Promise<Profiles> {
  const parsed = ProfilesSchema.safeParse(parse(await readFile(path, 'utf8')));
  if (!parsed.success) throw new Error(`${path}: ${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`);
  return parsed.data.profiles;
}
