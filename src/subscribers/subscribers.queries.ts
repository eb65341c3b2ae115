// The subscribers domain's statements (docs/SQL.md): people, their consent per topic, imports,
// double opt-in, the timeline, and the addresses no path may turn into a person again.
import { queries, sql } from '../database/statements';

export const SubscriberQueries = queries('subscribers', {
  // ---- double opt-in (confirmation.service.ts, preferences/confirm.controller.ts) ----
  confirmable: sql<[id: string], { id: string; locale: 'de' | 'en'; status: string }>(
    'The person a confirmation link names, for the page (it may be gone: erased or expired).',
    `SELECT id, locale, status FROM subscribers WHERE id = $1`,
  ),
  attributes: sql<[id: string], { attributes: Record<string, unknown> | null }>(
    "A subscriber's attributes, for a mail's salutation.",
    `SELECT attributes FROM subscribers WHERE id = $1`,
  ),
  pendingTopicNames: sql<[id: string, locale: string], { name: string }>(
    'The topics a confirmation would confirm, in the reader’s language, by key.',
    `SELECT CASE WHEN $2 = 'de' THEN t.name_de ELSE t.name_en END AS name
     FROM topic_subscriptions ts JOIN topics t ON t.id = ts.topic_id
     WHERE ts.subscriber_id = $1 AND ts.status = 'pending' ORDER BY t.key`,
  ),
  lockStatus: sql<[id: string], { status: string }>(
    "A subscriber's status, locked: a confirmation, an unsubscribe or a save of the same person queue up behind it.",
    `SELECT status FROM subscribers WHERE id = $1 FOR UPDATE`,
  ),
  confirm: sql<[id: string, at: Date, ip: string | null, userAgent: string | null]>(
    'Double opt-in confirmed: time, IP and user agent kept as the proof.',
    `UPDATE subscribers SET status = 'active', confirmed_at = $2, confirmation_ip = $3::inet, confirmation_user_agent = left($4, 500),
       status_changed_at = $2, updated_at = $2
     WHERE id = $1`,
  ),
  confirmPendingTopics: sql<[id: string, at: Date]>(
    "The person's pending topics become confirmed with them.",
    `UPDATE topic_subscriptions SET status = 'confirmed', confirmed_at = $2 WHERE subscriber_id = $1 AND status = 'pending'`,
  ),
  markConfirmationReminders: sql<[createdBefore: Date, createdAfter: Date, at: Date], { id: string }>(
    'Pending newsletter sign-ups due their one reminder, marked in the same statement so no two ticks remind twice (SKIP LOCKED: a tick on another instance takes others). A webinar registrant never asked for a newsletter and is not reminded.',
    `WITH due AS (
       SELECT id FROM subscribers
       WHERE status = 'pending' AND confirmation_reminded_at IS NULL
         AND created_at <= $1 AND created_at > $2
         AND EXISTS (SELECT 1 FROM topic_subscriptions ts WHERE ts.subscriber_id = subscribers.id AND ts.status = 'pending')
       FOR UPDATE SKIP LOCKED)
     , marked AS (UPDATE subscribers s SET confirmation_reminded_at = $3 FROM due WHERE s.id = due.id RETURNING s.id)
     SELECT id FROM marked`,
  ),
  expirePending: sql<[createdBefore: Date]>(
    'Unconfirmed sign-ups are not kept. A webinar registrant stays until their last webinar is over; a shop customer stays with their orders (deleting the person would take orders, parcels and tracking mails with it). Unconfirmed, neither gets marketing.',
    `DELETE FROM subscribers s WHERE s.status = 'pending' AND s.created_at <= $1
       AND NOT EXISTS (SELECT 1 FROM webinar_registrations r JOIN webinars w ON w.id = r.webinar_id
                       WHERE r.subscriber_id = s.id AND w.ends_at > $1)
       AND NOT EXISTS (SELECT 1 FROM orders o WHERE o.subscriber_id = s.id)`,
  ),

  addressBlocks: sql<[emailHash: Buffer], { erased_at: Date | null; bounce: 'bounced' | 'complained' | null }>(
    'Both lists of blocked addresses probed by the hash in one statement (two primary-key lookups).',
    `SELECT (SELECT created_at FROM suppressions WHERE email_hash = $1) AS erased_at,
            (SELECT reason FROM bounced_addresses WHERE email_hash = $1) AS bounce`,
  ),
});
