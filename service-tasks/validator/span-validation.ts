import { z } from 'zod';

export const ExpectationSchema = z.object({
  activityId: z.string().min(1).max(200),
  /** The activity's span must not take longer. */
  maxDurationMs: z.number().positive().optional(),
});
export type Expectation = z.infer<typeof ExpectationSchema>;

export interface SpanCheck {
  passed: boolean;
  score: number;
  activities: Array<{ activityId: string; ran: boolean; runs: number; maxDurationMs: number | null; targetMs: number | null; withinTarget: boolean; failed: boolean }>;
  problems: string[];
}

/**
 * Checks an instance's activity spans: every expected activity ran at least once, no run
 * took longer than its target, and none ended in error. The score is the share of
 * expectations met.
 */
export function checkActivitySpans(spans: Array<{ activity_id: string; duration_ms: number; status_code: number }>, expectations: Expectation[]): SpanCheck {
  const problems: string[] = [];
  const activities = expectations.map((expectation) => {
    const runs = spans.filter((span) => span.activity_id === expectation.activityId);
    const longest = runs.length ? Math.max(...runs.map((span) => Number(span.duration_ms))) : null;
    const withinTarget = expectation.maxDurationMs === undefined || (longest !== null && longest <= expectation.maxDurationMs);
    const failed = runs.some((span) => Number(span.status_code) === 2);
    if (!runs.length) problems.push(`${expectation.activityId} did not run`);
    else if (!withinTarget) problems.push(`${expectation.activityId} took ${longest} ms, target ${expectation.maxDurationMs} ms`);
    if (failed) problems.push(`${expectation.activityId} ended in error`);
    return { activityId: expectation.activityId, ran: runs.length > 0, runs: runs.length, maxDurationMs: longest, targetMs: expectation.maxDurationMs ?? null, withinTarget, failed };
  });
  const met = activities.filter((activity) => activity.ran && activity.withinTarget && !activity.failed).length;
  return { passed: problems.length === 0 && expectations.length > 0, score: expectations.length ? Math.round((met / expectations.length) * 1000) / 1000 : 0, activities, problems };
}
