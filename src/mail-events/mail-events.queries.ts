// The mail events' statements (docs/SQL.md): what the mail world says back (DSNs, ARF reports,
// the List-Unsubscribe mailto, the providers' webhooks), found, applied and kept as evidence.
import { queries, sql } from '../database/statements';

/** The mail an event names, as the event is applied to it. */
export interface EventDelivery {
  id: string;
  subscriber_id: string | null;
  to_address: string | null;
  message_id: string | null;
}

export const MailEventQueries = queries('mailEvents', {
  claimReplayKey: sql<[source: string, id: string, at: Date], { fresh: number }>(
    "A provider's event id or token once: a repeated one inserts nothing (no row returned), and the event changes nothing. Kept against replays for REPLAY_RETENTION_MS (prune-housekeeping).",
    `INSERT INTO webhook_events (source, event_id, received_at) VALUES ($1, left($2, 300), $3) ON CONFLICT DO NOTHING RETURNING 1 AS fresh`,
  ),
  lockSubscriber: sql<[subscriberId: string], { status: string; email: string }>(
    "The person an event is about, locked: their status change and a concurrent save or event queue up (and a subscriber's soft bounces are counted one after another).",
    `SELECT status, email FROM subscribers WHERE id = $1 FOR UPDATE`,
  ),
  lockAddress: sql<[emailHash: Buffer]>(
    "Soft bounces of an address without a subscriber are counted one after another: a transaction advisory lock on the address's hash (no row to lock).",
    `SELECT pg_advisory_xact_lock(('x' || substr(encode($1::bytea, 'hex'), 1, 15))::bit(60)::bigint)`,
  ),
  softBouncesInWindow: sql<[emailHash: Buffer, since: Date, deliveryId: string | null, messageId: string | null], { count: number }>(
    "An address's soft bounces in the window, this one included: distinct mails, so a DSN and a provider event about the same mail count once.",
    `SELECT count(DISTINCT key)::int AS count FROM (
       SELECT coalesce('d' || delivery_id::text, 'm' || message_id, 'e' || id::text) AS key
       FROM mail_events WHERE email_hash = $1 AND kind = 'soft_bounce' AND occurred_at > $2
       UNION ALL SELECT coalesce('d' || $3::text, 'm' || $4::text, 'this')) k`,
  ),
  setSubscriberStatus: sql<[subscriberId: string, status: string, at: Date]>(
    'The status the event decided (bounced, complained, unsubscribed); a pause ends with it. Once: status_changed_at keeps the first.',
    `UPDATE subscribers SET status = $2, paused_until = NULL, status_changed_at = $3, updated_at = $3 WHERE id = $1 AND status <> $2`,
  ),
  revokeTopics: sql<[subscriberId: string, at: Date, source: 'mail' | 'mail_provider']>(
    'A complaint or an unsubscribe by mail revokes every topic, with where the revocation came from (the consent record keeps it).',
    `UPDATE topic_subscriptions SET status = 'revoked', revoked_at = $2, revocation_source = $3, revoked_api_key_id = NULL
     WHERE subscriber_id = $1 AND status <> 'revoked'`,
  ),
  makeQueuedDue: sql<[subscriberId: string, now: Date, classes: readonly string[]], { count: number }>(
    "The person's queued mails of the classes the event stops, made due now: the gate (at hand-over) suppresses them within seconds, through the one hand-over path, rather than when their retry or quiet-hours time comes.",
    `WITH due AS (
       UPDATE deliveries SET next_attempt_at = $2, updated_at = $2
       WHERE subscriber_id = $1 AND status = 'queued' AND class = ANY($3) RETURNING 1)
     SELECT count(*)::int AS count FROM due`,
  ),
  deliveryById: sql<[deliveryId: string], EventDelivery>(
    'The mail named by the VERP address or the X-Tactful-Delivery header: the strongest clue.',
    `SELECT d.id, d.subscriber_id, d.to_address, d.message_id FROM deliveries d WHERE d.id = $1 ORDER BY d.id DESC LIMIT 1`,
  ),
  deliveryByMessageId: sql<[messageId: string], EventDelivery>(
    "The mail named by the original's Message-ID (deliveries_message_id_idx), the newest if it was ever reused.",
    `SELECT d.id, d.subscriber_id, d.to_address, d.message_id FROM deliveries d WHERE d.message_id = $1 ORDER BY d.id DESC LIMIT 1`,
  ),
  subscriberByEmail: sql<[email: string], { id: string }>(
    'The person behind the recipient address: the weakest clue.',
    `SELECT id FROM subscribers WHERE email = $1`,
  ),
  insertEvidence: sql<
    [
      subscriberId: string | null,
      emailHash: Buffer | null,
      kind: string,
      source: string,
      outcome: string,
      deliveryId: string | null,
      messageId: string | null,
      statusCode: string | null,
      diagnostic: string | null,
      providerEventId: string | null,
      occurredAt: Date,
      receivedAt: Date,
    ]
  >(
    "The event's evidence row, in the transaction that applied it: what the timeline shows, and what the soft bounce count reads.",
    `INSERT INTO mail_events (subscriber_id, email_hash, kind, source, outcome, delivery_id, message_id, status_code, diagnostic,
                              provider_event_id, occurred_at, received_at)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)`,
  ),
});
