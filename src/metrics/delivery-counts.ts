// The decision log's counts by class, status and reason, kept as a rollup (migration
// 1766000810000-DeliveryCounts): triggers on deliveries append each statement's net change to
// delivery_count_deltas; the fold-delivery-counts job folds them into delivery_counts. A scrape
// reads both (metrics.queries.ts), so its cost depends on the number of groups and of deltas since
// the last fold, never on the size of the history.
import type { Sql } from '../database/sql';
import { foldCampaignCounts } from './campaign-counts';
import { MetricsQueries as Q } from './metrics.queries';

export interface DecisionCount {
  class: string;
  status: string;
  reason: string;
  n: number;
}

export async function readDecisionCounts(db: Sql): Promise<DecisionCount[]> {
  const rows = await db.rows(Q.decisions, []);
  return rows.map((r) => ({ ...r, n: Number(r.n) }));
}

export async function readOldestDue(db: Sql): Promise<Date | null> {
  return (await db.row(Q.oldestDue, []))?.at ?? null;
}

/**
 * Folds the deltas into the rollups (the decision counts, and each campaign's counts by hour,
 * campaign-counts.ts) and measures the oldest due row; answers how many deltas were folded.
 */
export async function foldDeliveryCounts(db: Sql, now: Date): Promise<{ folded: number; campaignFolded: number }> {
  const { n } = (await db.row(Q.foldCounts, []))!;
  const campaignFolded = await foldCampaignCounts(db);
  await db.run(Q.measureOldestDue, [now]);
  return { folded: n, campaignFolded };
}
