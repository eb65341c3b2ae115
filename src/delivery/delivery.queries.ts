// The delivery domain's statements (docs/SQL.md): the outbox (enqueue), the worker's claim, lease
// and hand-over, bounce and complaint events, addresses that bounced without a subscriber, a sent
// mail shown again.
import { HAND_OVER_TURN_SQL } from '../cadence/hand-over-turn';
import type { Locale } from '../config/config';
import { queries, sql } from '../database/statements';
import { type MessageClass, Reason } from '../reasons/reason-codes';

/** A claimed row as the claim returns it. */
type Id = { id: string };

// The claim, one text per stream; each stream's condition is written as its partial index's
// predicate (deliveries_due_service_idx), so the planner can use it.
const CLAIM = (streamFilter: string) => `WITH due AS (
   SELECT id FROM deliveries
   WHERE status = 'queued' AND next_attempt_at <= $1 AND ${streamFilter}
   ORDER BY next_attempt_at
   LIMIT $2
   FOR UPDATE SKIP LOCKED)
 , claimed AS (
   UPDATE deliveries d SET status = 'sending', lease_owner = $3, lease_until = $4, attempts = d.attempts + 1, updated_at = $1,
     sending_started_at = NULL
   FROM due WHERE d.id = due.id
   RETURNING d.id)
 SELECT id FROM claimed ORDER BY id`;
type ClaimParams = [now: Date, limit: number, workerId: string, claimLeaseUntil: Date];

/** A delivery with its subscriber's address and status: what claimedDeliveryOf (delivery-kinds.ts) maps. */
export interface DeliveryRow {
  id: string;
  subscriber_id: string | null;
  to_address: string | null;
  class: MessageClass;
  kind: string;
  topic_id: string | null;
  ref_id: string | null;
  sender: string | null;
  locale: Locale;
  payload: Record<string, unknown> | null;
  attempts: number;
  unknown_outcomes: number;
  idempotency_key: string;
  created_at: Date;
  subscriber_email: string | null;
  subscriber_status: string | null;
}

/** The claimed row joined with what the send-time checks read, as claimedDeliveryOf() maps it. */
export interface LockedDeliveryRow extends DeliveryRow {
  subscriber_cadence: string | null;
  subscriber_time_zone: string | null;
  hand_over_turn: boolean | null;
  /** Marketing mail of a topic to a subscriber only: that topic subscription's status (null: none), read FOR SHARE. */
  subscription_status: string | null;
  subscription_read: boolean;
}

/** A sent delivery as the worker claims it (claimedDeliveryOf), without the claim. */
export interface SentDeliveryRow extends DeliveryRow {
  sent_at: Date;
}

export const DeliveryQueries = queries('delivery', {
  enqueueForSubscribers: sql<
    [
      subscriberIds: string[],
      messageClass: string,
      kind: string,
      topicId: string | null,
      refId: string | null,
      keyPrefix: string,
      payload: string,
      priority: number,
      at: Date,
      onlyStatus: string | null,
    ],
    { count: number }
  >(
    'Queues one delivery per subscriber in one INSERT … SELECT; the idempotency key (prefix + subscriber id) makes a repeated enqueue a no-op rather than a second mail.',
    `WITH queued AS (
       INSERT INTO deliveries (subscriber_id, class, kind, topic_id, ref_id, locale, status, reason, idempotency_key,
                               payload, priority, next_attempt_at, created_at, updated_at)
       SELECT s.id, $2, $3, $4, $5, s.locale, 'queued', 'queued', $6 || s.id::text, $7::jsonb, $8, $9, $9, $9
       FROM subscribers s
       WHERE s.id = ANY($1::uuid[]) AND ($10::text IS NULL OR s.status = $10)
       RETURNING 1)
     SELECT count(*)::int AS count FROM queued`,
  ),
  claimService: sql<ClaimParams, Id>(
    "The service stream's batch: due rows, SKIP LOCKED so every instance claims disjoint rows at once, on the short claim lease.",
    CLAIM(`class <> 'marketing'`),
  ),
  claimMarketing: sql<ClaimParams, Id>(
    "The marketing stream's batch, as claimService (each stream's lanes of its own: a campaign never stands in front of an order mail).",
    CLAIM(`class = 'marketing'`),
  ),
  renewClaimLease: sql<[waitingIds: string[], workerId: string, claimLeaseUntil: Date], { n: number }>(
    "The heartbeat: the batch's mails still waiting for a lane keep their claim lease. Rows a lane holds locked (at their hand-over, on the full lease) are skipped, not waited for.",
    `WITH waiting AS (
       SELECT id FROM deliveries WHERE id = ANY ($1::bigint[]) AND status = 'sending' AND lease_owner = $2 AND sending_started_at IS NULL
       FOR UPDATE SKIP LOCKED)
     , renewed AS (UPDATE deliveries d SET lease_until = $3 FROM waiting w WHERE d.id = w.id RETURNING 1)
     SELECT count(*)::int AS n FROM renewed`,
  ),
  reclaimExpired: sql<[now: Date, workerId: string, inHandIds: string[]], Id>(
    'Rows whose worker died (its lease ran out; a live slow one still holds the row lock, and SKIP LOCKED passes over it). Never started: back to the queue as never sent. Started: it may have reached the relay, so it is sent once more under the same Message-ID and counted as an unknown outcome. Rows of a batch this worker still has in hand are its own.',
    `WITH expired AS (
       SELECT id FROM deliveries WHERE status = 'sending' AND lease_until < $1
         AND NOT (lease_owner = $2 AND id = ANY($3::bigint[]))
       ORDER BY lease_until LIMIT 1000 FOR UPDATE SKIP LOCKED)
     , reclaimed AS (
       UPDATE deliveries d SET
         status = CASE WHEN d.sending_started_at IS NULL THEN 'queued' WHEN d.unknown_outcomes >= 1 THEN 'unknown' ELSE 'queued' END,
         reason = CASE WHEN d.sending_started_at IS NULL THEN d.reason ELSE '${Reason.UnknownOutcome}' END,
         unknown_outcomes = d.unknown_outcomes + (d.sending_started_at IS NOT NULL)::int,
         attempts = d.attempts - (d.sending_started_at IS NULL)::int,
         lease_owner = NULL, lease_until = NULL, sending_started_at = NULL, next_attempt_at = $1, updated_at = $1
       FROM expired WHERE d.id = expired.id
       RETURNING d.id)
     SELECT id FROM reclaimed`,
  ),
  domainPausesInForce: sql<[now: Date], { domain: string; paused_until: Date }>(
    'The recipient domains paused by an SMTP policy block, read once per claimed batch rather than once per mail.',
    `SELECT domain, paused_until FROM domain_pauses WHERE paused_until > $1`,
  ),
  startHandOver: sql<[deliveryId: string, workerId: string, startedAt: Date, leaseUntil: Date], { n: number }>(
    'Right before the hand-over, outside its transaction, so it is committed even if this process dies at SMTP: the mail is started (it may reach the relay) and holds the full lease. 0 rows: the claim lease ran out and another worker took it.',
    `WITH started AS (
       UPDATE deliveries SET sending_started_at = $3, lease_until = $4
       WHERE id = $1 AND status = 'sending' AND lease_owner = $2 RETURNING 1)
     SELECT count(*)::int AS n FROM started`,
    { prepared: true },
  ),
  lockClaimed: sql<[deliveryId: string, workerId: string], LockedDeliveryRow>(
    "The hand-over's locks in one round trip, in this order: the delivery row FOR UPDATE; for a marketing mail to a subscriber, that subscriber's hand-over turn (cadence/hand-over-turn.ts); the subscriber row FOR SHARE; for a marketing mail of a topic, that topic subscription FOR SHARE. All are held until the hand-over commits, so a concurrent unsubscribe or opt-out waits for it (or commits first and the gate sees it). The order is a data dependency: `turn` reads the subscriber id from `d`, `s` looks the subscriber up by the id `turn` returns (locked only once the turn is held: a worker waiting for the turn holds no lock on the subscriber row, and the turn's holder may still update it, a hard bounce), and `ts` reads the subscriber's id from `s`.",
    `WITH d AS (
       SELECT id, subscriber_id, to_address, class, kind, topic_id, ref_id, sender, locale, payload, attempts, unknown_outcomes,
              idempotency_key, created_at
       FROM deliveries WHERE id = $1 AND status = 'sending' AND lease_owner = $2
       FOR UPDATE)
     , turn AS (
       SELECT subscriber_id,
              CASE WHEN class = 'marketing' AND subscriber_id IS NOT NULL THEN ${HAND_OVER_TURN_SQL('subscriber_id')} IS NOT NULL ELSE false END AS taken
       FROM d)
     , s AS (
       SELECT id, email, status, cadence, time_zone FROM subscribers
       WHERE id = (SELECT subscriber_id FROM turn)
       FOR SHARE)
     , ts AS (
       SELECT status FROM topic_subscriptions
       WHERE subscriber_id = (SELECT id FROM s) AND topic_id = (SELECT topic_id FROM d WHERE class = 'marketing')
       FOR SHARE)
     SELECT d.*, s.email AS subscriber_email, s.status AS subscriber_status, s.cadence AS subscriber_cadence,
            s.time_zone AS subscriber_time_zone, (SELECT taken FROM turn) AND s.id IS NOT NULL AS hand_over_turn,
            (SELECT status FROM ts) AS subscription_status,
            (d.class = 'marketing' AND d.topic_id IS NOT NULL AND s.id IS NOT NULL) AS subscription_read
     FROM d LEFT JOIN s ON true`,
    { prepared: true },
  ),
  requeueForDomainPause: sql<[deliveryId: string, reason: Reason, pausedUntil: Date, now: Date]>(
    "A mail to a paused domain waits for the pause's end without using up an attempt; its window reservation waits with it (domain_paused keeps it).",
    `UPDATE deliveries SET status = 'queued', reason = $2, attempts = attempts - 1, next_attempt_at = $3,
       lease_owner = NULL, lease_until = NULL, updated_at = $4 WHERE id = $1`,
  ),
  recordGateVerdict: sql<[deliveryId: string, status: string, reason: Reason, now: Date, nextAttemptAt: Date | null]>(
    'The send-time check said no: suppressed or expired for good, or deferred until the next digest (nextAttemptAt).',
    `UPDATE deliveries SET status = $2, reason = $3, next_attempt_at = coalesce($5, next_attempt_at),
       lease_owner = NULL, lease_until = NULL, updated_at = $4 WHERE id = $1`,
  ),
  recordAttempt: sql<
    [
      deliveryId: string,
      status: string,
      reason: Reason,
      nextAttemptAt: Date | null,
      response: string,
      messageId: string,
      now: Date,
      unknownOutcome: number,
      attemptGivenBack: number,
    ]
  >(
    "The SMTP attempt's outcome (retry.policy.ts), in the hand-over transaction: the row leaves 'sending' and its lease in the same commit as the rest of the hand-over.",
    `UPDATE deliveries SET status = $2, reason = $3, next_attempt_at = coalesce($4, next_attempt_at),
       smtp_response = left($5, 1000), message_id = $6, sent_at = CASE WHEN $2 = 'sent' THEN $7 ELSE sent_at END,
       unknown_outcomes = unknown_outcomes + $8, attempts = attempts - $9,
       lease_owner = NULL, lease_until = NULL, updated_at = $7
     WHERE id = $1`,
    { prepared: true },
  ),
  recordAttemptStartingNext: sql<
    [
      deliveryId: string,
      status: string,
      reason: Reason,
      nextAttemptAt: Date | null,
      response: string,
      messageId: string,
      now: Date,
      unknownOutcome: number,
      attemptGivenBack: number,
      followingId: string,
      workerId: string,
      followingLeaseUntil: Date,
    ],
    { started: number }
  >(
    "recordAttempt, and the start of the lane's next mail (what startHandOver does) in the same round trip. It commits with this hand-over, before the next mail's own hand-over begins, so the next mail is started (may reach the relay, holds the full lease) before any byte of it goes out, as startHandOver guarantees; if this hand-over rolls back, so does that start, and the worker starts it on its own. started 0: its claim lease ran out and another worker took it.",
    `WITH recorded AS (
       UPDATE deliveries SET status = $2, reason = $3, next_attempt_at = coalesce($4, next_attempt_at),
         smtp_response = left($5, 1000), message_id = $6, sent_at = CASE WHEN $2 = 'sent' THEN $7 ELSE sent_at END,
         unknown_outcomes = unknown_outcomes + $8, attempts = attempts - $9,
         lease_owner = NULL, lease_until = NULL, updated_at = $7
       WHERE id = $1 RETURNING 1)
     , started AS (
       UPDATE deliveries SET sending_started_at = $7, lease_until = $12
       WHERE id = $10 AND status = 'sending' AND lease_owner = $11 RETURNING 1)
     SELECT (SELECT count(*) FROM started)::int AS started, (SELECT count(*) FROM recorded)::int AS recorded`,
    { prepared: true },
  ),
  pauseDomain: sql<[domain: string, pausedUntil: Date, reason: string, now: Date]>(
    'An SMTP policy block pauses the recipient domain for every instance; a longer pause already in force is kept.',
    `INSERT INTO domain_pauses (domain, paused_until, reason, created_at) VALUES ($1, $2, $3, $4)
     ON CONFLICT (domain) DO UPDATE SET paused_until = GREATEST(domain_pauses.paused_until, EXCLUDED.paused_until), reason = EXCLUDED.reason`,
  ),
  subscriptionStatus: sql<[subscriberId: string, topicId: string], { status: string }>(
    "A subscriber's consent to a topic, FOR SHARE: an opt-out waits for the hand-over that read it (for a caller whose lock statement did not read it).",
    `SELECT status FROM topic_subscriptions WHERE subscriber_id = $1 AND topic_id = $2 FOR SHARE`,
  ),
  markSubscriberBounced: sql<[subscriberId: string, at: Date]>(
    'A hard bounce: the subscriber gets nothing but what the gate lets through to bounced addresses (nothing). Once only: status_changed_at keeps the first.',
    `UPDATE subscribers SET status = 'bounced', status_changed_at = $2, updated_at = $2 WHERE id = $1 AND status <> 'bounced'`,
  ),
  blockAddress: sql<[emailHash: Buffer, reason: 'bounced' | 'complained', response: string | null, at: Date]>(
    'An address without a subscriber that bounced or complained, kept as a hash; a bounce outranks a complaint (nothing can reach the address at all).',
    `INSERT INTO bounced_addresses (email_hash, reason, response, created_at) VALUES ($1, $2, left($3, 500), $4)
     ON CONFLICT (email_hash) DO UPDATE SET reason = CASE WHEN EXCLUDED.reason = 'bounced' THEN 'bounced' ELSE bounced_addresses.reason END`,
  ),
  setSubscriberStatus: sql<[subscriberId: string, status: 'bounced' | 'complained', at: Date]>(
    'A hard bounce or complaint marks the subscriber; the send-time gate suppresses what is still queued.',
    `UPDATE subscribers SET status = $2, status_changed_at = $3, updated_at = $3 WHERE id = $1 AND status <> $2`,
  ),
  revokeAllTopics: sql<[subscriberId: string, at: Date]>(
    'A complaint revokes every topic: nothing but transactional mail reaches the person again.',
    `UPDATE topic_subscriptions SET status = 'revoked', revoked_at = $2 WHERE subscriber_id = $1 AND status <> 'revoked'`,
  ),
  reserveRelaySlots: sql<[relay: string, wanted: number, ratePerSecond: number, horizonSeconds: number], { granted: number; first_ms: string; now_ms: string }>(
    "A relay's next send slots, shared by every instance (reserve_relay_slots(), migration 1766000400000); the times as epoch milliseconds, with the database's now to map them onto the local clock.",
    `SELECT granted, extract(epoch FROM first_slot_at) * 1000 AS first_ms, extract(epoch FROM reserved_at) * 1000 AS now_ms
     FROM reserve_relay_slots($1, $2, $3, $4)`,
    { prepared: true },
  ),
  sentDelivery: sql<[deliveryId: string, subscriberId: string], SentDeliveryRow>(
    "A mail that went, with its subscriber's address and status, as the worker's lock reads it (without locking or claiming anything): the console's mail view composes it again from this. Only the subscriber's own mail: a guessed id of someone else's shows nothing.",
    `SELECT d.id, d.subscriber_id, d.to_address, d.class, d.kind, d.topic_id, d.ref_id, d.sender, d.locale, d.payload,
            d.attempts, d.unknown_outcomes, d.idempotency_key, d.created_at, d.sent_at, s.email AS subscriber_email, s.status AS subscriber_status
     FROM deliveries d LEFT JOIN subscribers s ON s.id = d.subscriber_id
     WHERE d.id = $1 AND d.subscriber_id = $2 AND d.status = 'sent'`,
  ),
});
