// Retention of the housekeeping tables (docs/SCALING.md): rows nobody reads any more are deleted
// in short batches (each a DELETE of at most PRUNE_BATCH rows found through an index, by ctid, in
// housekeeping.queries.ts), so one run never holds many row locks, one long statement or one long
// transaction.
import type { Sql } from '../database/sql';
import type { Statement } from '../database/statements';
import { HousekeepingQueries as Q } from './housekeeping.queries';

export const PRUNE_BATCH = 1000;

export interface HousekeepingRetention {
  /** webhook_events: a provider's redelivery older than this is no longer recognised as one. */
  webhookEventsDays: number;
  /** scheduler_runs: older runs go, except the newest run of each job. */
  schedulerRunsDays: number;
  /** marketing_sends: rows whose cadence window ended this long ago (never less than the longest window plus a day). */
  marketingSendsDays: number;
  /** delivery_keys: keys of finished deliveries older than this (a pending one's key stays while it is pending). */
  deliveryKeysDays: number;
}

async function pruneBatches(db: Sql, statement: Statement<[cutoff: Date, limit: number]>, cutoff: Date): Promise<number> {
  let total = 0;
  for (;;) {
    const n = await db.run(statement, [cutoff, PRUNE_BATCH]);
    total += n;
    if (n < PRUNE_BATCH) return total;
  }
}

/** Deletes every housekeeping row past its retention; answers how many went from each table. */
export async function pruneHousekeeping(db: Sql, now: Date, retention: HousekeepingRetention) {
  const before = (days: number) => new Date(now.getTime() - days * 86_400_000);
  return {
    webhookEvents: await pruneBatches(db, Q.pruneWebhookEvents, before(retention.webhookEventsDays)),
    schedulerRuns: await pruneBatches(db, Q.pruneSchedulerRuns, before(retention.schedulerRunsDays)),
    marketingSends: await pruneBatches(db, Q.pruneMarketingSends, before(retention.marketingSendsDays)),
    deliveryKeys: await pruneBatches(db, Q.pruneDeliveryKeys, before(retention.deliveryKeysDays)),
  };
}
