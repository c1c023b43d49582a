import { join } from 'node:path';
import nunjucks from 'nunjucks';
import { z } from 'zod';
import { sourceAsset } from '../source-asset.js';
import type { ServiceTaskDefinition } from '../registry.js';
import type { LlmClient } from './llm-client.js';

const kebab = z.string().regex(/^[a-z][a-z0-9]*(-[a-z0-9]+)*$/, 'must be kebab-case');

export const EntitySpecSchema = z
  .object({
    name: kebab.max(60),
    /** Plural used in URLs. @default name + "s" */
    plural: kebab.max(64).optional(),
    fields: z
      .array(
        z
          .object({
            name: z.string().regex(/^[a-z][A-Za-z0-9]*$/, 'must be camelCase').max(60),
            type: z.enum(['string', 'number', 'integer', 'boolean', 'date', 'email']),
            required: z.boolean().default(true),
          })
          .strict(),
      )
      .min(1)
      .max(50),
  })
  .strict();
export type EntitySpec = z.infer<typeof EntitySpecSchema>;

export const ScaffoldFileSchema = z
  .object({
    // Only below src/ and test/, relative, no `..`: the agent writes them into a worktree.
    path: z.string().regex(/^(src|test)\/(?!.*\.\.)[A-Za-z0-9_./-]{1,200}$/, 'must be a relative path below src/ or test/'),
    content: z.string().max(100_000),
  })
  .strict();
export const ScaffoldSchema = z.object({ files: z.array(ScaffoldFileSchema).min(1).max(20) }).strict();
export type ScaffoldFile = z.infer<typeof ScaffoldFileSchema>;

const ZOD: Record<EntitySpec['fields'][number]['type'], string> = {
  string: 'z.string().min(1)',
  number: 'z.number()',
  integer: 'z.number().int()',
  boolean: 'z.boolean()',
  date: 'z.iso.date()',
  email: 'z.email()',
};
const EXAMPLE: Record<EntitySpec['fields'][number]['type'], unknown> = {
  string: 'text',
  number: 1.5,
  integer: 1,
  boolean: true,
  date: '2026-01-31',
  email: 'someone@example.com',
};

const environment = new nunjucks.Environment(new nunjucks.FileSystemLoader(join(sourceAsset(import.meta.dirname), 'templates', 'scaffold')), {
  autoescape: false,
  throwOnUndefined: true,
});

const words = (name: string) => name.split('-');
const pascal = (name: string) => words(name).map((word) => word[0]!.toUpperCase() + word.slice(1)).join('');

/** The template view of an entity: its names in every case the files need. */
function view(spec: EntitySpec) {
  const camel = pascal(spec.name).replace(/^./, (first) => first.toLowerCase());
  return {
    kebab: spec.name,
    pascal: pascal(spec.name),
    camel,
    title: words(spec.name).join(' '),
    plural: spec.plural ?? `${spec.name}s`,
    hasRequired: spec.fields.some((field) => field.required),
    example: JSON.stringify(Object.fromEntries(spec.fields.map((field) => [field.name, EXAMPLE[field.type]]))),
    fields: spec.fields.map((field) => ({ ...field, zod: ZOD[field.type] })),
  };
}

/** Entity spec -> zod model, express router and jest test, from the nunjucks templates. */
export function renderScaffold(spec: EntitySpec): ScaffoldFile[] {
  const entity = view(EntitySpecSchema.parse(spec));
  return [
    { path: `src/models/${entity.kebab}.ts`, content: environment.render('model.ts.njk', { entity }) },
    { path: `src/routes/${entity.kebab}-router.ts`, content: environment.render('router.ts.njk', { entity }) },
    { path: `test/${entity.kebab}-router.test.ts`, content: environment.render('router.test.ts.njk', { entity }) },
  ];
}

export interface GeneratedScaffold {
  files: ScaffoldFile[];
  source: 'templates' | 'llm';
  note?: string;
}

/**
 * With an LLM configured, asks it for the same three files (validated, retried when
 * invalid) and falls back to the templates when it cannot deliver; without one, templates.
 */
export async function generateScaffold(spec: EntitySpec, llm?: LlmClient): Promise<GeneratedScaffold> {
  const parsed = EntitySpecSchema.parse(spec);
  if (!llm) return { files: renderScaffold(parsed), source: 'templates' };
  const example = renderScaffold(parsed);
  try {
    const answer = await llm.completeJson(ScaffoldSchema, [
      {
        role: 'system',
        content:
          'You write TypeScript scaffolds. Answer with one JSON object {"files":[{"path","content"}]} and nothing else. ' +
          'Paths are relative and start with src/ or test/.',
      },
      {
        role: 'user',
        content: `Entity spec: ${JSON.stringify(parsed)}. Write a zod model (src/models/${parsed.name}.ts), an express router ` +
          `(src/routes/${parsed.name}-router.ts) and a jest test (test/${parsed.name}-router.test.ts). ` +
          `Follow the style of this reference for another naming: ${JSON.stringify(example[0]!.content.slice(0, 600))}`,
      },
    ]);
    return { files: answer.files, source: 'llm' };
  } catch (error) {
    return { files: example, source: 'templates', note: `LLM gave no valid scaffold: ${(error as Error).message}` };
  }
}

/** `generator.models`: the scaffold of every entity of a feature, templates or LLM. */
export function scaffoldTopic(llm?: LlmClient): ServiceTaskDefinition {
  return {
    topic: 'generator.models',
    description: 'entity specs -> zod model, express router and jest test per entity (templates; an LLM when configured)',
    mode: 'worker',
    input: z.object({ entities: z.array(EntitySpecSchema).min(1).max(20) }),
    output: z.object({
      scaffolds: z.array(z.object({ entity: z.string(), source: z.enum(['templates', 'llm']), note: z.string().optional(), files: z.array(ScaffoldFileSchema) })),
    }),
    handler: async ({ entities }: { entities: EntitySpec[] }) => ({
      scaffolds: await Promise.all(entities.map(async (entity) => ({ entity: entity.name, ...(await generateScaffold(entity, llm)) }))),
    }),
  } as ServiceTaskDefinition;
}
