import { sep } from 'node:path';

/**
 * Templates and YAML stay in the source tree (tsc copies only code): a module compiled to
 * dist/service-tasks/… finds its files in service-tasks/… beside dist.
 */
export function sourceAsset(moduleDirectory: string): string {
  return moduleDirectory.replace(`${sep}dist${sep}service-tasks`, `${sep}service-tasks`);
}
