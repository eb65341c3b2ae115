// The housekeeping tables' retention (docs/SQL.md, docs/SCALING.md): each statement deletes one
// batch of at most $2 rows found through an index, by ctid, so one run never holds many row locks
// or one long statement. $1 is the cutoff.
import { queries, sql } from '../database/statements';

export const HousekeepingQueries = queries('housekeeping', {
  pruneWebhookEvents: sql<[cutoff: Date, limit: number]>(
    'Provider webhook events older than the redelivery window: a redelivery that old is no longer recognised as one.',
    `DELETE FROM webhook_events WHERE ctid = ANY (ARRAY(
       SELECT ctid FROM webhook_events WHERE received_at < $1 LIMIT $2))`,
  ),
  pruneSchedulerRuns: sql<[cutoff: Date, limit: number]>(
    'Job runs older than the retention, except the newest run of each job (what the runs page shows last).',
    `DELETE FROM scheduler_runs WHERE ctid = ANY (ARRAY(
       SELECT r.ctid FROM scheduler_runs r
       WHERE r.started_at < $1 AND EXISTS (SELECT 1 FROM scheduler_runs n WHERE n.job = r.job AND n.id > r.id)
       LIMIT $2))`,
  ),
  // The hand-over check (cadence) reads only records whose window overlaps the last longest
  // window plus a day, and a new record's window starts now: an older one is never read.
  pruneMarketingSends: sql<[cutoff: Date, limit: number]>(
    'Marketing hand-over records whose cadence window ended before the cutoff: no hand-over check reads them again.',
    `DELETE FROM marketing_sends WHERE ctid = ANY (ARRAY(
       SELECT ctid FROM marketing_sends WHERE upper(during) < $1 LIMIT $2))`,
  ),
  // Nothing reads a key but the insert that would repeat its delivery (the claim trigger of
  // deliveries, migration 1767000300000) and the shipment hand-over's check; a key whose delivery
  // still waits stays, so a replay can never make a second copy of a pending mail.
  pruneDeliveryKeys: sql<[cutoff: Date, limit: number]>(
    'Idempotency keys of deliveries created before the cutoff that no longer wait (or are gone): a replay that late sends again.',
    `DELETE FROM delivery_keys WHERE ctid = ANY (ARRAY(
       SELECT k.ctid FROM delivery_keys k
       WHERE k.created_at < $1
         AND NOT EXISTS (SELECT 1 FROM deliveries d WHERE d.id = k.delivery_id AND d.status IN ('queued', 'sending', 'deferred'))
       LIMIT $2))`,
  ),
});
