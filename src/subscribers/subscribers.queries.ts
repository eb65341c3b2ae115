// The subscribers domain's statements (docs/SQL.md): people, their consent per topic, imports,
// double opt-in, the timeline, and the addresses no path may turn into a person again.
import { queries, sql } from '../database/statements';
import type { MailEventKind, MailEventOutcome, MailEventSource } from '../mail-events/mail-event.policy';
import type { Subscriber } from './subscriber.entity';

/** A subscriber as the API shows them (alias s; camelCase as the entity names its columns). */
const SUBSCRIBER = `s.id, s.email, s.locale, s.time_zone AS "timeZone", s.cadence, s.status, s.attributes, s.digest_weekday AS "digestWeekday",
  s.digest_hour AS "digestHour", s.paused_until AS "pausedUntil", s.source, s.confirmed_at AS "confirmedAt", s.status_changed_at AS "statusChangedAt",
  s.created_at AS "createdAt", s.updated_at AS "updatedAt"`;

export interface SubscriptionRow {
  subscriber_id: string;
  topic: string;
  status: string;
  consented_at: Date;
  consent_source: string;
  consent_ip: string | null;
  consent_user_agent: string | null;
  consent_text_version: string | null;
  confirmed_at: Date | null;
  revoked_at: Date | null;
  revocation_source: string | null;
  consent_api_key_id: string | null;
  consent_api_key_name: string | null;
  revoked_api_key_id: string | null;
  revoked_api_key_name: string | null;
}

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

/** One decision about the person, as the export and the timeline show it (topic by its key). */
interface DecisionRow {
  id: string;
  created_at: Date;
  sent_at: Date | null;
  class: string;
  kind: string;
  topic: string | null;
  ref_id: string | null;
  status: string;
  reason: string;
}

export const SubscriberQueries = queries('subscribers', {
  // ---- people (subscribers.service.ts) ----
  topicRefs: sql<[], { key: string; id: string; archived: boolean }>(
    'Every topic by key: input names topics by key, consent records hold ids.',
    `SELECT key, id, archived FROM topics`,
  ),
  suppressed: sql<[emailHashes: Buffer[]], { email_hash: Buffer; created_at: Date }>(
    'Which of these addresses belong to erased people, and since when (they may come back only with newer consent).',
    `SELECT email_hash, created_at FROM suppressions WHERE email_hash = ANY($1::bytea[])`,
  ),
  byId: sql<[id: string], Subscriber>('One subscriber as the API shows them.', `SELECT ${SUBSCRIBER} FROM subscribers s WHERE s.id = $1`),
  list: sql<
    [status: string | null, locale: string | null, cadence: string | null, email: string | null, after: string | null, topic: string | null, limit: number],
    Subscriber
  >(
    'A page of subscribers by id (keyset: after the cursor), each filter applying only when given; planned per call with its values, so an absent filter costs nothing.',
    `SELECT ${SUBSCRIBER} FROM subscribers s
     WHERE ($1::text IS NULL OR s.status = $1) AND ($2::text IS NULL OR s.locale = $2) AND ($3::text IS NULL OR s.cadence = $3)
       AND ($4::text IS NULL OR s.email = $4) AND ($5::uuid IS NULL OR s.id > $5)
       AND ($6::text IS NULL OR EXISTS (SELECT 1 FROM topic_subscriptions ts JOIN topics t ON t.id = ts.topic_id
                                        WHERE ts.subscriber_id = s.id AND t.key = $6 AND ts.status = 'confirmed'))
     ORDER BY s.id LIMIT $7`,
  ),
  lockForUpdate: sql<[id: string], { status: string; confirmed_at: Date | null }>(
    'The subscriber a PATCH changes, locked.',
    `SELECT status, confirmed_at FROM subscribers WHERE id = $1 FOR UPDATE`,
  ),
  update: sql<
    [
      id: string,
      locale: string | null,
      timeZone: string | null,
      cadence: string | null,
      weekday: number | null,
      hour: number | null,
      attributes: string | null,
      status: string | null,
      at: Date,
    ]
  >(
    'A PATCH by an API key: a null keeps the column; a new status ends any pause and is stamped when it differs.',
    `UPDATE subscribers SET
       locale = coalesce($2, locale), time_zone = coalesce($3, time_zone), cadence = coalesce($4, cadence),
       digest_weekday = coalesce($5, digest_weekday), digest_hour = coalesce($6, digest_hour),
       attributes = coalesce($7::jsonb, attributes),
       status = coalesce($8, status),
       status_changed_at = CASE WHEN $8::text IS NOT NULL AND $8::text <> status THEN $9 ELSE status_changed_at END,
       paused_until = CASE WHEN $8::text IS NULL THEN paused_until ELSE NULL END,
       updated_at = $9
     WHERE id = $1`,
  ),
  email: sql<[id: string], { email: string }>("A subscriber's address.", `SELECT email FROM subscribers WHERE id = $1`),
  revokeOtherTopics: sql<[id: string, keep: string[], at: Date, apiKeyId: string | null]>(
    "Replacing a subscriber's topics through the API: every topic not in the new list is revoked, recorded with the key.",
    `UPDATE topic_subscriptions SET status = 'revoked', revoked_at = $3, revocation_source = 'api', revoked_api_key_id = $4
     WHERE subscriber_id = $1 AND status <> 'revoked' AND NOT (topic_id = ANY($2::uuid[]))`,
  ),
  erase: sql<[id: string], { email: string }>(
    'GDPR erasure: the person and everything hanging off them go (cascade); the address is returned for its hash.',
    `DELETE FROM subscribers WHERE id = $1 RETURNING email`,
  ),
  suppress: sql<[emailHash: Buffer, at: Date]>(
    'What stays after an erasure: the hash of the address, so no path makes the person again without fresh consent.',
    `INSERT INTO suppressions (email_hash, reason, created_at) VALUES ($1, 'erased', $2)
     ON CONFLICT (email_hash) DO UPDATE SET created_at = EXCLUDED.created_at`,
  ),
  exportDeliveries: sql<[id: string], DecisionRow & { message_id: string | null }>(
    'GDPR export: every mail decision about the person.',
    `SELECT d.id, d.created_at, d.sent_at, d.class, d.kind, t.key AS topic, d.ref_id, d.status, d.reason, d.message_id
     FROM deliveries d LEFT JOIN topics t ON t.id = d.topic_id WHERE d.subscriber_id = $1 ORDER BY d.id`,
  ),
  exportRegistrations: sql<[id: string]>(
    'GDPR export: webinar registrations.',
    `SELECT r.id, w.slug AS webinar, r.status, r.source, r.registered_at, r.unregistered_at, r.attended
     FROM webinar_registrations r JOIN webinars w ON w.id = r.webinar_id WHERE r.subscriber_id = $1 ORDER BY r.registered_at`,
  ),
  eraseRegistrationRequests: sql<[email: string]>(
    'With an erasure, what the public webinar form recorded for the address (asked-for registrations) goes too.',
    `DELETE FROM webinar_registration_requests WHERE email = $1`,
  ),
  exportRegistrationRequests: sql<[id: string]>(
    'GDPR export: webinar registrations the person asked for on the public form (by their address).',
    `SELECT w.slug AS webinar, q.status, q.locale, q.time_zone, q.first_name, q.series, host(q.ip) AS ip, q.user_agent, q.mails,
            q.last_mail_at, q.confirmed_at, q.created_at
     FROM webinar_registration_requests q JOIN webinars w ON w.id = q.webinar_id
     WHERE q.email = (SELECT email FROM subscribers WHERE id = $1) ORDER BY q.created_at`,
  ),
  exportConsentProof: sql<[id: string]>(
    'GDPR export: the double opt-in evidence.',
    `SELECT confirmed_at, host(confirmation_ip) AS confirmation_ip, confirmation_user_agent FROM subscribers WHERE id = $1`,
  ),
  exportFeedback: sql<[id: string]>(
    'GDPR export: what the person told us (ratings and comments).',
    `SELECT f.item_type, f.item_id, t.key AS topic, f.rating, f.comment, f.created_at, f.updated_at
     FROM feedback f JOIN topics t ON t.id = f.topic_id WHERE f.subscriber_id = $1 ORDER BY f.created_at`,
  ),
  exportSuggestions: sql<[id: string]>(
    'GDPR export: topic suggestions.',
    `SELECT text, created_at FROM topic_suggestions WHERE subscriber_id = $1 ORDER BY id`,
  ),
  exportDropQuestions: sql<[id: string]>(
    'GDPR export: answers to "drop this topic?".',
    `SELECT t.key AS topic, p.asked_at, p.answer, p.answered_at FROM drop_topic_prompts p JOIN topics t ON t.id = p.topic_id
     WHERE p.subscriber_id = $1 ORDER BY p.id`,
  ),
  subscriptions: sql<[ids: string[]], SubscriptionRow>(
    'The consent records of these subscribers, each with the names of the API keys that wrote or revoked it (keys are never deleted).',
    `SELECT ts.subscriber_id, t.key AS topic, ts.status, ts.consented_at, ts.consent_source, host(ts.consent_ip) AS consent_ip,
            ts.consent_user_agent, ts.consent_text_version, ts.confirmed_at, ts.revoked_at, ts.revocation_source,
            ts.consent_api_key_id, ck.name AS consent_api_key_name, ts.revoked_api_key_id, rk.name AS revoked_api_key_name
     FROM topic_subscriptions ts JOIN topics t ON t.id = ts.topic_id
     LEFT JOIN api_keys ck ON ck.id = ts.consent_api_key_id
     LEFT JOIN api_keys rk ON rk.id = ts.revoked_api_key_id
     WHERE ts.subscriber_id = ANY($1::uuid[])
     ORDER BY t.key`,
  ),
  // ---- timeline (timeline.service.ts) ----
  cadenceOf: sql<[id: string], { id: string; cadence: string }>(
    "A subscriber's cadence, and whether they exist.",
    `SELECT id, cadence FROM subscribers WHERE id = $1`,
  ),
  timeline: sql<[id: string, limit: number, before: string | null], DecisionRow & { updated_at: Date; next_attempt_at: Date; attempts: number }>(
    'Every decision about the person, newest first, a page before the cursor (index on subscriber_id, id).',
    `SELECT d.id, d.updated_at, d.created_at, d.class, d.kind, t.key AS topic, d.ref_id, d.status, d.reason,
            d.next_attempt_at, d.sent_at, d.attempts
     FROM deliveries d LEFT JOIN topics t ON t.id = d.topic_id
     WHERE d.subscriber_id = $1 AND ($3::bigint IS NULL OR d.id < $3)
     ORDER BY d.id DESC LIMIT $2`,
  ),
  earlierHistory: sql<[id: string], { class: string; status: string; n: string; first_at: Date; last_at: Date }>(
    "The person's decisions of the months past the decision log's retention, counted when each month was dropped (subscriber_history).",
    `SELECT class, status, n::text AS n, first_at, last_at FROM subscriber_history WHERE subscriber_id = $1 ORDER BY class, status`,
  ),
  customerChoices: sql<
    [id: string],
    { at: Date; action: 'rated' | 'dropped_topic'; topic: string; rating: string | null; item_type: string | null; item_id: string | null }
  >(
    "The person's own choices beside our decisions: ratings and topics they dropped when we asked, the latest 100.",
    `SELECT * FROM (
       SELECT f.updated_at AS at, 'rated' AS action, t.key AS topic, f.rating, f.item_type, f.item_id::text
       FROM feedback f JOIN topics t ON t.id = f.topic_id WHERE f.subscriber_id = $1
       UNION ALL
       SELECT p.answered_at, 'dropped_topic', t.key, NULL, NULL, NULL
       FROM drop_topic_prompts p JOIN topics t ON t.id = p.topic_id WHERE p.subscriber_id = $1 AND p.answer = 'dropped') c
     ORDER BY at DESC LIMIT 100`,
  ),
  mailEvents: sql<
    [id: string],
    {
      received_at: Date;
      occurred_at: Date;
      kind: MailEventKind;
      source: MailEventSource;
      outcome: MailEventOutcome;
      delivery_id: string | null;
      message_id: string | null;
      status_code: string | null;
      diagnostic: string | null;
    }
  >(
    'What the mail world said back about the person (bounces, complaints, unsubscribe mail, provider events): the evidence behind a suppression, the latest 100.',
    `SELECT received_at, occurred_at, kind, source, outcome, delivery_id::text, message_id, status_code, diagnostic
     FROM mail_events WHERE subscriber_id = $1 ORDER BY id DESC LIMIT 100`,
  ),
  // ---- writing people and consent (subscriber-rows.ts) ----
  insertSubscribers: sql<WriteSubscribersParams, Written>(
    'New people only, set-based (an address that exists is left alone): public forms and webinar registrations.',
    `WITH ${WRITE_INPUT}, ${WRITE_NO_UPDATE} ${WRITE_INSERT}`,
  ),
  upsertSubscribers: sql<WriteSubscribersParams, Written>(
    'New people, and existing ones updated by address, set-based: the API and imports. A status moves only from pending to active (consent evidence); an unsubscribed, bounced or complained person is never re-activated here.',
    `WITH ${WRITE_INPUT}, ${WRITE_UPDATE} ${WRITE_INSERT}`,
  ),
  writeTopicConsent: sql<
    [
      subscriberIds: string[],
      topicIds: string[],
      sources: string[],
      confirmedAts: (Date | null)[],
      ips: (string | null)[],
      userAgents: (string | null)[],
      textVersions: (string | null)[],
      now: Date,
      apiKeyId: string | null,
    ]
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
});
