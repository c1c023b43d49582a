import { z } from 'zod';

const Counts = z.object({
  info: z.number().default(0),
  low: z.number().default(0),
  moderate: z.number().default(0),
  high: z.number().default(0),
  critical: z.number().default(0),
  total: z.number().default(0),
});
const AuditReport = z.object({ metadata: z.object({ vulnerabilities: Counts }) });
const AuditError = z.object({ error: z.object({ code: z.string().optional(), summary: z.string().optional() }) });

export interface AuditAssessment {
  passed: boolean;
  /** 1 with no findings; each moderate costs 0.05, each high 0.25, a critical all of it. */
  score: number;
  counts: z.infer<typeof Counts> | null;
  summary: string;
}

/** Reads `npm audit --json` (npm 7+, report version 2). npm exits 1 when it finds anything, so the exit code says little. */
export function assessAudit(output: string): AuditAssessment {
  const start = output.indexOf('{');
  let json: unknown;
  try {
    json = JSON.parse(start >= 0 ? output.slice(start) : output);
  } catch {
    return { passed: false, score: 0, counts: null, summary: 'npm audit printed no JSON report' };
  }
  const failure = AuditError.safeParse(json);
  if (failure.success) return { passed: false, score: 0, counts: null, summary: `npm audit failed: ${failure.data.error.code ?? ''} ${failure.data.error.summary ?? ''}`.trim() };
  const report = AuditReport.safeParse(json);
  if (!report.success) return { passed: false, score: 0, counts: null, summary: 'npm audit report has no metadata.vulnerabilities' };
  const counts = report.data.metadata.vulnerabilities;
  const score = counts.critical ? 0 : Math.max(0, 1 - 0.25 * counts.high - 0.05 * counts.moderate);
  const passed = counts.critical === 0 && counts.high === 0;
  return {
    passed,
    score,
    counts,
    summary: `${counts.total} vulnerabilities (critical ${counts.critical}, high ${counts.high}, moderate ${counts.moderate}, low ${counts.low})`,
  };
}
