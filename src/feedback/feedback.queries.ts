// The feedback domain's statements (docs/SQL.md): answers on items, topic suggestions, the
// "drop this topic?" question, and what marketers may read of them (never who said what).
import { queries, sql } from '../database/statements';
import type { Locale } from '../config/config';
import type { Rating } from './feedback.policy';

type Week = { week: string; useful: number; not_useful: number };
type Comment = { updated_at: Date; rating: Rating; comment: string; item_type: string; item_id: string };

/** The weekly trend (ISO weeks, Monday, UTC) of the answers matching `where` (over feedback f). */
const weeks = (where: string) => `SELECT to_char(date_trunc('week', f.created_at AT TIME ZONE 'UTC'), 'YYYY-MM-DD') AS week,
         count(*) FILTER (WHERE f.rating = 'useful')::int AS useful, count(*) FILTER (WHERE f.rating = 'not_useful')::int AS not_useful
  FROM feedback f WHERE ${where} GROUP BY 1 ORDER BY 1`;
/** The newest 100 comments of the answers matching `where`. */
const comments = (where: string) => `SELECT f.updated_at, f.rating, f.comment, f.item_type, f.item_id FROM feedback f
  WHERE ${where} AND f.comment IS NOT NULL ORDER BY f.updated_at DESC LIMIT 100`;

export const FeedbackQueries = queries('feedback', {
  subscriberLocale: sql<[id: string], { id: string; locale: Locale }>(
    'The person a feedback link names, and their language.',
    `SELECT id, locale FROM subscribers WHERE id = $1`,
  ),
  campaignItem: sql<[id: string, german: boolean], { title: string | null; topic_id: string }>(
    "A campaign's subject in the reader's language (the other one when missing), and its topic.",
    `SELECT CASE WHEN $2 THEN coalesce(c.subject_de, c.subject_en) ELSE coalesce(c.subject_en, c.subject_de) END AS title, c.topic_id
     FROM campaigns c WHERE c.id = $1`,
  ),
  digestItem: sql<[id: string, german: boolean], { title: string | null; topic_id: string }>(
    "A digest item's title in the reader's language (the other one when missing), and its topic.",
    `SELECT CASE WHEN $2 THEN coalesce(i.title_de, i.title_en) ELSE coalesce(i.title_en, i.title_de) END AS title, i.topic_id
     FROM digest_items i WHERE i.id = $1`,
  ),
  topicForReader: sql<[topicId: string, subscriberId: string, german: boolean], { id: string; name: string; subscribed: boolean }>(
    "The item's topic in the reader's language, and whether they still have it.",
    `SELECT t.id, CASE WHEN $3 THEN t.name_de ELSE t.name_en END AS name, coalesce(ts.status = 'confirmed', false) AS subscribed
     FROM topics t LEFT JOIN topic_subscriptions ts ON ts.topic_id = t.id AND ts.subscriber_id = $2 WHERE t.id = $1`,
  ),
  answer: sql<[subscriberId: string, itemType: string, itemId: string], { rating: Rating; comment: string | null }>(
    "The reader's current answer on an item.",
    `SELECT rating, comment FROM feedback WHERE subscriber_id = $1 AND item_type = $2 AND item_id = $3`,
  ),
  record: sql<
    [subscriberId: string, itemType: string, itemId: string, topicId: string, rating: string, comment: string | null, at: Date],
    { inserted: boolean }
  >(
    'One answer per subscriber and item: the first POST records it, a later one replaces it (xmax = 0: this statement inserted the row).',
    `INSERT INTO feedback (subscriber_id, item_type, item_id, topic_id, rating, comment, created_at, updated_at)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $7)
     ON CONFLICT (subscriber_id, item_type, item_id) DO UPDATE SET rating = EXCLUDED.rating, comment = EXCLUDED.comment, updated_at = EXCLUDED.updated_at
     RETURNING (xmax = 0) AS inserted`,
  ),
  lockSubscriber: sql<[id: string], { status: string }>(
    'The person dropping a topic, locked (a save of theirs queues up).',
    `SELECT status FROM subscribers WHERE id = $1 FOR UPDATE`,
  ),
  revokeTopic: sql<[subscriberId: string, topicId: string, at: Date]>(
    'The answer "drop it" revokes the topic, recorded as the person\'s own choice; the row count says whether it was still held.',
    `UPDATE topic_subscriptions SET status = 'revoked', revoked_at = $3, revocation_source = 'feedback', revoked_api_key_id = NULL
     WHERE subscriber_id = $1 AND topic_id = $2 AND status <> 'revoked'`,
  ),
  answerDropQuestion: sql<[subscriberId: string, topicId: string, at: Date]>(
    'The latest open question about this topic is answered (none may be open: the link of an older mail).',
    `UPDATE drop_topic_prompts SET answer = 'dropped', answered_at = $3
     WHERE id = (SELECT id FROM drop_topic_prompts WHERE subscriber_id = $1 AND topic_id = $2 AND answer IS NULL ORDER BY asked_at DESC LIMIT 1)`,
  ),
  recordDropAnswer: sql<[subscriberId: string, topicId: string, at: Date]>(
    'No open question: the answer is kept anyway, so the timeline and the page say it was their choice.',
    `INSERT INTO drop_topic_prompts (subscriber_id, topic_id, asked_at, answer, answered_at) VALUES ($1, $2, $3, 'dropped', $3)`,
  ),
  anyTopicLeft: sql<[subscriberId: string], { any: boolean }>(
    'Whether the person still has a confirmed topic (none left: no marketing at all, as on the preferences page).',
    `SELECT EXISTS (SELECT 1 FROM topic_subscriptions WHERE subscriber_id = $1 AND status = 'confirmed') AS any`,
  ),
  unsubscribe: sql<[subscriberId: string, at: Date]>(
    'No topic left: the person is unsubscribed.',
    `UPDATE subscribers SET status = 'unsubscribed', status_changed_at = $2, updated_at = $2 WHERE id = $1`,
  ),
  suggestions: sql<[limit: number, before: string | null], { id: string; text: string; locale: Locale; created_at: Date; chosen: string[] }>(
    'What customers asked for, newest first, with the topics the asker has (never who asked).',
    `SELECT g.id::text AS id, g.text, s.locale, g.created_at,
            coalesce((SELECT array_agg(t.key ORDER BY t.key) FROM topic_subscriptions ts JOIN topics t ON t.id = ts.topic_id
                      WHERE ts.subscriber_id = g.subscriber_id AND ts.status = 'confirmed'), '{}') AS chosen
     FROM topic_suggestions g JOIN subscribers s ON s.id = g.subscriber_id
     WHERE $2::bigint IS NULL OR g.id < $2::bigint
     ORDER BY g.id DESC LIMIT $1`,
  ),
  suggestionCount: sql<[], { total: number }>('How many suggestions there are in all.', `SELECT count(*)::int AS total FROM topic_suggestions`),
  suggest: sql<[subscriberId: string, text: string, at: Date]>(
    '"Suggest a topic" on the preferences page.',
    `INSERT INTO topic_suggestions (subscriber_id, text, created_at) VALUES ($1, $2, $3)`,
  ),
  campaignExists: sql<[id: string], { id: string }>('Whether the campaign asked about exists.', `SELECT id FROM campaigns WHERE id = $1`),
  campaignWeeks: sql<[campaignId: string], Week>("A campaign's answers by week.", weeks(`f.item_type = 'campaign' AND f.item_id = $1`)),
  campaignComments: sql<[campaignId: string], Comment>("A campaign's newest comments.", comments(`f.item_type = 'campaign' AND f.item_id = $1`)),
  topicWeeks: sql<[topicId: string], Week>("A topic's answers (all its items) by week.", weeks(`f.topic_id = $1`)),
  topicComments: sql<[topicId: string], Comment>("A topic's newest comments.", comments(`f.topic_id = $1`)),
});
