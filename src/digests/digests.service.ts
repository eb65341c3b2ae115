// Digests: at each subscriber's slot, one marketing mail with everything new on their confirmed
// topics (digest items and campaigns folded into it), under the same cadence enforcement as
// campaigns. Composition is batched and set-based per step; batches are claimed with
// FOR UPDATE SKIP LOCKED so any number of instances compose disjoint subscribers at once.
import { Inject, Injectable, Logger, OnModuleInit } from '@nestjs/common';
import { CadenceService } from '../cadence/cadence.service';
import { HandOverStep } from '../cadence/hand-over.policy';
import { Clock } from '../common/clock';
import { APP_CONFIG, AppConfig } from '../config/config';
import { Db, Sql, Tx } from '../database/sql';
import { ClaimedDelivery, DeliveryKinds, GateVerdict, subscriberGate } from '../delivery/delivery-kinds';
import { marketingKind } from '../delivery/marketing-hand-over';
import { Reason } from '../reasons/reason-codes';
import { TokenService } from '../links/tokens';
import { orderSections, Rating, shouldAskToDrop, topicScore } from '../feedback/feedback.policy';
import { DigestCandidate, selectEntries } from './digest-compose.policy';
import { DigestQueries as Q, DueSubscriber } from './digests.queries';

export interface ComposeResult {
  composed: number;
  empty: number;
  postponed: number;
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

/** What a digest's row keeps in its payload: written when it is composed, read at hand-over. */
interface DigestPayload {
  entries?: Entry[];
  /** Topics whose "drop this topic?" question the digest asks. */
  dropTopics?: string[];
}

const payloadOf = (delivery: ClaimedDelivery): DigestPayload => delivery.payload as DigestPayload;

const BATCH = 500;

@Injectable()
export class DigestsService implements OnModuleInit {
  private readonly logger = new Logger(DigestsService.name);

  constructor(
    private readonly db: Db,
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
        // The entries the digest was composed with, as its row keeps them.
        viewFacts: async (_tx, delivery) => ({ entries: payloadOf(delivery).entries ?? [] }),
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

  private async composeBatch(tx: Tx): Promise<ComposeResult & { claimed: number }> {
    const now = this.clock.now();
    const due = await tx.rows(Q.claimDue, [now, BATCH]);
    const result = { composed: 0, empty: 0, postponed: 0, claimed: due.length };
    if (due.length === 0) return result;

    // A window still held by a campaign: the digest moves to the slot hour of the first free day.
    const blocked = due.filter((d) => d.window_opens && d.window_opens > now).map((d) => d.id);
    const open = due.filter((d) => !(d.window_opens && d.window_opens > now));
    result.postponed += await this.reschedule(tx, blocked, now);

    const candidates = await this.candidates(
      tx,
      open.map((d) => d.id),
      now,
    );
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
    await this.supersedeDeferred(
      tx,
      open.map((s) => s.id),
      now,
    );
    result.empty = await this.recordEmpty(tx, empty, now);

    // Reserve the window (the same compare-and-set as campaigns); a lost race waits for the next free day.
    const reserved = withContent.length ? await tx.rows(Q.reserveWindows, [withContent.map((s) => s.id), now, withContent.map((s) => s.next_digest_at)]) : [];
    const won = new Set(reserved.map((r) => r.subscriber_id));
    result.postponed += await this.reschedule(
      tx,
      withContent.filter((s) => !won.has(s.id)).map((s) => s.id),
      now,
    );
    const winners = withContent.filter((s) => won.has(s.id));
    if (winners.length === 0) return result;

    const dropTopics = await this.dropQuestionsDue(
      tx,
      winners.map((s) => s.id),
    );
    const spreadSeconds = this.config.digestCatchupSpreadMinutes * 60;
    const rows = await tx.rows(Q.queueDigests, [
      winners.map((s) => s.id),
      winners.map((s) => s.locale),
      winners.map((s) => s.next_digest_at),
      winners.map((s) => JSON.stringify({ entries: chosen.get(s.id)!.map((c) => ({ type: c.type, ref: c.ref })), dropTopics: dropTopics.get(s.id) ?? [] })),
      now,
      spreadSeconds,
    ]);
    const deliveryOf = new Map(rows.map((r) => [r.subscriber_id, r.id]));
    // The question is asked in this digest; if the digest does not go, unlinkEntries takes it back.
    const asked = winners.flatMap((s) =>
      deliveryOf.get(s.id) ? (dropTopics.get(s.id) ?? []).map((topic) => ({ s: s.id, topic, d: deliveryOf.get(s.id)! })) : [],
    );
    if (asked.length) {
      await tx.run(Q.askDropQuestions, [asked.map((a) => a.s), asked.map((a) => a.topic), asked.map((a) => a.d), now]);
    }
    const items = winners.flatMap((s) =>
      chosen
        .get(s.id)!
        .filter((c) => c.type === 'item')
        .map((c) => ({ s: s.id, item: c.ref, d: deliveryOf.get(s.id) })),
    );
    const folded = winners.flatMap((s) =>
      chosen
        .get(s.id)!
        .filter((c) => c.type === 'campaign')
        .map((c) => ({ ref: c.ref, d: deliveryOf.get(s.id) })),
    );
    const linked = items.filter((i) => i.d);
    await tx.run(Q.linkItems, [linked.map((i) => i.s), linked.map((i) => i.item), linked.map((i) => i.d!)]);
    const into = folded.filter((f) => f.d);
    await tx.run(Q.foldCampaigns, [into.map((f) => f.ref), into.map((f) => f.d!), now]);
    await tx.run(Q.markOverflow, [overflow, Reason.DeferredDigestFull, now]);
    await tx.run(Q.nextAfterDigest, [winners.map((s) => s.id), now]);
    result.composed = rows.length;
    return result;
  }

  /** Every unexpired, not yet received item and every deferred campaign on the subscriber's confirmed topics. */
  private async candidates(tx: Tx, subscriberIds: string[], now: Date): Promise<Map<string, DigestCandidate[]>> {
    const byId = new Map<string, DigestCandidate[]>();
    if (subscriberIds.length === 0) return byId;
    const rows = await tx.rows(Q.candidates, [subscriberIds, now]);
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
  private async dropQuestionsDue(tx: Tx, subscriberIds: string[]): Promise<Map<string, string[]>> {
    const due = new Map<string, string[]>();
    if (subscriberIds.length === 0) return due;
    const rows = await tx.rows(Q.recentRatings, [subscriberIds]);
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
  private async recordEmpty(tx: Tx, subscribers: DueSubscriber[], now: Date): Promise<number> {
    if (subscribers.length === 0) return 0;
    await tx.run(Q.recordEmpty, [
      subscribers.map((s) => s.id),
      subscribers.map((s) => s.locale),
      subscribers.map((s) => s.next_digest_at),
      Reason.SuppressedEmpty,
      now,
    ]);
    await tx.run(Q.nextSlotAfterEmpty, [subscribers.map((s) => s.id), now]);
    return subscribers.length;
  }

  /**
   * A digest that lost its hand-over waited, deferred, for the next one (its entries went back to
   * the candidates): this slot's decision replaces it.
   */
  private async supersedeDeferred(tx: Tx, subscriberIds: string[], now: Date): Promise<void> {
    if (subscriberIds.length === 0) return;
    await tx.run(Q.supersedeDeferred, [subscriberIds, Reason.Superseded, now]);
  }

  private async reschedule(tx: Tx, subscriberIds: string[], now: Date): Promise<number> {
    if (subscriberIds.length === 0) return 0;
    await tx.run(Q.postpone, [subscriberIds, now]);
    return subscriberIds.length;
  }

  // ---- send time -----------------------------------------------------------------------------

  /** Consent is re-checked per entry at hand-over: a topic dropped since composing drops its entries. */
  private async check(tx: Sql, delivery: ClaimedDelivery): Promise<{ refused: GateVerdict } | { facts: DigestFacts }> {
    const consent = await subscriberGate(tx, delivery);
    if (consent) return { refused: consent };
    const still = await this.stillWanted(tx, delivery.subscriberId!, payloadOf(delivery).entries ?? []);
    if (still.length === 0) return { refused: { status: 'suppressed', reason: Reason.SuppressedEmpty } };
    return { facts: { entries: still } };
  }

  private async stillWanted(tx: Sql, subscriberId: string, entries: Entry[]): Promise<Entry[]> {
    const items = entries.filter((e) => e.type === 'item').map((e) => e.ref);
    const campaigns = entries.filter((e) => e.type === 'campaign').map((e) => e.ref);
    const okItems = await tx.rows(Q.itemsStillWanted, [subscriberId, items]);
    const okCampaigns = await tx.rows(Q.campaignsStillWanted, [campaigns]);
    const ok = new Set([...okItems, ...okCampaigns].map((r) => r.ref));
    return entries.filter((e) => ok.has(e.ref));
  }

  /**
   * What becomes of the entries: sent with the digest (each folded campaign counts as sent,
   * through it); kept for the same digest's next attempt; otherwise free for the next digest (a
   * digest that may have arrived included: at worst news told twice, never news lost).
   */
  private async after(tx: Sql, delivery: ClaimedDelivery, step: HandOverStep): Promise<void> {
    if (step.mail === 'went') {
      await tx.run(Q.foldedSent, [delivery.id, this.clock.now()]);
      return;
    }
    if (step.mail !== 'tries_again') await this.unlinkEntries(tx, delivery);
  }

  private async unlinkEntries(tx: Sql, delivery: ClaimedDelivery): Promise<void> {
    await tx.run(Q.unfoldCampaigns, [delivery.id]);
    await tx.run(Q.unlinkItems, [delivery.id]);
    await tx.run(Q.dropUnansweredQuestions, [delivery.id]);
  }

  private async compose(tx: Sql, delivery: ClaimedDelivery, facts: DigestFacts) {
    const entries = facts.entries;
    const de = delivery.locale === 'de';
    const rows = await tx.rows(Q.entries, [
      entries.filter((e) => e.type === 'item').map((e) => e.ref),
      entries.filter((e) => e.type === 'campaign').map((e) => e.ref),
      de,
    ]);
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
    const scores = await tx.rows(Q.topicScores, [subscriberId]);
    const ordered = orderSections([...sections.values()], new Map(scores.map((r) => [r.topic_id, topicScore(r.useful, r.not_useful)])));
    // A question about a topic the customer dropped meanwhile is not asked.
    const dropTopics = payloadOf(delivery).dropTopics ?? [];
    const questions = dropTopics.length ? await tx.rows(Q.dropQuestions, [dropTopics, subscriberId, de]) : [];
    const subscriber = await tx.row(Q.cadence, [subscriberId]);
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
