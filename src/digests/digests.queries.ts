// The digests domain's statements (docs/SQL.md): digest items; composition at each subscriber's
// slot (claimed in SKIP LOCKED batches, set-based per step); and what the hand-over re-checks,
// composes and settles for a digest.
import { digestKeySql, reserveSql } from '../cadence/window.queries';
import { queries, sql } from '../database/statements';
import type { Rating } from '../feedback/feedback.policy';
import type { Locale } from '../config/config';

export interface DigestItemRow {
  id: string;
  topic: string;
  sender: string;
  priority: number;
  title_de: string | null;
  title_en: string | null;
  summary_de: string | null;
  summary_en: string | null;
  url: string | null;
  publish_at: Date;
  expires_at: Date | null;
  created_at: Date;
}

const ITEM = `SELECT i.*, t.key AS topic FROM digest_items i JOIN topics t ON t.id = i.topic_id`;

/** A subscriber whose digest slot has come, with the end of the window a campaign may hold. */
export interface DueSubscriber {
  id: string;
  locale: Locale;
  next_digest_at: Date;
  window_opens: Date | null;
}

/** A digest candidate as composition reads it: an item or a deferred campaign delivery (ref). */
export interface CandidateRow {
  subscriber_id: string;
  type: 'item' | 'campaign';
  ref: string;
  topic_id: string;
  priority: number;
  expires_at: Date | null;
  fresh: Date;
}

/** One entry of a digest as it is shown, in the customer's language. */
export interface DigestEntryRow {
  ref: string;
  item_type: 'digest_item' | 'campaign';
  item_id: string;
  topic_id: string;
  topic: string;
  title: string;
  summary: string;
  url: string | null;
  priority: number;
  fresh: Date;
}

export const DigestQueries = queries('digests', {
  createItem: sql<
    [
      topicId: string,
      sender: string,
      priority: number,
      titleDe: string | null,
      titleEn: string | null,
      summaryDe: string | null,
      summaryEn: string | null,
      url: string | null,
      publishAt: Date,
      expiresAt: string | null,
      at: Date,
    ],
    { id: string }
  >(
    'A piece that goes only into digests; composition picks it up for every subscriber of its topic from publish_at on.',
    `INSERT INTO digest_items (topic_id, sender, priority, title_de, title_en, summary_de, summary_en, url, publish_at, expires_at, created_at)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) RETURNING id`,
  ),
  item: sql<[id: string], DigestItemRow>('One digest item with its topic key, as the API shows it.', `${ITEM} WHERE i.id = $1`),
  listItems: sql<[topicKey: string | null, limit: number], DigestItemRow>(
    'Digest items newest first, of one topic or all.',
    `${ITEM} WHERE ($1::text IS NULL OR t.key = $1) ORDER BY i.publish_at DESC LIMIT $2`,
  ),

  // ---- composition at the slot ----
  claimDue: sql<[now: Date, limit: number], DueSubscriber>(
    "A batch of subscribers whose slot has come, oldest slot first, locked with SKIP LOCKED: any number of instances compose disjoint subscribers at once. The window's end is read with them, so a digest whose window a campaign holds moves on without composing.",
    `SELECT s.id, s.locale, s.next_digest_at,
            CASE WHEN w.last_marketing_at > '-infinity'
                 THEN tactful_window_end(w.last_marketing_at, s.time_zone, tactful_window_days(s.cadence)) END AS window_opens
     FROM subscribers s LEFT JOIN cadence_windows w ON w.subscriber_id = s.id
     WHERE s.status = 'active' AND s.next_digest_at <= $1
     ORDER BY s.next_digest_at LIMIT $2
     FOR UPDATE OF s SKIP LOCKED`,
  ),
  candidates: sql<[subscriberIds: string[], now: Date], CandidateRow>(
    "Everything a batch's digests may carry, in one statement: each unexpired item on a confirmed topic not received before (a week's grace before the subscription: news from before it are not news to them), and each campaign deferred into the next digest and not folded into one yet.",
    `SELECT ts.subscriber_id, 'item' AS type, i.id::text AS ref, i.topic_id, i.priority, i.expires_at, i.publish_at AS fresh
     FROM topic_subscriptions ts
     JOIN digest_items i ON i.topic_id = ts.topic_id
     WHERE ts.subscriber_id = ANY($1::uuid[]) AND ts.status = 'confirmed'
       AND i.publish_at <= $2 AND (i.expires_at IS NULL OR i.expires_at > $2)
       AND i.publish_at >= ts.confirmed_at - interval '7 days'
       AND NOT EXISTS (SELECT 1 FROM digest_entries e WHERE e.subscriber_id = ts.subscriber_id AND e.item_id = i.id)
     UNION ALL
     SELECT d.subscriber_id, 'campaign', d.id::text, d.topic_id, d.priority, d.expires_at, d.created_at
     FROM deliveries d
     JOIN topic_subscriptions ts ON ts.subscriber_id = d.subscriber_id AND ts.topic_id = d.topic_id AND ts.status = 'confirmed'
     WHERE d.subscriber_id = ANY($1::uuid[]) AND d.status = 'deferred' AND d.kind = 'campaign' AND d.digest_delivery_id IS NULL
       AND (d.expires_at IS NULL OR d.expires_at > $2)`,
  ),
  recentRatings: sql<[subscriberIds: string[]], { subscriber_id: string; topic_id: string; rating: Rating; created_at: Date; last_asked: Date | null }>(
    'The last two ratings per subscriber and still chosen topic, newest first, with when we last asked about dropping it: shouldAskToDrop() decides from them.',
    `SELECT f.subscriber_id, f.topic_id, f.rating, f.created_at,
            (SELECT max(p.asked_at) FROM drop_topic_prompts p WHERE p.subscriber_id = f.subscriber_id AND p.topic_id = f.topic_id) AS last_asked
     FROM (SELECT *, row_number() OVER (PARTITION BY subscriber_id, topic_id ORDER BY created_at DESC) AS n
           FROM feedback WHERE subscriber_id = ANY($1::uuid[])) f
     JOIN topic_subscriptions ts ON ts.subscriber_id = f.subscriber_id AND ts.topic_id = f.topic_id AND ts.status = 'confirmed'
     WHERE f.n <= 2
     ORDER BY f.subscriber_id, f.topic_id, f.created_at DESC`,
  ),
  supersedeDeferred: sql<[subscriberIds: string[], reason: string, at: Date]>(
    "A digest that lost its hand-over waited, deferred, for the next one (its entries went back to the candidates): this slot's decision replaces it.",
    `UPDATE deliveries SET status = 'suppressed', reason = $2, updated_at = $3
     WHERE subscriber_id = ANY($1::uuid[]) AND status = 'deferred' AND kind = 'digest'`,
  ),
  recordEmpty: sql<[subscriberIds: string[], locales: string[], slots: Date[], reason: string, at: Date]>(
    "Nothing new: no mail, but the decision is stored (suppressed, under the slot's digest key, so a second composer of the same slot writes nothing).",
    `WITH input AS (SELECT * FROM unnest($1::uuid[], $2::text[], $3::timestamptz[]) AS t(subscriber_id, locale, slot))
     INSERT INTO deliveries (subscriber_id, class, kind, locale, status, reason, idempotency_key, next_attempt_at, created_at, updated_at)
     SELECT subscriber_id, 'marketing', 'digest', locale, 'suppressed', $4,
            ${digestKeySql('subscriber_id', 'slot')}, $5, $5, $5
     FROM input`,
  ),
  nextSlotAfterEmpty: sql<[subscriberIds: string[], now: Date]>(
    'After an empty slot the next slot comes (no window was taken).',
    `UPDATE subscribers SET next_digest_at = tactful_next_slot(greatest(next_digest_at, $2::timestamptz) + interval '1 minute', time_zone, digest_weekday, digest_hour)
     WHERE id = ANY($1::uuid[])`,
  ),
  reserveWindows: sql<[subscriberIds: string[], now: Date, slots: Date[]], { subscriber_id: string }>(
    "Takes the window for each digest with content: the same compare-and-set as a campaign's (cadence/window.queries.ts), so of a digest and a campaign racing for one window exactly one wins; a lost race waits for the next free day. Reserved under the digest delivery's own key (its subscriber and slot, as queueDigests writes it), so a digest refused at its hand-over gives the window back.",
    `WITH eligible AS (
       SELECT s.id, s.cadence, s.time_zone, i.slot FROM unnest($1::uuid[], $3::timestamptz[]) AS i(id, slot) JOIN subscribers s ON s.id = i.id)
     ${reserveSql('eligible', '$2::timestamptz', digestKeySql('e.id', 'e.slot'))}`,
  ),
  postpone: sql<[subscriberIds: string[], now: Date]>(
    'A window held by another mail: the digest moves to the slot hour of the first day the window is free again (never skipped, never doubled).',
    `UPDATE subscribers s SET next_digest_at = tactful_next_digest(
        tactful_window_end(w.last_marketing_at, s.time_zone, tactful_window_days(s.cadence)), $2, s.time_zone, s.digest_weekday, s.digest_hour)
     FROM cadence_windows w WHERE w.subscriber_id = s.id AND s.id = ANY($1::uuid[])`,
  ),
  queueDigests: sql<
    [subscriberIds: string[], locales: string[], slots: Date[], payloads: string[], now: Date, spreadSeconds: number],
    { id: string; subscriber_id: string }
  >(
    'The digests that won their window, queued in one statement under one key per subscriber and slot (a second composer of the slot inserts nothing). Overdue after downtime: spread over the catch-up period by a hash of the subscriber, instead of one burst.',
    `WITH input AS (
       SELECT * FROM unnest($1::uuid[], $2::text[], $3::timestamptz[], $4::jsonb[]) AS t(subscriber_id, locale, slot, payload))
     INSERT INTO deliveries (subscriber_id, class, kind, locale, status, reason, idempotency_key, payload, next_attempt_at, created_at, updated_at)
     SELECT i.subscriber_id, 'marketing', 'digest', i.locale, 'queued', 'queued',
            ${digestKeySql('i.subscriber_id', 'i.slot')},
            i.payload,
            CASE WHEN i.slot < $5::timestamptz - interval '1 hour' AND $6::int > 0
                 THEN $5::timestamptz + make_interval(secs => abs(hashtext(i.subscriber_id::text)) % $6::int)
                 ELSE $5::timestamptz END,
            $5, $5
     FROM input i
     RETURNING id, subscriber_id`,
  ),
  askDropQuestions: sql<[subscriberIds: string[], topicIds: string[], digestIds: string[], at: Date]>(
    'The "drop this topic?" questions asked in each digest; if the digest does not go, dropUnansweredQuestions takes them back.',
    `INSERT INTO drop_topic_prompts (subscriber_id, topic_id, digest_delivery_id, asked_at)
     SELECT s, t, d, $4 FROM unnest($1::uuid[], $2::uuid[], $3::bigint[]) AS x(s, t, d)`,
  ),
  linkItems: sql<[subscriberIds: string[], itemIds: string[], digestIds: string[]]>(
    'The items each digest carries: received once, never again in a later digest (unless this one does not go: unlinkItems).',
    `INSERT INTO digest_entries (subscriber_id, item_id, delivery_id)
     SELECT * FROM unnest($1::uuid[], $2::uuid[], $3::bigint[]) ON CONFLICT DO NOTHING`,
  ),
  foldCampaigns: sql<[campaignDeliveryIds: string[], digestIds: string[], at: Date]>(
    'Each deferred campaign folded into a digest points at it: sent through it, or free again if it does not go.',
    `UPDATE deliveries d SET digest_delivery_id = f.digest, updated_at = $3
     FROM unnest($1::bigint[], $2::bigint[]) AS f(id, digest) WHERE d.id = f.id`,
  ),
  markOverflow: sql<[campaignDeliveryIds: string[], reason: string, at: Date]>(
    'Deferred campaigns that did not fit into a full digest say so (they wait for the next one).',
    `UPDATE deliveries SET reason = $2, updated_at = $3 WHERE id = ANY($1::bigint[]) AND status = 'deferred'`,
  ),
  nextAfterDigest: sql<[subscriberIds: string[], now: Date]>(
    "Next digest: after this one's window (the trigger's rule, applied from this digest's slot).",
    `UPDATE subscribers s SET next_digest_at = tactful_next_digest(
        tactful_window_end(greatest(s.next_digest_at, $2::timestamptz), s.time_zone, tactful_window_days(s.cadence)),
        $2, s.time_zone, s.digest_weekday, s.digest_hour)
     WHERE s.id = ANY($1::uuid[])`,
  ),

  // ---- at hand-over ----
  itemsStillWanted: sql<[subscriberId: string, itemIds: string[]], { ref: string }>(
    "Consent re-checked per entry at hand-over: the digest's items whose topic the subscriber still confirms.",
    `SELECT i.id::text AS ref FROM digest_items i
     JOIN topic_subscriptions ts ON ts.topic_id = i.topic_id AND ts.subscriber_id = $1 AND ts.status = 'confirmed'
     WHERE i.id = ANY($2::uuid[])`,
  ),
  campaignsStillWanted: sql<[campaignDeliveryIds: string[]], { ref: string }>(
    "The digest's folded campaigns still deferred (not cancelled since) and on a topic still confirmed.",
    `SELECT d.id::text AS ref FROM deliveries d
     JOIN topic_subscriptions ts ON ts.topic_id = d.topic_id AND ts.subscriber_id = d.subscriber_id AND ts.status = 'confirmed'
     WHERE d.id = ANY($1::bigint[]) AND d.status = 'deferred'`,
  ),
  entries: sql<[itemIds: string[], campaignDeliveryIds: string[], german: boolean], DigestEntryRow>(
    "A digest's entries as the mail shows them, in the customer's language (the other one where a text is missing): its items, and its folded campaigns by their digest summary.",
    `SELECT i.id::text AS ref, 'digest_item' AS item_type, i.id::text AS item_id, t.id AS topic_id, CASE WHEN $3 THEN t.name_de ELSE t.name_en END AS topic,
            CASE WHEN $3 THEN coalesce(i.title_de, i.title_en) ELSE coalesce(i.title_en, i.title_de) END AS title,
            CASE WHEN $3 THEN coalesce(i.summary_de, i.summary_en, '') ELSE coalesce(i.summary_en, i.summary_de, '') END AS summary,
            i.url, i.priority::int AS priority, i.publish_at AS fresh
     FROM digest_items i JOIN topics t ON t.id = i.topic_id WHERE i.id = ANY($1::uuid[])
     UNION ALL
     SELECT d.id::text, 'campaign', c.id::text, t.id, CASE WHEN $3 THEN t.name_de ELSE t.name_en END,
            CASE WHEN $3 THEN coalesce(c.subject_de, c.subject_en) ELSE coalesce(c.subject_en, c.subject_de) END,
            CASE WHEN $3 THEN coalesce(c.digest_summary_de, c.digest_summary_en, '') ELSE coalesce(c.digest_summary_en, c.digest_summary_de, '') END,
            c.digest_url, d.priority::int, d.created_at
     FROM deliveries d JOIN campaigns c ON c.id::text = d.ref_id JOIN topics t ON t.id = d.topic_id WHERE d.id = ANY($2::bigint[])`,
  ),
  topicScores: sql<[subscriberId: string], { topic_id: string; useful: number; not_useful: number }>(
    "The customer's own ratings per topic: they order the digest's sections (priority and freshness break ties).",
    `SELECT topic_id, count(*) FILTER (WHERE rating = 'useful')::int AS useful, count(*) FILTER (WHERE rating = 'not_useful')::int AS not_useful
     FROM feedback WHERE subscriber_id = $1 GROUP BY topic_id`,
  ),
  dropQuestions: sql<[topicIds: string[], subscriberId: string, german: boolean], { id: string; name: string }>(
    'The topics the digest asks about dropping, by name: a question about a topic the customer dropped meanwhile is not asked.',
    `SELECT t.id, CASE WHEN $3 THEN t.name_de ELSE t.name_en END AS name FROM topics t
     JOIN topic_subscriptions ts ON ts.topic_id = t.id AND ts.subscriber_id = $2 AND ts.status = 'confirmed'
     WHERE t.id = ANY($1::uuid[]) ORDER BY name`,
  ),
  cadence: sql<[subscriberId: string], { cadence: string }>(
    "The subscriber's cadence: the mail words it (weekly or every two weeks).",
    `SELECT cadence FROM subscribers WHERE id = $1`,
  ),
  foldedSent: sql<[digestId: string, at: Date]>(
    'The digest went: each campaign folded into it counts as sent, through it.',
    `UPDATE deliveries SET status = 'sent', reason = 'sent', sent_at = $2, updated_at = $2 WHERE digest_delivery_id = $1 AND status = 'deferred'`,
  ),
  unfoldCampaigns: sql<[digestId: string]>(
    'The digest will not go: its folded campaigns are free for the next digest.',
    `UPDATE deliveries SET digest_delivery_id = NULL WHERE digest_delivery_id = $1`,
  ),
  unlinkItems: sql<[digestId: string]>(
    'The digest will not go: its items were not received after all, so the next digest may carry them.',
    `DELETE FROM digest_entries WHERE delivery_id = $1`,
  ),
  dropUnansweredQuestions: sql<[digestId: string]>(
    'The digest will not go: its questions were never asked (an answered one stays: the customer answered it).',
    `DELETE FROM drop_topic_prompts WHERE digest_delivery_id = $1 AND answer IS NULL`,
  ),
});
