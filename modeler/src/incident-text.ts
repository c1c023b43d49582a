interface Issue {
  code?: string;
  path?: Array<string | number>;
  message?: string;
  expected?: string;
  received?: string;
}

const EXPECTED: Record<string, string> = { string: 'text', number: 'a number', boolean: 'true or false', object: 'an object', array: 'a list' };

function issueSentence(issue: Issue): string {
  const name = issue.path?.length ? `\`${issue.path.join('.')}\`` : 'the input';
  if (issue.code === 'invalid_type') {
    if (issue.received === 'undefined' || /received undefined/.test(issue.message ?? '')) return `input ${name} is missing`;
    return `input ${name} must be ${EXPECTED[issue.expected ?? ''] ?? issue.expected ?? 'of another type'}`;
  }
  return `input ${name}: ${issue.message ?? issue.code ?? 'is not valid'}`;
}

/** The zod issues inside a message (a worker's parse error is their JSON), or null. */
function issuesIn(message: string): Issue[] | null {
  const start = message.indexOf('[');
  if (start < 0) return null;
  try {
    const parsed = JSON.parse(message.slice(start));
    return Array.isArray(parsed) && parsed.every((issue) => issue && typeof issue === 'object' && ('code' in issue || 'message' in issue)) ? parsed : null;
  } catch {
    return null;
  }
}

/**
 * An incident said as a sentence a person reads ("Setup: input `repository` is missing"), from
 * the raw message a handler or worker left (validation JSON, `topic input: path: message`,
 * a stack's first line). The raw text stays available behind it.
 */
export function incidentSentence(incident: { message?: string | null; activityName?: string | null; activityId?: string | null }): string {
  const where = incident.activityName ?? incident.activityId ?? 'The instance';
  const message = String(incident.message ?? '').trim();
  const issues = issuesIn(message);
  if (issues) return `${where}: ${issues.map(issueSentence).join('; ')}.`;
  // `topic input: repository: Invalid input: expected string, received undefined`
  const inline = /^([\w.-]+) (input|output): (.+)$/s.exec(message);
  if (inline) {
    const parts = inline[3]!.split('; ').map((part) => {
      const [path, ...rest] = part.split(': ');
      const text = rest.join(': ');
      return /received undefined/.test(text) ? `${inline[2]} \`${path}\` is missing` : `${inline[2]} \`${path}\`: ${text}`;
    });
    return `${where}: ${parts.join('; ')}.`;
  }
  const firstLine = message.split('\n')[0] ?? '';
  return `${where}: ${firstLine || 'failed'}${/[.!?]$/.test(firstLine) ? '' : '.'}`;
}
