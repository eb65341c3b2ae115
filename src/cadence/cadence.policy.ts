// The cadence policy: for one subscriber and one marketing item, at one moment, what happens?
// Pure, and the reference: the set-based SQL in campaign-dispatch decides for whole audiences and
// must agree with decide() (test/integration/decision-equivalence.spec.ts runs both on random
// states); the database constraints make the window hold under any concurrency.
import { NoMarketingReason, Reason } from '../reasons/reason-codes';
import { SubscriberStatus } from '../reasons/subscriber-states';
import { consentVerdict } from '../reasons/send-gate.policy';
import { QuietHours } from '../config/quiet-hours';
import { Cadence, nextDailySlot, nextSlot, outsideQuietHours, windowEnd } from './slots';

const HOUR_MS = 3_600_000;

export interface SubscriberSnapshot {
  status: string;
  /** This item's topic: the subscription's status, or null without one. */
  subscriptionStatus: string | null;
  inAudience: boolean;
  cadence: Cadence;
  timeZone: string;
  digestWeekday: number;
  digestHour: number;
  /** The last marketing mail sent or reserved (holding the window), or null. */
  lastMarketingAt: Date | null;
  /** False when the item's sender used up its share of this customer's windows (sender budget). */
  senderBudgetLeft?: boolean;
}

export interface ItemSnapshot {
  /** After this the item is stale: a deferred item that cannot go before it expires. */
  expiresAt: Date | null;
}

export type Decision =
  | { action: 'send'; reason: Reason.Queued | Reason.QueuedQuietHours; at: Date }
  | { action: 'defer'; reason: Reason.DeferredCadence | Reason.DeferredBudget; at: Date }
  | { action: 'suppress'; reason: Reason }
  | { action: 'expire'; reason: Reason.Expired };

/**
 * When the window opens again: the earliest instant another marketing mail may go. The window
 * counts calendar days in the customer's zone (a week is Monday 09:00 to Monday 09:00 local,
 * 167 or 169 hours across a daylight-saving change). Mirrors tactful_window_end() in SQL.
 */
export function windowOpensAt(s: Pick<SubscriberSnapshot, 'lastMarketingAt' | 'cadence' | 'timeZone'>): Date | null {
  return s.lastMarketingAt ? windowEnd(s.lastMarketingAt, s.timeZone, s.cadence) : null;
}

/**
 * The next digest: the subscriber's weekly slot while the window is free; when a mail holds the
 * window, the slot hour on the first day it is free again (never skipped, never doubled). A
 * window that opens inside the slot hour (last week's digest went out a few seconds after the
 * hour) keeps that day: the digest goes the moment the window opens, so the weekday never drifts.
 * Mirrored in SQL by tactful_next_digest() (migration CadenceAndCampaigns).
 */
export function nextDigestAt(s: Pick<SubscriberSnapshot, 'lastMarketingAt' | 'cadence' | 'timeZone' | 'digestWeekday' | 'digestHour'>, now: Date): Date {
  const opens = windowOpensAt(s);
  if (!opens || opens <= now) return nextSlot(now, s.timeZone, s.digestWeekday, s.digestHour);
  const slotHour = nextDailySlot(new Date(opens.getTime() - HOUR_MS + 1), s.timeZone, s.digestHour);
  return slotHour > opens ? slotHour : opens;
}

/**
 * Consent, audience, expiry, then the window. "Already received" is no decision: the idempotency
 * key (campaign and subscriber) lets a dispatch write one decision per customer, never a second.
 */
export function decide(s: SubscriberSnapshot, item: ItemSnapshot, now: Date, quiet: QuietHours): Decision {
  const consent = consentVerdict({ class: 'marketing', subscriberStatus: s.status, subscriptionStatus: s.subscriptionStatus, topicBound: true });
  if (consent) return { action: 'suppress', reason: consent };
  if (!s.inAudience) return { action: 'suppress', reason: Reason.SuppressedAudience };
  if (item.expiresAt && item.expiresAt <= now) return { action: 'expire', reason: Reason.Expired };

  const opens = windowOpensAt(s);
  if ((!opens || opens <= now) && s.senderBudgetLeft !== false) {
    const at = outsideQuietHours(now, s.timeZone, quiet);
    // Stale before quiet hours end: the digest (which goes at the customer's own hour) may still carry it.
    if (!item.expiresAt || item.expiresAt > at) {
      return { action: 'send', reason: at.getTime() === now.getTime() ? Reason.Queued : Reason.QueuedQuietHours, at };
    }
  }
  const digestAt = nextDigestAt(s, now);
  if (item.expiresAt && item.expiresAt <= digestAt) return { action: 'expire', reason: Reason.Expired };
  return { action: 'defer', reason: s.senderBudgetLeft === false ? Reason.DeferredBudget : Reason.DeferredCadence, at: digestAt };
}

/** What the timeline and the preferences page say about the customer's next marketing mail. */
export interface MarketingOutlook {
  /** The earliest a marketing mail could go, or null when none can. */
  nextMarketingSlot: Date | null;
  /** The next digest ("next newsletter"), or null when none will come. */
  nextDigestAt: Date | null;
  /** Why no marketing mail goes now (and, except for a pause with an end, none later either); null when one can. */
  noMarketingBecause: NoMarketingReason | null;
  /** The end of a pause; the dates above lie after it. */
  pausedUntil: Date | null;
}

export interface OutlookSnapshot extends Pick<SubscriberSnapshot, 'lastMarketingAt' | 'cadence' | 'timeZone' | 'digestWeekday' | 'digestHour'> {
  status: SubscriberStatus;
  pausedUntil: Date | null;
  /** At least one topic confirmed: without one, no campaign and no digest reaches them. */
  hasConfirmedTopic: boolean;
}

/**
 * Whether and when marketing can reach the customer, and if not, why: gone for good
 * (unsubscribed, bounced, complained), never confirmed (pending), no confirmed topic, or paused
 * (until the pause ends, or until further notice when it has no end).
 */
export function marketingOutlook(s: OutlookSnapshot, now: Date): MarketingOutlook {
  const none = (because: NoMarketingReason, pausedUntil: Date | null = null): MarketingOutlook => ({
    nextMarketingSlot: null,
    nextDigestAt: null,
    noMarketingBecause: because,
    pausedUntil,
  });
  if (s.status === 'unsubscribed' || s.status === 'bounced' || s.status === 'complained' || s.status === 'pending') return none(s.status);
  const pausedUntil = s.status === 'paused' ? s.pausedUntil : null;
  if (!s.hasConfirmedTopic) return none('no_confirmed_topic', pausedUntil);
  if (s.status === 'paused' && !pausedUntil) return none('paused');
  // A pause whose end has passed is over (the resume-paused job activates the customer shortly).
  const from = pausedUntil && pausedUntil > now ? pausedUntil : now;
  const opens = windowOpensAt(s);
  return {
    nextMarketingSlot: opens && opens > from ? opens : from,
    nextDigestAt: nextDigestAt(s, from),
    noMarketingBecause: from > now ? 'paused' : null,
    pausedUntil,
  };
}
