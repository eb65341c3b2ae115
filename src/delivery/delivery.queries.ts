// The delivery domain's statements (docs/SQL.md): bounce and complaint events, addresses that
// bounced without a subscriber, a sent mail shown again. (The outbox and worker statements join
// them in issue 19's second step.)
import type { Locale } from '../config/config';
import { queries, sql } from '../database/statements';
import type { MessageClass } from '../reasons/reason-codes';

/** A sent delivery as the worker claims it (claimedDeliveryOf), without the claim. */
export interface SentDeliveryRow {
  id: string;
  subscriber_id: string | null;
  to_address: string | null;
  class: MessageClass;
  kind: string;
  topic_id: string | null;
  ref_id: string | null;
  sender: string | null;
  locale: Locale;
  payload: Record<string, any> | null;
  attempts: number;
  unknown_outcomes: number;
  idempotency_key: string;
  created_at: Date;
  sent_at: Date;
  subscriber_email: string | null;
  subscriber_status: string | null;
}

export const DeliveryQueries = queries('delivery', {
  markSubscriberBounced: sql<[subscriberId: string, at: Date]>(
    'A hard bounce: the subscriber gets nothing but what the gate lets through to bounced addresses (nothing). Once only: status_changed_at keeps the first.',
    `UPDATE subscribers SET status = 'bounced', status_changed_at = $2, updated_at = $2 WHERE id = $1 AND status <> 'bounced'`,
  ),
  blockAddress: sql<[emailHash: Buffer, reason: 'bounced' | 'complained', response: string | null, at: Date]>(
    'An address without a subscriber that bounced or complained, kept as a hash; a bounce outranks a complaint (nothing can reach the address at all).',
    `INSERT INTO bounced_addresses (email_hash, reason, response, created_at) VALUES ($1, $2, left($3, 500), $4)
     ON CONFLICT (email_hash) DO UPDATE SET reason = CASE WHEN EXCLUDED.reason = 'bounced' THEN 'bounced' ELSE bounced_addresses.reason END`,
  ),
  mailEventFresh: sql<[eventId: string, at: Date], { fresh: 1 }>(
    "A provider's event once: a repeated event id inserts nothing and is acknowledged as a duplicate.",
    `INSERT INTO webhook_events (source, event_id, received_at) VALUES ('mail', $1, $2) ON CONFLICT DO NOTHING RETURNING 1 AS fresh`,
  ),
  lockSubscriberByEmail: sql<[email: string], { id: string }>(
    'The subscriber an event names by address, locked: their status change and a concurrent save queue up.',
    `SELECT id FROM subscribers WHERE email = lower($1) FOR UPDATE`,
  ),
  lockSubscriberByMessageId: sql<[messageId: string], { id: string }>(
    'The subscriber an event names by the Message-ID of a mail we sent them, locked (as above).',
    `SELECT s.id FROM deliveries d JOIN subscribers s ON s.id = d.subscriber_id WHERE d.message_id = $1 LIMIT 1 FOR UPDATE OF s`,
  ),
  addressOfMessage: sql<[messageId: string], { to_address: string }>(
    'Order and shipment mail goes to addresses that are no subscriber: the address a Message-ID went to.',
    `SELECT to_address FROM deliveries WHERE message_id = $1 AND to_address IS NOT NULL LIMIT 1`,
  ),
  sentDelivery: sql<[deliveryId: string, subscriberId: string], SentDeliveryRow>(
    "A mail that went, with its subscriber's address and status, as the worker's lock reads it (without locking or claiming anything): the console's mail view composes it again from this. Only the subscriber's own mail: a guessed id of someone else's shows nothing.",
    `SELECT d.id, d.subscriber_id, d.to_address, d.class, d.kind, d.topic_id, d.ref_id, d.sender, d.locale, d.payload,
            d.attempts, d.unknown_outcomes, d.idempotency_key, d.created_at, d.sent_at, s.email AS subscriber_email, s.status AS subscriber_status
     FROM deliveries d LEFT JOIN subscribers s ON s.id = d.subscriber_id
     WHERE d.id = $1 AND d.subscriber_id = $2 AND d.status = 'sent'`,
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
});
