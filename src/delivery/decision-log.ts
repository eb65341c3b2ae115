// The decision log by month (issue 21 item 1, docs/SCALING.md): the rotate-decision-log job makes
// the coming months' partitions, moves the id sequence into the current month, and drops each
// month past the retention as a whole partition, after summing it into subscriber_history.
import type { Sql } from '../database/sql';
import { DecisionLogQueries as Q, RotationStep } from './decision-log.queries';

export interface Rotation {
  created: string[];
  dropped: { partition: string; rows: number }[];
  /** Months past the retention that still hold pending mail or an unsettled campaign's mail, or whose lock was busy. */
  kept: { partition: string; why: 'pending' | 'unsettled' | 'busy' }[];
  /** Coming months not made this run: the log's lock was busy. */
  busy: string[];
}

const KEPT = { kept_pending: 'pending', kept_unsettled: 'unsettled', kept_busy: 'busy' } as const;

/** One rotation at `now`, keeping `retentionMonths` whole months before the current one. */
export async function rotateDecisionLog(db: Sql, now: Date, retentionMonths: number): Promise<Rotation> {
  const steps: RotationStep[] = await db.rows(Q.rotate, [now, retentionMonths]);
  return {
    created: steps.filter((s) => s.action === 'created').map((s) => s.partition),
    dropped: steps.filter((s) => s.action === 'dropped').map((s) => ({ partition: s.partition, rows: Number(s.rows) })),
    kept: steps.flatMap((s) => (s.action in KEPT ? [{ partition: s.partition, why: KEPT[s.action as keyof typeof KEPT] }] : [])),
    busy: steps.filter((s) => s.action === 'busy').map((s) => s.partition),
  };
}
