// The cadence policy: for one subscriber and one marketing item, at one moment, what happens?
// Pure. The set-based SQL in campaign-dispatch enforces the same rules for whole audiences, and
// the database constraints make the window hold under any concurrency.
import { Reason } from '../delivery/reason-codes';
import { Cadence } from '../subscribers/subscriber.entity';
import { consentVerdict } from '../delivery/send-gate.policy';
import { nextDailySlot, nextSlot, outsideQuietHours, QuietHours, windowMs } from './slots';

export interface SubscriberSnapshot {
  status: string;
  /** This item's topic: the subscription's status, or null without one. */
  subscriptionStatus: string | null;
  inAudience: boolean;
  alreadyReceived: boolean;
  cadence: Cadence;
  timeZone: string;
  digestWeekday: number;
  digestHour: number;
  /** The last marketing mail sent or reserved (holding the window), or null. */
  lastMarketingAt: Date | null;
}

export interface ItemSnapshot {
  /** After this the item is stale: a deferred item that cannot go before it expires. */
  expiresAt: Date | null;
}

export type Decision =
  | { action: 'send'; reason: Reason.Queued | Reason.SuppressedQuietHours; at: Date }
  | { action: 'defer'; reason: Reason.DeferredCadence; at: Date }
  | { action: 'suppress'; reason: Reason }
  | { action: 'expire'; reason: Reason.Expired };

/** When the window opens again: the earliest instant another marketing mail may go. */
export function windowOpensAt(s: Pick<SubscriberSnapshot, 'lastMarketingAt' | 'cadence'>): Date | null {
  return s.lastMarketingAt ? new Date(s.lastMarketingAt.getTime() + windowMs(s.cadence)) : null;
}

/**
 * The next digest: the subscriber's weekly slot while the window is free; when a mail holds the
 * window, the slot hour on the first day it is free again (never skipped, never doubled).
 * Mirrored in SQL by tactful_next_digest() (migration CadenceAndCampaigns).
 */
export function nextDigestAt(s: Pick<SubscriberSnapshot, 'lastMarketingAt' | 'cadence' | 'timeZone' | 'digestWeekday' | 'digestHour'>, now: Date): Date {
  const opens = windowOpensAt(s);
  if (!opens || opens <= now) return nextSlot(now, s.timeZone, s.digestWeekday, s.digestHour);
  return nextDailySlot(opens, s.timeZone, s.digestHour);
}

export function decide(s: SubscriberSnapshot, item: ItemSnapshot, now: Date, quiet: QuietHours): Decision {
  const consent = consentVerdict({ class: 'marketing', subscriberStatus: s.status, subscriptionStatus: s.subscriptionStatus, topicBound: true });
  if (consent) return { action: 'suppress', reason: consent };
  if (!s.inAudience) return { action: 'suppress', reason: Reason.SuppressedAudience };
  if (s.alreadyReceived) return { action: 'suppress', reason: Reason.SuppressedDuplicate };
  if (item.expiresAt && item.expiresAt <= now) return { action: 'expire', reason: Reason.Expired };

  const opens = windowOpensAt(s);
  if (!opens || opens <= now) {
    const at = outsideQuietHours(now, s.timeZone, quiet);
    if (item.expiresAt && item.expiresAt <= at) return { action: 'expire', reason: Reason.Expired };
    return { action: 'send', reason: at.getTime() === now.getTime() ? Reason.Queued : Reason.SuppressedQuietHours, at };
  }
  const digestAt = nextDigestAt(s, now);
  if (item.expiresAt && item.expiresAt <= digestAt) return { action: 'expire', reason: Reason.Expired };
  return { action: 'defer', reason: Reason.DeferredCadence, at: digestAt };
}
