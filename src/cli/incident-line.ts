/** An incident message on one line: a worker's validation issues (zod's JSON) said per input. */
export function oneLine(message: string): string {
  const start = message.indexOf('[');
  if (start >= 0) {
    try {
      const issues = JSON.parse(message.slice(start)) as Array<{ path?: unknown[]; message?: string; code?: string }>;
      if (Array.isArray(issues) && issues.length && issues.every((issue) => issue && typeof issue === 'object')) {
        return issues
          .map((issue) => {
            const name = issue.path?.length ? `\`${issue.path.join('.')}\`` : 'the input';
            return /received undefined/.test(issue.message ?? '') ? `input ${name} is missing` : `input ${name}: ${issue.message ?? issue.code}`;
          })
          .join('; ');
      }
    } catch {
      // not JSON: the first line below
    }
  }
  return message.split('\n')[0] ?? '';
}
