// Set-based writes of subscribers and their topic consent, shared by the API (one row) and the
// import (thousands per statement). One statement per table per batch; no per-row round trips.
import { EntityManager } from 'typeorm';
import { Locale } from '../config/config';
import type { Cadence } from '../cadence/slots';
import { ConsentSource } from './subscriber.entity';

/** A validated subscriber input; null means "not given" (keep the stored value or use the default). */
export interface SubscriberRow {
  email: string;
  locale: Locale | null;
  timeZone: string | null;
  cadence: Cadence | null;
  digestWeekday: number | null;
  digestHour: number | null;
  attributes: Record<string, unknown> | null;
  topicIds: string[];
  consent: {
    source: ConsentSource;
    confirmedAt: Date | null;
    ip: string | null;
    userAgent: string | null;
    textVersion: string | null;
  };
}

export interface WrittenSubscriber {
  id: string;
  email: string;
  created: boolean;
}

export interface WriteDefaults {
  locale: Locale;
  timeZone: string;
  now: Date;
}

/**
 * Inserts new subscribers and, with `update`, updates existing ones by e-mail. An existing
 * subscriber's status only moves from pending to active (consent evidence); an unsubscribed,
 * bounced or complained person is never re-activated by a write like this.
 */
export async function writeSubscribers(
  tx: EntityManager,
  rows: SubscriberRow[],
  defaults: WriteDefaults,
  update: boolean,
): Promise<WrittenSubscriber[]> {
  if (rows.length === 0) return [];
  const params = [
    rows.map((r) => r.email),
    rows.map((r) => r.locale),
    rows.map((r) => r.timeZone),
    rows.map((r) => r.cadence),
    rows.map((r) => r.digestWeekday),
    rows.map((r) => r.digestHour),
    rows.map((r) => (r.attributes === null ? null : JSON.stringify(r.attributes))),
    rows.map((r) => r.consent.source),
    rows.map((r) => r.consent.confirmedAt),
    defaults.locale,
    defaults.timeZone,
    defaults.now,
  ];
  const input = `
    input AS (
      SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::int[], $6::int[], $7::jsonb[], $8::text[], $9::timestamptz[])
        AS t(email, locale, time_zone, cadence, digest_weekday, digest_hour, attributes, source, confirmed_at)
    )`;
  const updated = update
    ? `updated AS (
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
      ),`
    : `updated AS (SELECT NULL::uuid AS id, NULL::text AS email, false AS created WHERE false),`;
  const sql = `
    WITH ${input}, ${updated}
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
  return tx.query(sql, params);
}

/**
 * Records consent for each (subscriber, topic). A confirmed consent never falls back to pending;
 * a revoked one (an opt-out) is only confirmed again by evidence newer than the opt-out.
 * `apiKeyId`: the key that sent the rows, kept with each record it writes.
 */
export async function writeTopicConsent(
  tx: EntityManager,
  rows: SubscriberRow[],
  idsByEmail: Map<string, string>,
  now: Date,
  apiKeyId: string | null = null,
): Promise<void> {
  const pairs = rows.flatMap((row) => {
    const subscriberId = idsByEmail.get(row.email);
    return subscriberId ? row.topicIds.map((topicId) => ({ subscriberId, topicId, consent: row.consent })) : [];
  });
  if (pairs.length === 0) return;
  await tx.query(
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
    [
      pairs.map((p) => p.subscriberId),
      pairs.map((p) => p.topicId),
      pairs.map((p) => p.consent.source),
      pairs.map((p) => p.consent.confirmedAt),
      pairs.map((p) => p.consent.ip),
      pairs.map((p) => p.consent.userAgent),
      pairs.map((p) => p.consent.textVersion),
      now,
      apiKeyId,
    ],
  );
}
