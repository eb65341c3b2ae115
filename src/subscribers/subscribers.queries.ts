// The subscribers domain's statements (docs/SQL.md): people, their consent per topic, imports,
// double opt-in, the timeline, and the addresses no path may turn into a person again.
import { queries, sql } from '../database/statements';


/** The rows of a write, as arrays ($1–$9), with the defaults $10 (locale), $11 (time zone), $12 (now). */
const WRITE_INPUT = `
  input AS (
    SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::int[], $6::int[], $7::jsonb[], $8::text[], $9::timestamptz[])
      AS t(email, locale, time_zone, cadence, digest_weekday, digest_hour, attributes, source, confirmed_at)
  )`;
const WRITE_UPDATE = `
  updated AS (
    UPDATE subscribers s SET
      locale         = coalesce(i.locale, s.locale),
      time_zone      = coalesce(i.time_zone, s.time_zone),
      cadence        = coalesce(i.cadence, s.cadence),
      digest_weekday = coalesce(i.digest_weekday, s.digest_weekday),
      digest_hour    = coalesce(i.digest_hour, s.digest_hour),
      attributes     = s.attributes || coalesce(i.attributes, '{}'::jsonb),
      status         = CASE WHEN s.status = 'pending' AND i.confirmed_at IS NOT NULL THEN 'active' ELSE s.status END,
      confirmed_at   = coalesce(s.confirmed_at, i.confirmed_at),
      status_changed_at = CASE WHEN s.status = 'pending' AND i.confirmed_at IS NOT NULL THEN $12 ELSE s.status_changed_at END,
      updated_at     = $12
    FROM input i WHERE s.email = i.email
    RETURNING s.id, s.email, false AS created
  ),`;
const WRITE_NO_UPDATE = `updated AS (SELECT NULL::uuid AS id, NULL::text AS email, false AS created WHERE false),`;
const WRITE_INSERT = `
  inserted AS (
    INSERT INTO subscribers (email, locale, time_zone, cadence, digest_weekday, digest_hour, attributes, status, source,
                             confirmed_at, status_changed_at, created_at, updated_at)
    SELECT i.email, coalesce(i.locale, $10), coalesce(i.time_zone, $11), coalesce(i.cadence, 'weekly'),
           coalesce(i.digest_weekday, 1), coalesce(i.digest_hour, 9), coalesce(i.attributes, '{}'::jsonb),
           CASE WHEN i.confirmed_at IS NULL THEN 'pending' ELSE 'active' END, i.source,
           i.confirmed_at, $12, $12, $12
    FROM input i
    WHERE NOT EXISTS (SELECT 1 FROM updated u WHERE u.email = i.email)
    ON CONFLICT (email) DO NOTHING
    RETURNING id, email, true AS created
  )
  SELECT id, email, created FROM updated UNION ALL SELECT id, email, created FROM inserted`;

export type WriteSubscribersParams = [
  emails: string[],
  locales: (string | null)[],
  timeZones: (string | null)[],
  cadences: (string | null)[],
  weekdays: (number | null)[],
  hours: (number | null)[],
  attributes: (string | null)[],
  sources: string[],
  confirmedAts: (Date | null)[],
  defaultLocale: string,
  defaultTimeZone: string,
  now: Date,
];
type Written = { id: string; email: string; created: boolean };

export const SubscriberQueries = queries('subscribers', {
  // ---- writing people and consent (subscriber-rows.ts) ----
  insertSubscribers: sql<WriteSubscribersParams, Written>(
    'New people only, set-based (an address that exists is left alone): public forms and webinar registrations.',
    `WITH ${WRITE_INPUT}, ${WRITE_NO_UPDATE} ${WRITE_INSERT}`,
  ),
  upsertSubscribers: sql<WriteSubscribersParams, Written>(
    "New people, and existing ones updated by address, set-based: the API and imports. A status moves only from pending to active (consent evidence); an unsubscribed, bounced or complained person is never re-activated here.",
    `WITH ${WRITE_INPUT}, ${WRITE_UPDATE} ${WRITE_INSERT}`,
  ),
  writeTopicConsent: sql<
    [subscriberIds: string[], topicIds: string[], sources: string[], confirmedAts: (Date | null)[], ips: (string | null)[], userAgents: (string | null)[], textVersions: (string | null)[], now: Date, apiKeyId: string | null]
  >(
    'Consent per (subscriber, topic), set-based. A confirmed consent never falls back to pending; a revoked one (an opt-out) is confirmed again only by evidence newer than the opt-out.',
    `INSERT INTO topic_subscriptions (subscriber_id, topic_id, status, consented_at, consent_source, consent_ip,
                                      consent_user_agent, consent_text_version, confirmed_at, consent_api_key_id)
     SELECT t.subscriber_id, t.topic_id,
            CASE WHEN t.confirmed_at IS NULL THEN 'pending' ELSE 'confirmed' END,
            coalesce(t.confirmed_at, $8), t.source, t.ip::inet, t.user_agent, t.text_version, t.confirmed_at, $9::uuid
     FROM unnest($1::uuid[], $2::uuid[], $3::text[], $4::timestamptz[], $5::text[], $6::text[], $7::text[])
       AS t(subscriber_id, topic_id, source, confirmed_at, ip, user_agent, text_version)
     ON CONFLICT (subscriber_id, topic_id) DO UPDATE SET
       status = 'confirmed', confirmed_at = EXCLUDED.confirmed_at, consented_at = EXCLUDED.consented_at,
       consent_source = EXCLUDED.consent_source, consent_ip = EXCLUDED.consent_ip,
       consent_user_agent = EXCLUDED.consent_user_agent, consent_text_version = EXCLUDED.consent_text_version,
       consent_api_key_id = EXCLUDED.consent_api_key_id,
       revoked_at = NULL, revocation_source = NULL, revoked_api_key_id = NULL
     WHERE EXCLUDED.status = 'confirmed'
       AND (topic_subscriptions.status = 'pending'
            OR (topic_subscriptions.status = 'revoked' AND EXCLUDED.confirmed_at > topic_subscriptions.revoked_at))`,
  ),

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
