// Digests: at each subscriber's slot, one marketing mail with everything new on their confirmed
// topics (digest items and campaigns folded into it), under the same cadence enforcement as
// campaigns. Composition is batched and set-based per step; batches are claimed with
// FOR UPDATE SKIP LOCKED so any number of instances compose disjoint subscribers at once.
import { Inject, Injectable, Logger, OnModuleInit } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource, EntityManager } from 'typeorm';
import { CadenceService } from '../cadence/cadence.service';
import { HandOverStep } from '../cadence/hand-over.policy';
import { digestKeySql } from '../cadence/window.queries';
import { Clock } from '../common/clock';
import { APP_CONFIG, AppConfig, Locale } from '../config/config';
import { ClaimedDelivery, DeliveryKinds, GateVerdict, subscriberGate } from '../delivery/delivery-kinds';
import { marketingKind } from '../delivery/marketing-hand-over';
import { Reason } from '../reasons/reason-codes';
import { TokenService } from '../links/tokens';
import { orderSections, Rating, shouldAskToDrop, topicScore } from '../feedback/feedback.policy';
import { DigestCandidate, selectEntries } from './digest-compose.policy';

export interface ComposeResult {
  composed: number;
  empty: number;
  postponed: number;
}

interface DueSubscriber {
  id: string;
  locale: Locale;
  next_digest_at: Date;
  window_opens: Date | null;
}

interface SectionEntryView {
  title: string;
  summary: string;
  url: string | null;
  feedback: { usefulUrl: string; notUsefulUrl: string };
}

interface Entry {
  type: 'item' | 'campaign';
  ref: string;
}

/** What the send-time check found still wanted, for compose. */
interface DigestFacts {
  entries: Entry[];
}

const BATCH = 500;

@Injectable()
export class DigestsService implements OnModuleInit {
  private readonly logger = new Logger(DigestsService.name);

  constructor(
    @InjectDataSource() private readonly db: DataSource,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly clock: Clock,
    private readonly kinds: DeliveryKinds,
    private readonly cadence: CadenceService,
    private readonly tokens: TokenService,
  ) {}

  onModuleInit(): void {
    // The digest supplies its checks, its content and what becomes of its entries; the window is
    // the cadence module's.
    this.kinds.register(
      marketingKind<DigestFacts>(this.cadence, {
        kind: 'digest',
        check: (tx, delivery) => this.check(tx, delivery),
        compose: (tx, delivery, facts) => this.compose(tx, delivery, facts),
        after: (tx, delivery, _outcome, step) => this.after(tx, delivery, step),
      }),
    );
  }

  /** Composes every due digest, batch after batch. */
  async composeDue(): Promise<ComposeResult> {
    const total: ComposeResult = { composed: 0, empty: 0, postponed: 0 };
    for (;;) {
      const result = await this.db.transaction((tx) => this.composeBatch(tx));
      total.composed += result.composed;
      total.empty += result.empty;
      total.postponed += result.postponed;
      if (result.claimed < BATCH) return total;
    }
  }

  private async composeBatch(tx: EntityManager): Promise<ComposeResult & { claimed: number }> {
    const now = this.clock.now();
    const due: DueSubscriber[] = await tx.query(
      `SELECT s.id, s.locale, s.next_digest_at,
              CASE WHEN w.last_marketing_at > '-infinity'
                   THEN tactful_window_end(w.last_marketing_at, s.time_zone, tactful_window_days(s.cadence)) END AS window_opens
       FROM subscribers s LEFT JOIN cadence_windows w ON w.subscriber_id = s.id
       WHERE s.status = 'active' AND s.next_digest_at <= $1
       ORDER BY s.next_digest_at LIMIT $2
       FOR UPDATE OF s SKIP LOCKED`,
      [now, BATCH],
    );
    const result = { composed: 0, empty: 0, postponed: 0, claimed: due.length };
    if (due.length === 0) return result;

    // A window still held by a campaign: the digest moves to the slot hour of the first free day.
    const blocked = due.filter((d) => d.window_opens && d.window_opens > now).map((d) => d.id);
    const open = due.filter((d) => !(d.window_opens && d.window_opens > now));
    result.postponed += await this.reschedule(tx, blocked, now);

    const candidates = await this.candidates(tx, open.map((d) => d.id), now);
    const withContent: DueSubscriber[] = [];
    const chosen = new Map<string, DigestCandidate[]>();
    const overflow: string[] = [];
    for (const subscriber of open) {
      const { included, left } = selectEntries(candidates.get(subscriber.id) ?? [], this.config.digestMaxEntries);
      if (included.length === 0) continue;
      withContent.push(subscriber);
      chosen.set(subscriber.id, included);
      overflow.push(...left.filter((c) => c.type === 'campaign').map((c) => c.ref));
    }
    const empty = open.filter((s) => !chosen.has(s.id));
    await this.supersedeDeferred(tx, open.map((s) => s.id), now);
    result.empty = await this.recordEmpty(tx, empty, now);

    // Reserve the window (the same compare-and-set as campaigns); a lost race waits for the next free day.
    const reserved: { subscriber_id: string }[] = withContent.length
      ? await tx.query(
          `WITH eligible AS (SELECT s.id, s.cadence, s.time_zone FROM subscribers s WHERE s.id = ANY($1::uuid[]))
           ${CadenceService.reserveCte('eligible', '$2::timestamptz', '$3::text')}`,
          [withContent.map((s) => s.id), now, 'digest:'],
        )
      : [];
    const won = new Set(reserved.map((r) => r.subscriber_id));
    result.postponed += await this.reschedule(tx, withContent.filter((s) => !won.has(s.id)).map((s) => s.id), now);
    const winners = withContent.filter((s) => won.has(s.id));
    if (winners.length === 0) return result;

    const dropTopics = await this.dropQuestionsDue(tx, winners.map((s) => s.id));
    const spreadSeconds = this.config.digestCatchupSpreadMinutes * 60;
    const rows: { id: string; subscriber_id: string }[] = await tx.query(
      `WITH input AS (
         SELECT * FROM unnest($1::uuid[], $2::text[], $3::timestamptz[], $4::jsonb[]) AS t(subscriber_id, locale, slot, payload))
       INSERT INTO deliveries (subscriber_id, class, kind, locale, status, reason, idempotency_key, payload, next_attempt_at, created_at, updated_at)
       SELECT i.subscriber_id, 'marketing', 'digest', i.locale, 'queued', 'queued',
              ${digestKeySql('i.subscriber_id', 'i.slot')},
              i.payload,
              -- Overdue after downtime: spread over the catch-up period instead of one burst.
              CASE WHEN i.slot < $5::timestamptz - interval '1 hour' AND $6::int > 0
                   THEN $5::timestamptz + make_interval(secs => abs(hashtext(i.subscriber_id::text)) % $6::int)
                   ELSE $5::timestamptz END,
              $5, $5
       FROM input i
       ON CONFLICT (idempotency_key) DO NOTHING
       RETURNING id, subscriber_id`,
      [
        winners.map((s) => s.id),
        winners.map((s) => s.locale),
        winners.map((s) => s.next_digest_at),
        winners.map((s) =>
          JSON.stringify({ entries: chosen.get(s.id)!.map((c) => ({ type: c.type, ref: c.ref })), dropTopics: dropTopics.get(s.id) ?? [] }),
        ),
        now,
        spreadSeconds,
      ],
    );
    const deliveryOf = new Map(rows.map((r) => [r.subscriber_id, r.id]));
    // The question is asked in this digest; if the digest does not go, unlinkEntries takes it back.
    const asked = winners.flatMap((s) => (deliveryOf.get(s.id) ? (dropTopics.get(s.id) ?? []).map((topic) => ({ s: s.id, topic, d: deliveryOf.get(s.id)! })) : []));
    if (asked.length) {
      await tx.query(
        `INSERT INTO drop_topic_prompts (subscriber_id, topic_id, digest_delivery_id, asked_at)
         SELECT s, t, d, $4 FROM unnest($1::uuid[], $2::uuid[], $3::bigint[]) AS x(s, t, d)`,
        [asked.map((a) => a.s), asked.map((a) => a.topic), asked.map((a) => a.d), now],
      );
    }
    const items = winners.flatMap((s) => chosen.get(s.id)!.filter((c) => c.type === 'item').map((c) => ({ s: s.id, item: c.ref, d: deliveryOf.get(s.id) })));
    const folded = winners.flatMap((s) => chosen.get(s.id)!.filter((c) => c.type === 'campaign').map((c) => ({ ref: c.ref, d: deliveryOf.get(s.id) })));
    await tx.query(
      `INSERT INTO digest_entries (subscriber_id, item_id, delivery_id)
       SELECT * FROM unnest($1::uuid[], $2::uuid[], $3::bigint[]) ON CONFLICT DO NOTHING`,
      [items.filter((i) => i.d).map((i) => i.s), items.filter((i) => i.d).map((i) => i.item), items.filter((i) => i.d).map((i) => i.d)],
    );
    await tx.query(
      `UPDATE deliveries d SET digest_delivery_id = f.digest, updated_at = $3
       FROM unnest($1::bigint[], $2::bigint[]) AS f(id, digest) WHERE d.id = f.id`,
      [folded.filter((f) => f.d).map((f) => f.ref), folded.filter((f) => f.d).map((f) => f.d), now],
    );
    await tx.query(
      `UPDATE deliveries SET reason = $2, updated_at = $3 WHERE id = ANY($1::bigint[]) AND status = 'deferred'`,
      [overflow, Reason.DeferredDigestFull, now],
    );
    // Next digest: after this one's window (the trigger's rule, applied from this digest's slot).
    await tx.query(
      `UPDATE subscribers s SET next_digest_at = tactful_next_digest(
          tactful_window_end(greatest(s.next_digest_at, $2::timestamptz), s.time_zone, tactful_window_days(s.cadence)),
          $2, s.time_zone, s.digest_weekday, s.digest_hour)
       WHERE s.id = ANY($1::uuid[])`,
      [winners.map((s) => s.id), now],
    );
    result.composed = rows.length;
    return result;
  }

  /** Every unexpired, not yet received item and every deferred campaign on the subscriber's confirmed topics. */
  private async candidates(tx: EntityManager, subscriberIds: string[], now: Date): Promise<Map<string, DigestCandidate[]>> {
    const byId = new Map<string, DigestCandidate[]>();
    if (subscriberIds.length === 0) return byId;
    const rows: { subscriber_id: string; type: 'item' | 'campaign'; ref: string; topic_id: string; priority: number; expires_at: Date | null; fresh: Date }[] =
      await tx.query(
        `SELECT ts.subscriber_id, 'item' AS type, i.id::text AS ref, i.topic_id, i.priority, i.expires_at, i.publish_at AS fresh
         FROM topic_subscriptions ts
         JOIN digest_items i ON i.topic_id = ts.topic_id
         WHERE ts.subscriber_id = ANY($1::uuid[]) AND ts.status = 'confirmed'
           AND i.publish_at <= $2 AND (i.expires_at IS NULL OR i.expires_at > $2)
           -- News from before the subscription are not news to them; a week's grace for the newly subscribed.
           AND i.publish_at >= ts.confirmed_at - interval '7 days'
           AND NOT EXISTS (SELECT 1 FROM digest_entries e WHERE e.subscriber_id = ts.subscriber_id AND e.item_id = i.id)
         UNION ALL
         SELECT d.subscriber_id, 'campaign', d.id::text, d.topic_id, d.priority, d.expires_at, d.created_at
         FROM deliveries d
         JOIN topic_subscriptions ts ON ts.subscriber_id = d.subscriber_id AND ts.topic_id = d.topic_id AND ts.status = 'confirmed'
         WHERE d.subscriber_id = ANY($1::uuid[]) AND d.status = 'deferred' AND d.kind = 'campaign' AND d.digest_delivery_id IS NULL
           AND (d.expires_at IS NULL OR d.expires_at > $2)`,
        [subscriberIds, now],
      );
    for (const r of rows) {
      const list = byId.get(r.subscriber_id) ?? [];
      list.push({ type: r.type, ref: r.ref, topicId: r.topic_id, priority: r.priority, expiresAt: r.expires_at, freshness: r.fresh });
      byId.set(r.subscriber_id, list);
    }
    return byId;
  }

  /**
   * Topics to ask "drop this topic?" about, per subscriber: still chosen, and the customer's last
   * two ratings on it are "not useful" and newer than the last time we asked (shouldAskToDrop).
   */
  private async dropQuestionsDue(tx: EntityManager, subscriberIds: string[]): Promise<Map<string, string[]>> {
    const due = new Map<string, string[]>();
    if (subscriberIds.length === 0) return due;
    const rows: { subscriber_id: string; topic_id: string; rating: Rating; created_at: Date; last_asked: Date | null }[] = await tx.query(
      `SELECT f.subscriber_id, f.topic_id, f.rating, f.created_at,
              (SELECT max(p.asked_at) FROM drop_topic_prompts p WHERE p.subscriber_id = f.subscriber_id AND p.topic_id = f.topic_id) AS last_asked
       FROM (SELECT *, row_number() OVER (PARTITION BY subscriber_id, topic_id ORDER BY created_at DESC) AS n
             FROM feedback WHERE subscriber_id = ANY($1::uuid[])) f
       JOIN topic_subscriptions ts ON ts.subscriber_id = f.subscriber_id AND ts.topic_id = f.topic_id AND ts.status = 'confirmed'
       WHERE f.n <= 2
       ORDER BY f.subscriber_id, f.topic_id, f.created_at DESC`,
      [subscriberIds],
    );
    const streaks = new Map<string, { subscriberId: string; topicId: string; lastAsked: Date | null; ratings: { rating: Rating; at: Date }[] }>();
    for (const r of rows) {
      const key = `${r.subscriber_id}:${r.topic_id}`;
      const streak = streaks.get(key) ?? { subscriberId: r.subscriber_id, topicId: r.topic_id, lastAsked: r.last_asked, ratings: [] };
      streak.ratings.push({ rating: r.rating, at: r.created_at });
      streaks.set(key, streak);
    }
    for (const streak of streaks.values()) {
      if (!shouldAskToDrop(streak.ratings, streak.lastAsked)) continue;
      due.set(streak.subscriberId, [...(due.get(streak.subscriberId) ?? []), streak.topicId]);
    }
    return due;
  }

  /** Nothing new: no mail, but the decision is stored, and the next slot is set. */
  private async recordEmpty(tx: EntityManager, subscribers: DueSubscriber[], now: Date): Promise<number> {
    if (subscribers.length === 0) return 0;
    await tx.query(
      `WITH input AS (SELECT * FROM unnest($1::uuid[], $2::text[], $3::timestamptz[]) AS t(subscriber_id, locale, slot))
       INSERT INTO deliveries (subscriber_id, class, kind, locale, status, reason, idempotency_key, next_attempt_at, created_at, updated_at)
       SELECT subscriber_id, 'marketing', 'digest', locale, 'suppressed', $4,
              ${digestKeySql('subscriber_id', 'slot')}, $5, $5, $5
       FROM input ON CONFLICT (idempotency_key) DO NOTHING`,
      [subscribers.map((s) => s.id), subscribers.map((s) => s.locale), subscribers.map((s) => s.next_digest_at), Reason.SuppressedEmpty, now],
    );
    await tx.query(
      `UPDATE subscribers SET next_digest_at = tactful_next_slot(greatest(next_digest_at, $2::timestamptz) + interval '1 minute', time_zone, digest_weekday, digest_hour)
       WHERE id = ANY($1::uuid[])`,
      [subscribers.map((s) => s.id), now],
    );
    return subscribers.length;
  }

  /**
   * A digest that lost its hand-over waited, deferred, for the next one (its entries went back to
   * the candidates): this slot's decision replaces it.
   */
  private async supersedeDeferred(tx: EntityManager, subscriberIds: string[], now: Date): Promise<void> {
    if (subscriberIds.length === 0) return;
    await tx.query(
      `UPDATE deliveries SET status = 'suppressed', reason = $2, updated_at = $3
       WHERE subscriber_id = ANY($1::uuid[]) AND status = 'deferred' AND kind = 'digest'`,
      [subscriberIds, Reason.Superseded, now],
    );
  }

  private async reschedule(tx: EntityManager, subscriberIds: string[], now: Date): Promise<number> {
    if (subscriberIds.length === 0) return 0;
    await tx.query(
      `UPDATE subscribers s SET next_digest_at = tactful_next_digest(
          tactful_window_end(w.last_marketing_at, s.time_zone, tactful_window_days(s.cadence)), $2, s.time_zone, s.digest_weekday, s.digest_hour)
       FROM cadence_windows w WHERE w.subscriber_id = s.id AND s.id = ANY($1::uuid[])`,
      [subscriberIds, now],
    );
    return subscriberIds.length;
  }

  // ---- send time -----------------------------------------------------------------------------

  /** Consent is re-checked per entry at hand-over: a topic dropped since composing drops its entries. */
  private async check(tx: EntityManager, delivery: ClaimedDelivery): Promise<{ refused: GateVerdict } | { facts: DigestFacts }> {
    const consent = await subscriberGate(tx, delivery);
    if (consent) return { refused: consent };
    const still = await this.stillWanted(tx, delivery.subscriberId!, delivery.payload.entries ?? []);
    if (still.length === 0) return { refused: { status: 'suppressed', reason: Reason.SuppressedEmpty } };
    return { facts: { entries: still } };
  }

  private async stillWanted(tx: EntityManager, subscriberId: string, entries: Entry[]): Promise<Entry[]> {
    const items = entries.filter((e) => e.type === 'item').map((e) => e.ref);
    const campaigns = entries.filter((e) => e.type === 'campaign').map((e) => e.ref);
    const okItems: { ref: string }[] = await tx.query(
      `SELECT i.id::text AS ref FROM digest_items i
       JOIN topic_subscriptions ts ON ts.topic_id = i.topic_id AND ts.subscriber_id = $1 AND ts.status = 'confirmed'
       WHERE i.id = ANY($2::uuid[])`,
      [subscriberId, items],
    );
    const okCampaigns: { ref: string }[] = await tx.query(
      `SELECT d.id::text AS ref FROM deliveries d
       JOIN topic_subscriptions ts ON ts.topic_id = d.topic_id AND ts.subscriber_id = d.subscriber_id AND ts.status = 'confirmed'
       WHERE d.id = ANY($1::bigint[]) AND d.status = 'deferred'`,
      [campaigns],
    );
    const ok = new Set([...okItems, ...okCampaigns].map((r) => r.ref));
    return entries.filter((e) => ok.has(e.ref));
  }

  /**
   * What becomes of the entries: sent with the digest (each folded campaign counts as sent,
   * through it); kept for the same digest's next attempt; otherwise free for the next digest (a
   * digest that may have arrived included: at worst news told twice, never news lost).
   */
  private async after(tx: EntityManager, delivery: ClaimedDelivery, step: HandOverStep): Promise<void> {
    if (step.mail === 'went') {
      await tx.query(
        `UPDATE deliveries SET status = 'sent', reason = 'sent', sent_at = $2, updated_at = $2 WHERE digest_delivery_id = $1 AND status = 'deferred'`,
        [delivery.id, this.clock.now()],
      );
      return;
    }
    if (step.mail !== 'tries_again') await this.unlinkEntries(tx, delivery);
  }

  private async unlinkEntries(tx: EntityManager, delivery: ClaimedDelivery): Promise<void> {
    await tx.query(`UPDATE deliveries SET digest_delivery_id = NULL WHERE digest_delivery_id = $1`, [delivery.id]);
    await tx.query(`DELETE FROM digest_entries WHERE delivery_id = $1`, [delivery.id]);
    await tx.query(`DELETE FROM drop_topic_prompts WHERE digest_delivery_id = $1 AND answer IS NULL`, [delivery.id]);
  }

  private async compose(tx: EntityManager, delivery: ClaimedDelivery, facts: DigestFacts) {
    const entries = facts.entries;
    const de = delivery.locale === 'de';
    const rows: {
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
    }[] = await tx.query(
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
      [entries.filter((e) => e.type === 'item').map((e) => e.ref), entries.filter((e) => e.type === 'campaign').map((e) => e.ref), de],
    );
    const order = new Map(entries.map((e, i) => [e.ref, i]));
    rows.sort((a, b) => order.get(a.ref)! - order.get(b.ref)!);
    const subscriberId = delivery.subscriberId!;
    const sections = new Map<string, { topicId: string; topicName: string; entries: (SectionEntryView & { priority: number; freshness: Date })[] }>();
    for (const r of rows) {
      const section = sections.get(r.topic_id) ?? { topicId: r.topic_id, topicName: r.topic, entries: [] };
      section.entries.push({
        title: r.title,
        summary: r.summary,
        url: r.url,
        priority: r.priority,
        freshness: r.fresh,
        feedback: {
          usefulUrl: this.tokens.itemUrl(subscriberId, r.item_type, r.item_id, 'useful'),
          notUsefulUrl: this.tokens.itemUrl(subscriberId, r.item_type, r.item_id, 'not_useful'),
        },
      });
      sections.set(r.topic_id, section);
    }
    // The customer's own ratings order the sections; priority and freshness break ties.
    const scores: { topic_id: string; useful: number; not_useful: number }[] = await tx.query(
      `SELECT topic_id, count(*) FILTER (WHERE rating = 'useful')::int AS useful, count(*) FILTER (WHERE rating = 'not_useful')::int AS not_useful
       FROM feedback WHERE subscriber_id = $1 GROUP BY topic_id`,
      [subscriberId],
    );
    const ordered = orderSections([...sections.values()], new Map(scores.map((r) => [r.topic_id, topicScore(r.useful, r.not_useful)])));
    // A question about a topic the customer dropped meanwhile is not asked.
    const dropTopics: string[] = delivery.payload.dropTopics ?? [];
    const questions: { id: string; name: string }[] = dropTopics.length
      ? await tx.query(
          `SELECT t.id, CASE WHEN $3 THEN t.name_de ELSE t.name_en END AS name FROM topics t
           JOIN topic_subscriptions ts ON ts.topic_id = t.id AND ts.subscriber_id = $2 AND ts.status = 'confirmed'
           WHERE t.id = ANY($1::uuid[]) ORDER BY name`,
          [dropTopics, subscriberId, de],
        )
      : [];
    const [subscriber] = await tx.query(`SELECT cadence FROM subscribers WHERE id = $1`, [delivery.subscriberId]);
    const biweekly = subscriber?.cadence === 'biweekly';
    return {
      template: 'digest',
      data: {
        // The templates word the cadence themselves: a German adjective declines with its sentence.
        biweekly,
        entryCount: rows.length,
        singleEntry: rows.length === 1,
        firstTitle: rows[0]?.title ?? '',
        moreCount: Math.max(0, rows.length - 1),
        sections: ordered.map((section) => ({
          topicName: section.topicName,
          entries: section.entries.map(({ title, summary, url, feedback }) => ({ title, summary, url, feedback })),
        })),
        dropQuestions: questions.map((q) => ({ topicName: q.name, url: this.tokens.itemUrl(subscriberId, 'topic', q.id) })),
      },
    };
  }
}
