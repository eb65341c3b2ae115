// Every decision about one subscriber, newest first, each with its reason in words, and when the
// next marketing mail could go, or why none can: the explanation a customer or a support agent asks for.
import { Injectable } from '@nestjs/common';
import { CadenceService } from '../cadence/cadence.service';
import { notFound } from '../common/problem';
import { Db } from '../database/sql';
import type { MailEventKind, MailEventOutcome, MailEventSource } from '../mail-events/mail-event.policy';
import { NO_MARKETING_LABELS, NoMarketingReason, Reason, REASON_LABELS, readReason } from '../reasons/reason-codes';
import { SubscriberQueries as Q } from './subscribers.queries';

export interface TimelineEntry {
  id: string;
  at: string;
  class: string;
  kind: string;
  topic: string | null;
  refId: string | null;
  status: string;
  reason: string;
  reasonLabel: { de: string; en: string };
  nextAttemptAt: string | null;
  sentAt: string | null;
  attempts: number;
}

/** Something the customer did themselves, so the timeline can tell their choices from ours. */
export interface CustomerChoice {
  at: string;
  /** 'rated': answered useful / not useful; 'dropped_topic': answered "drop this topic?" with yes. */
  action: 'rated' | 'dropped_topic';
  by: 'customer';
  topic: string;
  rating?: string;
  itemType?: string;
  itemId?: string;
}

/** A bounce, complaint or unsubscribe that came back, with its evidence (mail_events). */
export interface MailEventEntry {
  /** When Tactful received it. */
  at: string;
  /** When the reporter says it happened. */
  occurredAt: string;
  kind: MailEventKind;
  source: MailEventSource;
  outcome: MailEventOutcome;
  /** The delivery it is about (an id of `items`), when known. */
  deliveryId: string | null;
  /** The Message-ID of the mail it is about, when known. */
  messageId: string | null;
  /** RFC 3463 status (`5.1.1`), `abuse` for a complaint, or the provider's code. */
  statusCode: string | null;
  /** The MTA's or provider's words (addresses removed). */
  diagnostic: string | null;
}

/** Decisions of months past the decision log's retention (DECISION_LOG_RETENTION_MONTHS): counted, no longer listed. */
export interface EarlierDecisions {
  class: string;
  status: string;
  count: number;
  firstAt: string;
  lastAt: string;
}

export interface Timeline {
  subscriberId: string;
  cadence: string;
  lastMarketingAt: string | null;
  /** The earliest a marketing mail could go; null when none can (see noMarketingBecause). */
  nextMarketingSlot: string | null;
  /** The next digest ("next newsletter"); null when none will come. */
  nextDigestAt: string | null;
  /** Why no marketing mail goes now: unsubscribed, bounced, complained, pending, no_confirmed_topic or paused; null when one can. */
  noMarketingBecause: NoMarketingReason | null;
  noMarketingLabel: { de: string; en: string } | null;
  /** The end of a pause (the dates above lie after it); null when not paused or paused until further notice. */
  pausedUntil: string | null;
  items: TimelineEntry[];
  nextCursor: string | null;
  /** The customer's own feedback and choices, newest first (at most 100). */
  customerChoices: CustomerChoice[];
  /** Bounces, complaints and unsubscribes that came back by mail or from the mail provider, newest first (at most 100). */
  mailEvents: MailEventEntry[];
  /** The decisions older than the log keeps, by class and status (empty until a month of theirs was dropped). */
  earlier: EarlierDecisions[];
}

@Injectable()
export class TimelineService {
  constructor(
    private readonly db: Db,
    private readonly cadence: CadenceService,
  ) {}

  async timeline(subscriberId: string, limit = 100, before?: string): Promise<Timeline> {
    const subscriber = await this.db.row(Q.cadenceOf, [subscriberId]);
    if (!subscriber) throw notFound('Subscriber', subscriberId);
    const rows = await this.db.rows(Q.timeline, [subscriberId, limit + 1, before ?? null]);
    const page = rows.slice(0, limit);
    const state = await this.cadence.outlook(subscriberId);
    if (!state) throw notFound('Subscriber', subscriberId);
    const choices = await this.db.rows(Q.customerChoices, [subscriberId]);
    const mailEvents = await this.db.rows(Q.mailEvents, [subscriberId]);
    const earlier = await this.db.rows(Q.earlierHistory, [subscriberId]);
    return {
      subscriberId,
      cadence: subscriber.cadence,
      lastMarketingAt: state.lastMarketingAt?.toISOString() ?? null,
      nextMarketingSlot: state.nextMarketingSlot?.toISOString() ?? null,
      nextDigestAt: state.nextDigestAt?.toISOString() ?? null,
      noMarketingBecause: state.noMarketingBecause,
      noMarketingLabel: state.noMarketingBecause ? NO_MARKETING_LABELS[state.noMarketingBecause] : null,
      pausedUntil: state.pausedUntil?.toISOString() ?? null,
      items: page.map((r) => ({
        id: r.id,
        at: (r.sent_at ?? r.updated_at).toISOString(),
        class: r.class,
        kind: r.kind,
        topic: r.topic,
        refId: r.ref_id,
        status: r.status,
        reason: readReason(r.reason),
        reasonLabel: REASON_LABELS[readReason(r.reason) as Reason] ?? { de: r.reason, en: r.reason },
        // A deferred item goes out in the customer's next digest: that date moves when they change
        // cadence or slot, or when another mail takes the window, so it is read now, not stored.
        nextAttemptAt: r.status === 'deferred' ? (state.nextDigestAt?.toISOString() ?? null) : r.status === 'queued' ? r.next_attempt_at.toISOString() : null,
        sentAt: r.sent_at?.toISOString() ?? null,
        attempts: r.attempts,
      })),
      nextCursor: rows.length > limit ? page[page.length - 1].id : null,
      customerChoices: choices.map((c) => ({
        at: c.at.toISOString(),
        action: c.action,
        by: 'customer' as const,
        topic: c.topic,
        ...(c.rating ? { rating: c.rating, itemType: c.item_type!, itemId: c.item_id! } : {}),
      })),
      mailEvents: mailEvents.map((e) => ({
        at: e.received_at.toISOString(),
        occurredAt: e.occurred_at.toISOString(),
        kind: e.kind,
        source: e.source,
        outcome: e.outcome,
        deliveryId: e.delivery_id,
        messageId: e.message_id,
        statusCode: e.status_code,
        diagnostic: e.diagnostic,
      })),
      earlier: earlier.map((e) => ({
        class: e.class,
        status: e.status,
        count: Number(e.n),
        firstAt: e.first_at.toISOString(),
        lastAt: e.last_at.toISOString(),
      })),
    };
  }
}
