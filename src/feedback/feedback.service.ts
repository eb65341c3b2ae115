// Listening: what customers tell us about each marketing item, their topic suggestions, the
// "drop this topic?" question and its answer, and what marketers may read of it. Everything is
// stored under subscriber_id (erased with the person) and only ever recorded by a POST.
import { Injectable } from '@nestjs/common';
import { Clock } from '../common/clock';
import { notFound } from '../common/problem';
import { validationException } from '../common/validation';
import { Locale } from '../config/config';
import { Db } from '../database/sql';
import { ItemKind, ItemTokenClaims } from '../links/tokens';
import { TopicsService } from '../topics/topics.service';
import { COMMENT_MAX, isRating, normalizeComment, Rating, usefulRate } from './feedback.policy';
import { FeedbackQueries as Q } from './feedback.queries';

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


@Injectable()
export class FeedbackService {
  constructor(
    private readonly db: Db,
    private readonly clock: Clock,
    private readonly topics: TopicsService,
  ) {}

  /** What a feedback link points at, in the customer's language; null when the item or the customer is gone. */
  async subject(claims: ItemTokenClaims): Promise<FeedbackSubject | null> {
    const s = await this.db.row(Q.subscriberLocale, [claims.subscriberId]);
    if (!s) return null;
    const de = s.locale === 'de';
    const item =
      claims.kind === 'campaign'
        ? await this.db.row(Q.campaignItem, [claims.itemId, de])
        : claims.kind === 'digest_item'
          ? await this.db.row(Q.digestItem, [claims.itemId, de])
          : { title: null, topic_id: claims.itemId };
    if (!item) return null;
    const topic = await this.db.row(Q.topicForReader, [item.topic_id, claims.subscriberId, de]);
    if (!topic) return null;
    const answer = claims.kind === 'topic' ? undefined : await this.db.row(Q.answer, [claims.subscriberId, claims.kind, claims.itemId]);
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
    const row = (await this.db.row(Q.record, [subject.subscriberId, subject.kind, subject.itemId, subject.topicId, rating as string, text, now]))!;
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
      const current = await tx.row(Q.lockSubscriber, [subscriberId]);
      if (!current) throw notFound('Subscriber', subscriberId);
      if ((await tx.run(Q.revokeTopic, [subscriberId, topicId, now])) === 0) return 'already';
      if ((await tx.run(Q.answerDropQuestion, [subscriberId, topicId, now])) === 0) await tx.run(Q.recordDropAnswer, [subscriberId, topicId, now]);
      const { any } = (await tx.row(Q.anyTopicLeft, [subscriberId]))!;
      // The same rule as the preferences page: no topic left means no marketing mail at all.
      if (!any && current.status === 'active') await tx.run(Q.unsubscribe, [subscriberId, now]);
      return 'dropped';
    });
  }

  /** "Suggest a topic" on the preferences page. */
  /** What customers asked for, newest first, without who asked. */
  async suggestions(limit: number, before?: string): Promise<TopicSuggestionPage> {
    const rows = await this.db.rows(Q.suggestions, [limit + 1, before ?? null]);
    const { total } = (await this.db.row(Q.suggestionCount, []))!;
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
    await this.db.run(Q.suggest, [subscriberId, value, this.clock.now()]);
  }

  async campaignSummary(campaignId: string): Promise<FeedbackSummary & { campaignId: string }> {
    if (!(await this.db.row(Q.campaignExists, [campaignId]))) throw notFound('Campaign', campaignId);
    return { campaignId, ...this.summary(await this.db.rows(Q.campaignWeeks, [campaignId]), await this.db.rows(Q.campaignComments, [campaignId])) };
  }

  async topicSummary(key: string): Promise<FeedbackSummary & { topic: string }> {
    const topic = await this.topics.ref(key);
    if (!topic) throw notFound('Topic', key);
    return { topic: key, ...this.summary(await this.db.rows(Q.topicWeeks, [topic.id]), await this.db.rows(Q.topicComments, [topic.id])) };
  }

  /** Counts, the weekly trend and the newest comments of one campaign's or topic's answers. */
  private summary(
    weeks: { week: string; useful: number; not_useful: number }[],
    comments: { updated_at: Date; rating: Rating; comment: string; item_type: string; item_id: string }[],
  ): FeedbackSummary {
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
