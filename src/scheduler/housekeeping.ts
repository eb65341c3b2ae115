// Retention of the housekeeping tables (docs/SCALING.md): rows nobody reads any more are deleted
// in short batches (each a DELETE of at most PRUNE_BATCH rows found through an index, by ctid), so
// one run never holds many row locks, one long statement or one long transaction.
import { DataSource } from 'typeorm';

export const PRUNE_BATCH = 1000;

export interface HousekeepingRetention {
  /** webhook_events: a provider's redelivery older than this is no longer recognised as one. */
  webhookEventsDays: number;
  /** scheduler_runs: older runs go, except the newest run of each job. */
  schedulerRunsDays: number;
  /** marketing_sends: rows whose cadence window ended this long ago (never less than the longest window plus a day). */
  marketingSendsDays: number;
}

// $1 cutoff. Each statement deletes one batch and answers how many rows went.
const PRUNE = {
  webhookEvents: `WITH gone AS (
     DELETE FROM webhook_events WHERE ctid = ANY (ARRAY(
       SELECT ctid FROM webhook_events WHERE received_at < $1 LIMIT ${PRUNE_BATCH}))
     RETURNING 1)
   SELECT count(*)::int AS n FROM gone`,
  schedulerRuns: `WITH gone AS (
     DELETE FROM scheduler_runs WHERE ctid = ANY (ARRAY(
       SELECT r.ctid FROM scheduler_runs r
       WHERE r.started_at < $1 AND EXISTS (SELECT 1 FROM scheduler_runs n WHERE n.job = r.job AND n.id > r.id)
       LIMIT ${PRUNE_BATCH}))
     RETURNING 1)
   SELECT count(*)::int AS n FROM gone`,
  // The hand-over check (cadence.service.ts) reads only records whose window overlaps the last
  // longest window plus a day, and a new record's window starts now: an older one is never read.
  marketingSends: `WITH gone AS (
     DELETE FROM marketing_sends WHERE ctid = ANY (ARRAY(
       SELECT ctid FROM marketing_sends WHERE upper(during) < $1 LIMIT ${PRUNE_BATCH}))
     RETURNING 1)
   SELECT count(*)::int AS n FROM gone`,
} as const;

async function pruneBatches(db: DataSource, sql: string, cutoff: Date): Promise<number> {
  let total = 0;
  for (;;) {
    const [{ n }] = await db.query(sql, [cutoff]);
    total += n;
    if (n < PRUNE_BATCH) return total;
  }
}

/** Deletes every housekeeping row past its retention; answers how many went from each table. */
export async function pruneHousekeeping(db: DataSource, now: Date, retention: HousekeepingRetention) {
  const before = (days: number) => new Date(now.getTime() - days * 86_400_000);
  return {
    webhookEvents: await pruneBatches(db, PRUNE.webhookEvents, before(retention.webhookEventsDays)),
    schedulerRuns: await pruneBatches(db, PRUNE.schedulerRuns, before(retention.schedulerRunsDays)),
    marketingSends: await pruneBatches(db, PRUNE.marketingSends, before(retention.marketingSendsDays)),
  };
}
