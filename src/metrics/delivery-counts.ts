// The decision log's counts by class, status and reason, kept as a rollup (migration
// 1766000810000-DeliveryCounts): triggers on deliveries append each statement's net change to
// delivery_count_deltas; the fold-delivery-counts job folds them into delivery_counts. A scrape
// reads both, so its cost depends on the number of groups and of deltas since the last fold,
// never on the size of the history.
import { DataSource } from 'typeorm';

export interface DecisionCount {
  class: string;
  status: string;
  reason: string;
  n: number;
}

const READ_COUNTS = `SELECT class, status, reason, sum(n)::bigint AS n FROM (
   SELECT class, status, reason, n FROM delivery_counts
   UNION ALL SELECT class, status, reason, n FROM delivery_count_deltas) c
 GROUP BY 1, 2, 3 HAVING sum(n) <> 0`;

// Two folds at once cannot count a delta twice: the second one's DELETE skips the rows the first deleted.
const FOLD_COUNTS = `WITH moved AS (DELETE FROM delivery_count_deltas RETURNING class, status, reason, n)
 , folded AS (
   INSERT INTO delivery_counts (class, status, reason, n)
   SELECT class, status, reason, sum(n) FROM moved GROUP BY 1, 2, 3
   ON CONFLICT (class, status, reason) DO UPDATE SET n = delivery_counts.n + EXCLUDED.n
   RETURNING 1)
 SELECT (SELECT count(*) FROM moved)::int AS n`;

// The oldest queued row's due time, through the due index (queued rows only, whatever the history).
const MEASURE_OLDEST_DUE = `INSERT INTO outbox_watermarks (one, oldest_due_at, measured_at)
 VALUES (true, (SELECT min(next_attempt_at) FROM deliveries WHERE status = 'queued'), $1)
 ON CONFLICT (one) DO UPDATE SET oldest_due_at = EXCLUDED.oldest_due_at, measured_at = EXCLUDED.measured_at`;

export async function readDecisionCounts(db: DataSource): Promise<DecisionCount[]> {
  const rows: { class: string; status: string; reason: string; n: string }[] = await db.query(READ_COUNTS);
  return rows.map((r) => ({ ...r, n: Number(r.n) }));
}

export async function readOldestDue(db: DataSource): Promise<Date | null> {
  const [row] = await db.query(`SELECT oldest_due_at FROM outbox_watermarks`);
  return row?.oldest_due_at ?? null;
}

/** Folds the deltas into the rollup and measures the oldest due row; answers how many deltas were folded. */
export async function foldDeliveryCounts(db: DataSource, now: Date): Promise<{ folded: number }> {
  const [{ n }] = await db.query(FOLD_COUNTS);
  await db.query(MEASURE_OLDEST_DUE, [now]);
  return { folded: n };
}
