import { z } from 'zod';

const AttributeType = z.enum(['string', 'int', 'double', 'boolean', 'string[]']);
const Requirement = z.enum(['required', 'recommended', 'opt_in']);
const Attribute = z.union([
  z.object({ id: z.string().min(1), type: AttributeType, brief: z.string().optional(), requirement_level: Requirement.default('recommended') }).strict(),
  z.object({ ref: z.string().min(1), requirement_level: Requirement.default('recommended') }).strict(),
]);
const Group = z
  .object({
    id: z.string().min(1),
    type: z.enum(['attribute_group', 'span']),
    brief: z.string().optional(),
    /** Spans whose name starts with this belong to the group. */
    span_name_prefix: z.string().optional(),
    attributes: z.array(Attribute).default([]),
  })
  .strict();
/** A semantic-convention registry: a small subset of the OpenTelemetry semconv YAML model. */
export const RegistrySchema = z.object({ groups: z.array(Group).min(1) }).strict();
export type Registry = z.infer<typeof RegistrySchema>;

export interface CapturedSpan {
  name: string;
  attributes: Record<string, unknown>;
}

/** Problems of the registry itself: duplicate ids, refs to attributes nobody defines, span groups without a prefix. */
export function checkRegistry(registry: Registry): string[] {
  const problems: string[] = [];
  const defined = new Map<string, number>();
  for (const group of registry.groups) for (const attribute of group.attributes) if ('id' in attribute) defined.set(attribute.id, (defined.get(attribute.id) ?? 0) + 1);
  for (const [id, count] of defined) if (count > 1) problems.push(`attribute ${id} is defined ${count} times`);
  const groupIds = registry.groups.map((group) => group.id);
  for (const id of new Set(groupIds)) if (groupIds.filter((other) => other === id).length > 1) problems.push(`group ${id} is defined twice`);
  for (const group of registry.groups) {
    if (group.type === 'span' && !group.span_name_prefix) problems.push(`span group ${group.id} has no span_name_prefix`);
    for (const attribute of group.attributes) if ('ref' in attribute && !defined.has(attribute.ref)) problems.push(`group ${group.id} refers to undefined attribute ${attribute.ref}`);
  }
  return problems;
}

const typeOf = (value: unknown): string =>
  Array.isArray(value) ? 'string[]' : typeof value === 'boolean' ? 'boolean' : typeof value === 'number' ? (Number.isInteger(value) ? 'int' : 'double') : typeof value;

/**
 * Checks spans against the registry: each span must belong to a span group, carry that
 * group's required attributes, and every attribute it has must be defined with a
 * matching type (an int is a valid double).
 */
export function checkSpans(registry: Registry, spans: CapturedSpan[]): { checked: number; violations: string[]; badSpans: number } {
  const types = new Map<string, string>();
  for (const group of registry.groups) for (const attribute of group.attributes) if ('id' in attribute) types.set(attribute.id, attribute.type);
  const spanGroups = registry.groups.filter((group) => group.type === 'span' && group.span_name_prefix);
  const violations: string[] = [];
  let badSpans = 0;
  for (const span of spans) {
    const before = violations.length;
    const group = spanGroups.filter((candidate) => span.name.startsWith(candidate.span_name_prefix!)).sort((a, b) => b.span_name_prefix!.length - a.span_name_prefix!.length)[0];
    if (!group) {
      violations.push(`span "${span.name}" matches no span group`);
      badSpans++;
      continue;
    }
    for (const attribute of group.attributes) {
      const id = 'id' in attribute ? attribute.id : attribute.ref;
      if (attribute.requirement_level === 'required' && span.attributes[id] === undefined) violations.push(`span "${span.name}" lacks required attribute ${id}`);
    }
    for (const [key, value] of Object.entries(span.attributes)) {
      const expected = types.get(key);
      if (!expected) violations.push(`span "${span.name}" has attribute ${key}, which the registry does not define`);
      else if (typeOf(value) !== expected && !(expected === 'double' && typeOf(value) === 'int')) violations.push(`span "${span.name}" attribute ${key} is ${typeOf(value)}, not ${expected}`);
    }
    if (violations.length > before) badSpans++;
  }
  return { checked: spans.length, violations, badSpans };
}
