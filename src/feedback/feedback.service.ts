// Listening: what customers tell us about each marketing item, their topic suggestions, the
// "drop this topic?" question and its answer, and what marketers may read of it. Everything is
// stored under subscriber_id (erased with the person) and only ever recorded by a POST.
import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';
import { Clock } from '../common/clock';
import { notFound } from '../common/problem';
import { validationException } from '../common/validation';
import { Locale } from '../config/config';
import { ItemKind, ItemTokenClaims } from '../links/tokens';
import { COMMENT_MAX, isRating, normalizeComment, Rating, usefulRate } from './feedback.policy';

export interface FeedbackSubject {
  subscriberId: string;
  locale: Locale;
  kind: ItemKind;
  itemId: string;
  /** Campaign subject, digest item title, or (kind 'topic') the topic's name. */
  title: string;
  topicId: string;
  topicName: string;
  /** The customer's current answer on this item (rating kinds), or whether the topic is still chosen (kind 'topic'). */
  current: { rating: Rating; comment: string | null } | null;
  subscribed: boolean;
}

export interface FeedbackSummary {
  total: number;
  useful: number;
  notUseful: number;
  /** useful / total, 3 decimals; null with no answers. */
  usefulRate: number | null;
  /** ISO weeks (Monday, UTC) with answers, oldest first. */
  trend: { week: string; useful: number; notUseful: number; usefulRate: number | null }[];
  /** Newest first, at most 100; free text as the customer wrote it (escape it when showing it). */
  comments: { at: string; rating: Rating; comment: string; itemType: string; itemId: string }[];
}

export interface TopicSuggestionPage {
  /** Suggestions in all, and the newest first from the cursor on. */
  total: number;
  items: { id: string; text: string; locale: Locale; createdAt: string; chosenTopics: string[] }[];
  nextCursor: string | null;
}

const COMMENT_LIMIT = 100;

@Injectable()
export class FeedbackService {
  constructor(
    @InjectDataSource() private readonly db: DataSource,
    private readonly clock: Clock,
  ) {}

  /** What a feedback link points at, in the customer's language; null when the item or the customer is gone. */
  async subject(claims: ItemTokenClaims): Promise<FeedbackSubject | null> {
    const [s] = await this.db.query(`SELECT id, locale FROM subscribers WHERE id = $1`, [claims.subscriberId]);
    if (!s) return null;
    const de = s.locale === 'de';
    const [item] =
      claims.kind === 'campaign'
        ? await this.db.query(
            `SELECT CASE WHEN $2 THEN coalesce(c.subject_de, c.subject_en) ELSE coalesce(c.subject_en, c.subject_de) END AS title, c.topic_id
             FROM campaigns c WHERE c.id = $1`,
            [claims.itemId, de],
          )
        : claims.kind === 'digest_item'
          ? await this.db.query(
              `SELECT CASE WHEN $2 THEN coalesce(i.title_de, i.title_en) ELSE coalesce(i.title_en, i.title_de) END AS title, i.topic_id
               FROM digest_items i WHERE i.id = $1`,
              [claims.itemId, de],
            )
          : [{ title: null, topic_id: claims.itemId }];
    if (!item) return null;
    const [topic] = await this.db.query(
      `SELECT t.id, CASE WHEN $3 THEN t.name_de ELSE t.name_en END AS name, coalesce(ts.status = 'confirmed', false) AS subscribed
       FROM topics t LEFT JOIN topic_subscriptions ts ON ts.topic_id = t.id AND ts.subscriber_id = $2 WHERE t.id = $1`,
      [item.topic_id, claims.subscriberId, de],
    );
    if (!topic) return null;
    const [answer] =
      claims.kind === 'topic'
        ? []
        : await this.db.query(`SELECT rating, comment FROM feedback WHERE subscriber_id = $1 AND item_type = $2 AND item_id = $3`, [
            claims.subscriberId,
            claims.kind,
            claims.itemId,
          ]);
    return {
      subscriberId: claims.subscriberId,
      locale: s.locale,
      kind: claims.kind,
      itemId: claims.itemId,
      title: item.title ?? topic.name,
      topicId: topic.id,
      topicName: topic.name,
      current: answer ? { rating: answer.rating, comment: answer.comment } : null,
      subscribed: topic.subscribed,
    };
  }

  /** One answer per subscriber and item: the first POST records it, a later one replaces it. */
  async record(subject: FeedbackSubject, rating: unknown, comment: unknown): Promise<'recorded' | 'changed'> {
    const errors = [];
    if (!isRating(rating)) errors.push({ field: 'rating', message: 'must be useful or not_useful' });
    if (comment !== undefined && typeof comment !== 'string') errors.push({ field: 'comment', message: 'must be text' });
    const text = normalizeComment(comment);
    if (text && text.length > COMMENT_MAX) errors.push({ field: 'comment', message: `must be at most ${COMMENT_MAX} characters` });
    if (subject.kind === 'topic') errors.push({ field: 'rating', message: 'this link asks about a topic, not an item' });
    if (errors.length) throw validationException(errors);
    const now = this.clock.now();
    const [row] = await this.db.query(
      `INSERT INTO feedback (subscriber_id, item_type, item_id, topic_id, rating, comment, created_at, updated_at)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $7)
       ON CONFLICT (subscriber_id, item_type, item_id) DO UPDATE SET rating = EXCLUDED.rating, comment = EXCLUDED.comment, updated_at = EXCLUDED.updated_at
       RETURNING (xmax = 0) AS inserted`,
      [subject.subscriberId, subject.kind, subject.itemId, subject.topicId, rating, text, now],
    );
    return row.inserted ? 'recorded' : 'changed';
  }

  /**
   * The customer's answer to "drop this topic?": the topic is revoked (effective at once for every
   * mail not yet handed to SMTP) and the question is marked answered, so the timeline and the
   * preferences page say it was their choice. Idempotent.
   */
  async dropTopic(subscriberId: string, topicId: string): Promise<'dropped' | 'already'> {
    const now = this.clock.now();
    return this.db.transaction(async (tx) => {
      const [current] = await tx.query(`SELECT status FROM subscribers WHERE id = $1 FOR UPDATE`, [subscriberId]);
      if (!current) throw notFound('Subscriber', subscriberId);
      const revoked = await tx.query(
        `UPDATE topic_subscriptions SET status = 'revoked', revoked_at = $3, revocation_source = 'feedback', revoked_api_key_id = NULL
         WHERE subscriber_id = $1 AND topic_id = $2 AND status <> 'revoked' RETURNING 1`,
        [subscriberId, topicId, now],
      );
      if (revoked.length === 0) return 'already';
      const answered = await tx.query(
        `UPDATE drop_topic_prompts SET answer = 'dropped', answered_at = $3
         WHERE id = (SELECT id FROM drop_topic_prompts WHERE subscriber_id = $1 AND topic_id = $2 AND answer IS NULL ORDER BY asked_at DESC LIMIT 1)
         RETURNING 1`,
        [subscriberId, topicId, now],
      );
      if (answered.length === 0) {
        await tx.query(
          `INSERT INTO drop_topic_prompts (subscriber_id, topic_id, asked_at, answer, answered_at) VALUES ($1, $2, $3, 'dropped', $3)`,
          [subscriberId, topicId, now],
        );
      }
      const [{ any }] = await tx.query(`SELECT EXISTS (SELECT 1 FROM topic_subscriptions WHERE subscriber_id = $1 AND status = 'confirmed') AS any`, [subscriberId]);
      // The same rule as the preferences page: no topic left means no marketing mail at all.
      if (!any && current.status === 'active') {
        await tx.query(`UPDATE subscribers SET status = 'unsubscribed', status_changed_at = $2, updated_at = $2 WHERE id = $1`, [subscriberId, now]);
      }
      return 'dropped';
    });
  }

  /** "Suggest a topic" on the preferences page. */
  /** What customers asked for, newest first, without who asked. */
  async suggestions(limit: number, before?: string): Promise<TopicSuggestionPage> {
    const rows: { id: string; text: string; locale: Locale; created_at: Date; chosen: string[] }[] = await this.db.query(
      `SELECT g.id::text AS id, g.text, s.locale, g.created_at,
              coalesce((SELECT array_agg(t.key ORDER BY t.key) FROM topic_subscriptions ts JOIN topics t ON t.id = ts.topic_id
                        WHERE ts.subscriber_id = g.subscriber_id AND ts.status = 'confirmed'), '{}') AS chosen
       FROM topic_suggestions g JOIN subscribers s ON s.id = g.subscriber_id
       WHERE $2::bigint IS NULL OR g.id < $2::bigint
       ORDER BY g.id DESC LIMIT $1`,
      [limit + 1, before ?? null],
    );
    const [{ total }] = await this.db.query(`SELECT count(*)::int AS total FROM topic_suggestions`);
    const page = rows.slice(0, limit);
    return {
      total,
      items: page.map((r) => ({ id: r.id, text: r.text, locale: r.locale, createdAt: r.created_at.toISOString(), chosenTopics: r.chosen })),
      nextCursor: rows.length > limit ? page[page.length - 1].id : null,
    };
  }

  async suggest(subscriberId: string, text: unknown): Promise<void> {
    const value = normalizeComment(text);
    if (!value) throw validationException([{ field: 'suggestion', message: 'must not be empty' }]);
    if (value.length > COMMENT_MAX) throw validationException([{ field: 'suggestion', message: `must be at most ${COMMENT_MAX} characters` }]);
    await this.db.query(`INSERT INTO topic_suggestions (subscriber_id, text, created_at) VALUES ($1, $2, $3)`, [subscriberId, value, this.clock.now()]);
  }

  /**
   * Customers who dropped a topic (answering "drop this topic?") after rating one of its mails not
   * useful, newest first: who, which topic, when they rated and when they dropped it.
   */
  async dropsAfterNotUseful(limit: number): Promise<{ subscriberId: string; email: string; topic: string; ratedAt: string; droppedAt: string; comment: string | null }[]> {
    const rows: { subscriber_id: string; email: string; topic: string; rated_at: Date; dropped_at: Date; comment: string | null }[] = await this.db.query(
      `SELECT p.subscriber_id, s.email, t.key AS topic, p.answered_at AS dropped_at, f.updated_at AS rated_at, f.comment
       FROM drop_topic_prompts p
       JOIN subscribers s ON s.id = p.subscriber_id
       JOIN topics t ON t.id = p.topic_id
       JOIN LATERAL (
         SELECT updated_at, comment FROM feedback f
         WHERE f.subscriber_id = p.subscriber_id AND f.topic_id = p.topic_id AND f.rating = 'not_useful' AND f.updated_at <= p.answered_at
         ORDER BY f.updated_at DESC LIMIT 1) f ON true
       WHERE p.answer = 'dropped'
       ORDER BY p.answered_at DESC LIMIT $1`,
      [limit],
    );
    return rows.map((r) => ({ subscriberId: r.subscriber_id, email: r.email, topic: r.topic, ratedAt: r.rated_at.toISOString(), droppedAt: r.dropped_at.toISOString(), comment: r.comment }));
  }

  async campaignSummary(campaignId: string): Promise<FeedbackSummary & { campaignId: string }> {
    const [campaign] = await this.db.query(`SELECT id FROM campaigns WHERE id = $1`, [campaignId]);
    if (!campaign) throw notFound('Campaign', campaignId);
    return { campaignId, ...(await this.summary(`f.item_type = 'campaign' AND f.item_id = $1`, [campaignId])) };
  }

  async topicSummary(key: string): Promise<FeedbackSummary & { topic: string }> {
    const [topic] = await this.db.query(`SELECT id FROM topics WHERE key = $1`, [key]);
    if (!topic) throw notFound('Topic', key);
    return { topic: key, ...(await this.summary(`f.topic_id = $1`, [topic.id])) };
  }

  /** Counts, the weekly trend and the newest comments for the answers matching `where` (over `feedback f`). */
  private async summary(where: string, params: unknown[]): Promise<FeedbackSummary> {
    const weeks: { week: string; useful: number; not_useful: number }[] = await this.db.query(
      `SELECT to_char(date_trunc('week', f.created_at AT TIME ZONE 'UTC'), 'YYYY-MM-DD') AS week,
              count(*) FILTER (WHERE f.rating = 'useful')::int AS useful, count(*) FILTER (WHERE f.rating = 'not_useful')::int AS not_useful
       FROM feedback f WHERE ${where} GROUP BY 1 ORDER BY 1`,
      params,
    );
    const comments: { updated_at: Date; rating: Rating; comment: string; item_type: string; item_id: string }[] = await this.db.query(
      `SELECT f.updated_at, f.rating, f.comment, f.item_type, f.item_id FROM feedback f
       WHERE ${where} AND f.comment IS NOT NULL ORDER BY f.updated_at DESC LIMIT ${COMMENT_LIMIT}`,
      params,
    );
    const useful = weeks.reduce((n, w) => n + w.useful, 0);
    const notUseful = weeks.reduce((n, w) => n + w.not_useful, 0);
    return {
      total: useful + notUseful,
      useful,
      notUseful,
      usefulRate: usefulRate(useful, notUseful),
      trend: weeks.map((w) => ({
        week: w.week,
        useful: w.useful,
        notUseful: w.not_useful,
        usefulRate: usefulRate(w.useful, w.not_useful),
      })),
      comments: comments.map((c) => ({ at: c.updated_at.toISOString(), rating: c.rating, comment: c.comment, itemType: c.item_type, itemId: c.item_id })),
    };
  }
}
