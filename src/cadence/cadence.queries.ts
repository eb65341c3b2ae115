// The cadence domain's reads and the deferred items' upkeep (docs/SQL.md). The statements that
// write a customer's window are in window.queries.ts.
import { queries, sql } from '../database/statements';
import { Reason } from '../reasons/reason-codes';
import type { SubscriberStatus } from '../reasons/subscriber-states';
import type { Cadence } from './slots';

/** A customer's cadence settings and window; `last` is null while no marketing mail ever took it. */
export interface WindowRow {
  cadence: Cadence;
  time_zone: string;
  digest_weekday: number;
  digest_hour: number;
  last: Date | null;
}

export const CadenceQueries = queries('cadence', {
  outlook: sql<[subscriberId: string], WindowRow & { status: SubscriberStatus; paused_until: Date | null; has_confirmed_topic: boolean }>(
    'What the timeline says about the next marketing mail (marketingOutlook): the settings, the window, and why there may be none ' +
      '(status, pause, no confirmed topic), in one read by the primary key.',
    `SELECT s.cadence, s.time_zone, s.digest_weekday, s.digest_hour, s.status, s.paused_until,
              EXISTS (SELECT 1 FROM topic_subscriptions ts WHERE ts.subscriber_id = s.id AND ts.status = 'confirmed') AS has_confirmed_topic,
              CASE WHEN w.last_marketing_at = '-infinity' THEN NULL ELSE w.last_marketing_at END AS last
       FROM subscribers s LEFT JOIN cadence_windows w ON w.subscriber_id = s.id WHERE s.id = $1`,
  ),
  windowState: sql<[subscriberId: string], WindowRow>(
    "The window as a deferred mail's hand-over sees it, in the hand-over's transaction (its own write included): " +
      'when the next marketing slot and digest are. A released window is -infinity, shown as never taken.',
    `SELECT s.cadence, s.time_zone, s.digest_weekday, s.digest_hour,
              CASE WHEN w.last_marketing_at = '-infinity' THEN NULL ELSE w.last_marketing_at END AS last
       FROM subscribers s LEFT JOIN cadence_windows w ON w.subscriber_id = s.id WHERE s.id = $1`,
  ),
  expireStale: sql<[now: Date, reason: Reason, deferredBefore: Date], { count: number }>(
    'Deferred items past their expiry, and those without one deferred before DEFERRED_MAX_AGE_DAYS ago, expire in one statement. ' +
      'Two branches (UNION ALL), each one range over its own partial index (deliveries_deferred_expiry_idx, deliveries_deferred_age_idx), not an OR over both.',
    `WITH stale AS (
         UPDATE deliveries SET status = 'expired', reason = $2, updated_at = $1
         WHERE id IN (
           SELECT id FROM deliveries WHERE status = 'deferred' AND expires_at IS NOT NULL AND expires_at <= $1
           UNION ALL
           SELECT id FROM deliveries WHERE status = 'deferred' AND expires_at IS NULL AND created_at <= $3)
         RETURNING 1)
       SELECT count(*)::int AS count FROM stale`,
  ),
  suppressUnreachable: sql<[now: Date], { count: number }>(
    "Deferred items of customers who have left (or dropped the item's topic) are suppressed with the reason the send-time gate would give. " +
      'Driven from the few who left and the dropped topics (both small), each joined to their deferred rows through ' +
      'deliveries_deferred_topic_idx: no scan of every deferred row.',
    `WITH unreachable AS (
         SELECT d.id, CASE s.status WHEN 'bounced' THEN '${Reason.SuppressedBounced}'
                                    WHEN 'complained' THEN '${Reason.SuppressedComplained}'
                                    ELSE '${Reason.SuppressedUnsubscribed}' END AS reason
         FROM subscribers s JOIN deliveries d ON d.subscriber_id = s.id AND d.status = 'deferred'
         WHERE s.status IN ('bounced', 'complained', 'unsubscribed')
         UNION ALL
         SELECT d.id, CASE ts.status WHEN 'revoked' THEN '${Reason.SuppressedUnsubscribed}' ELSE '${Reason.SuppressedUnconfirmed}' END
         FROM topic_subscriptions ts
         JOIN subscribers s ON s.id = ts.subscriber_id AND s.status NOT IN ('bounced', 'complained', 'unsubscribed')
         JOIN deliveries d ON d.subscriber_id = ts.subscriber_id AND d.topic_id = ts.topic_id AND d.status = 'deferred'
         WHERE ts.status <> 'confirmed')
       , suppressed AS (
         UPDATE deliveries d SET status = 'suppressed', reason = u.reason, updated_at = $1
         FROM unreachable u WHERE d.id = u.id AND d.status = 'deferred'
         RETURNING 1)
       SELECT count(*)::int AS count FROM suppressed`,
  ),
});
