// The preferences domain's statements (docs/SQL.md): the customer's page and every change they
// make there in one step. The page's and the save's statements run on every page view and save:
// prepared (PostgreSQL plans them once per connection; planning was most of their cost).
import { queries, sql } from '../database/statements';
import type { Locale } from '../config/config';
import type { Cadence } from '../cadence/slots';

/** The subscriber's settings both the page and a save read. */
export interface SubscriberSettingsRow {
  locale: Locale;
  time_zone: string;
  cadence: Cadence;
  digest_weekday: number;
  digest_hour: number;
  status: string;
  paused_until: Date | null;
}

export interface PreferencesTopic {
  id: string;
  key: string;
  nameDe: string;
  nameEn: string;
  descriptionDe: string;
  descriptionEn: string;
  subscribed: boolean;
  /** The customer's answers on this topic's items: counts, and the five first rated most recently. */
  ratings: { useful: number; notUseful: number; recent: { rating: 'useful' | 'not_useful'; titleDe: string; titleEn: string }[] } | null;
  /** When the customer dropped this (now revoked) topic in answer to our drop question. */
  droppedAt: Date | null;
}

export interface PageStateRow extends SubscriberSettingsRow {
  id: string;
  email: string;
  last_marketing_at: Date | null;
  // json_build_object: timestamps arrive as ISO strings
  topics: (Omit<PreferencesTopic, 'droppedAt'> & { droppedAt: string | null })[];
  recent: { at: string; kind: string; topicDe: string | null; topicEn: string | null }[];
}

export interface SaveRow extends SubscriberSettingsRow {
  confirmed_at: Date | null;
  topic_id: string | null;
  key: string | null;
  archived: boolean | null;
  topic_status: string | null;
}

const SAVE_SUBSCRIBER_COLUMNS = `s.locale, s.time_zone, s.cadence, s.digest_weekday, s.digest_hour, s.status, s.paused_until, s.confirmed_at`;

export type SaveParams = [
  subscriberId: string,
  topicsOn: string[],
  now: Date,
  grantSource: string,
  grantIp: string | null,
  grantUserAgent: string | null,
  grantApiKeyId: string | null,
  revocationSource: string,
  revocationApiKeyId: string | null,
  topicsOff: string[],
  cadence: Cadence | null,
  digestWeekday: number | null,
  digestHour: number | null,
  timeZone: string | null,
  locale: Locale | null,
  status: string | null,
  setPausedUntil: boolean,
  pausedUntil: Date | null,
  confirmedAtIfNone: Date | null,
  subscriberChanged: boolean,
];

export const PreferenceQueries = queries('preferences', {
  state: sql<[subscriberId: string], PageStateRow>(
    'One subscriber as their preferences page shows them, in one statement — the subscriber, their cadence window (for the next newsletter), every topic they can choose (plus archived ones they still hold) with their subscription, their ratings of its items (counts and titles of their recent ratings) and when they dropped it in answer to our question, and their last five marketing mails. Every part is an index probe by subscriber_id.',
    `SELECT s.id, s.email, s.locale, s.time_zone, s.cadence, s.digest_weekday, s.digest_hour, s.status, s.paused_until,
         (SELECT nullif(w.last_marketing_at, '-infinity') FROM cadence_windows w WHERE w.subscriber_id = $1) AS last_marketing_at,
         (SELECT coalesce(json_agg(json_build_object(
                   'id', t.id, 'key', t.key, 'nameDe', t.name_de, 'nameEn', t.name_en,
                   'descriptionDe', t.description_de, 'descriptionEn', t.description_en,
                   'subscribed', coalesce(ts.status = 'confirmed', false),
                   'droppedAt', CASE WHEN ts.status = 'revoked' THEN
                     (SELECT max(p.answered_at) FROM drop_topic_prompts p WHERE p.subscriber_id = $1 AND p.topic_id = t.id AND p.answer = 'dropped') END,
                   'ratings', (SELECT json_build_object(
                                 'useful', count(*) FILTER (WHERE f.rating = 'useful'),
                                 'notUseful', count(*) FILTER (WHERE f.rating <> 'useful'),
                                 'recent', (SELECT json_agg(json_build_object('rating', r.rating, 'titleDe', coalesce(r.title_de, r.title_en, ''), 'titleEn', coalesce(r.title_en, r.title_de, ''))
                                                    ORDER BY r.created_at DESC)
                                            FROM (SELECT f5.rating, f5.created_at, coalesce(c.subject_de, i.title_de) AS title_de, coalesce(c.subject_en, i.title_en) AS title_en
                                                  FROM feedback f5
                                                  LEFT JOIN campaigns c ON f5.item_type = 'campaign' AND c.id = f5.item_id
                                                  LEFT JOIN digest_items i ON f5.item_type = 'digest_item' AND i.id = f5.item_id
                                                  WHERE f5.subscriber_id = $1 AND f5.topic_id = t.id
                                                  ORDER BY f5.created_at DESC LIMIT 5) r))
                               FROM feedback f WHERE f.subscriber_id = $1 AND f.topic_id = t.id HAVING count(*) > 0)
                 ) ORDER BY t.key), '[]')
          FROM topics t LEFT JOIN topic_subscriptions ts ON ts.topic_id = t.id AND ts.subscriber_id = $1
          WHERE NOT t.archived OR ts.status = 'confirmed') AS topics,
         (SELECT coalesce(json_agg(json_build_object('at', r.sent_at, 'kind', r.kind, 'topicDe', r.name_de, 'topicEn', r.name_en) ORDER BY r.sent_at DESC), '[]')
          FROM (SELECT d.sent_at, d.kind, t.name_de, t.name_en FROM deliveries d LEFT JOIN topics t ON t.id = d.topic_id
                WHERE d.subscriber_id = $1 AND d.status = 'sent' AND d.class = 'marketing' ORDER BY d.sent_at DESC LIMIT 5) r) AS recent
  FROM subscribers s WHERE s.id = $1`,
    { prepared: true },
  ),
  saveLock: sql<[subscriberId: string], SaveRow>(
    "What a save depends on, locked in one statement — the subscriber FOR UPDATE (saves of one customer queue up), and every topic with the customer's subscription status, the topics FOR SHARE in id order (a topic is not archived under a save; shared and in one order, so concurrent saves never deadlock, and foreign-key checks elsewhere are not blocked).",
    `SELECT ${SAVE_SUBSCRIBER_COLUMNS}, t.id AS topic_id, t.key, t.archived, ts.status AS topic_status
  FROM subscribers s
  JOIN topics t ON true
  LEFT JOIN topic_subscriptions ts ON ts.topic_id = t.id AND ts.subscriber_id = s.id
  WHERE s.id = $1
  ORDER BY t.id
  FOR UPDATE OF s FOR SHARE OF t`,
    { prepared: true },
  ),
  lockSubscriber: sql<[subscriberId: string], SaveRow>(
    'A save when no topic exists at all (the join of saveLock is empty): the subscriber alone, locked.',
    `SELECT ${SAVE_SUBSCRIBER_COLUMNS}, NULL::uuid AS topic_id, NULL::text AS key, NULL::boolean AS archived, NULL::text AS topic_status
     FROM subscribers s WHERE s.id = $1 FOR UPDATE`,
    { prepared: true },
  ),
  save: sql<SaveParams>(
    'Every change of a save in one statement, one text for every combination (so it is prepared once): topics chosen get a new consent record whole (no evidence of an earlier consent mixed in), topics dropped are revoked, and the subscriber row changes only when $20 says so, a null keeping a column. Empty topic arrays write nothing.',
    `WITH topics_on AS (
       INSERT INTO topic_subscriptions (subscriber_id, topic_id, status, consented_at, consent_source, consent_ip, consent_user_agent, consent_api_key_id, confirmed_at)
       SELECT $1, unnest($2::uuid[]), 'confirmed', $3::timestamptz, $4::text, $5::inet, left($6::text, 500), $7::uuid, $3::timestamptz
       ON CONFLICT (subscriber_id, topic_id) DO UPDATE SET status = 'confirmed', consented_at = $3::timestamptz, consent_source = $4::text,
         consent_ip = $5::inet, consent_user_agent = left($6::text, 500), consent_api_key_id = $7::uuid, consent_text_version = NULL,
         confirmed_at = $3::timestamptz, revoked_at = NULL, revocation_source = NULL, revoked_api_key_id = NULL),
     topics_off AS (
       UPDATE topic_subscriptions SET status = 'revoked', revoked_at = $3::timestamptz, revocation_source = $8::text, revoked_api_key_id = $9::uuid
       WHERE subscriber_id = $1 AND topic_id = ANY($10::uuid[]))
     UPDATE subscribers SET cadence = coalesce($11::text, cadence), digest_weekday = coalesce($12::int, digest_weekday), digest_hour = coalesce($13::int, digest_hour),
       time_zone = coalesce($14::text, time_zone), locale = coalesce($15::text, locale), status = coalesce($16::text, status),
       paused_until = CASE WHEN $17::boolean THEN $18::timestamptz ELSE paused_until END,
       confirmed_at = coalesce(confirmed_at, $19::timestamptz), updated_at = $3::timestamptz,
       status_changed_at = CASE WHEN $16::text IS NOT NULL AND status <> $16::text THEN $3::timestamptz ELSE status_changed_at END
     WHERE id = $1 AND $20::boolean`,
    { prepared: true },
  ),
  lockStatus: sql<[subscriberId: string], { status: string }>(
    'One-click unsubscribe: the status, locked (a save of the same person queues up).',
    `SELECT status FROM subscribers WHERE id = $1 FOR UPDATE`,
  ),
  unsubscribe: sql<[subscriberId: string, at: Date]>(
    'RFC 8058 one-click: the person is unsubscribed and any pause ends; the send-time gate suppresses what is queued.',
    `UPDATE subscribers SET status = 'unsubscribed', paused_until = NULL, status_changed_at = $2, updated_at = $2 WHERE id = $1`,
  ),
  revokeAllTopics: sql<[subscriberId: string, at: Date]>(
    'With the unsubscribe, every topic is revoked, recorded as done through the unsubscribe link.',
    `UPDATE topic_subscriptions SET status = 'revoked', revoked_at = $2, revocation_source = 'unsubscribe_link', revoked_api_key_id = NULL
     WHERE subscriber_id = $1 AND status <> 'revoked'`,
  ),
  resumeEndedPauses: sql<[now: Date]>(
    'Pauses that ran out end by themselves (a scheduler job), set-based.',
    `UPDATE subscribers SET status = 'active', paused_until = NULL, status_changed_at = $1, updated_at = $1
     WHERE status = 'paused' AND paused_until IS NOT NULL AND paused_until <= $1`,
  ),
});
