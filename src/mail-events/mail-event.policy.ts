// What a bounce, complaint or unsubscribe that came back does to a person. Pure: the service
// (mail-events.service.ts) gathers the facts in its transaction and enforces the answer in SQL.
import { MessageClass, Reason } from '../reasons/reason-codes';

/** What came back. `delayed`: an MTA still retries (RFC 3464 Action: delayed); evidence only. */
export const MAIL_EVENT_KINDS = ['hard_bounce', 'soft_bounce', 'delayed', 'complaint', 'unsubscribe'] as const;
export type MailEventKind = (typeof MAIL_EVENT_KINDS)[number];

/** Who sent word: a DSN or an ARF report over SMTP, a mail to the mailto, a provider, Tactful's own webhook. */
export const MAIL_EVENT_SOURCES = ['smtp-dsn', 'arf', 'mailto', 'ses', 'sendgrid', 'postmark', 'mailgun', 'webhook'] as const;
export type MailEventSource = (typeof MAIL_EVENT_SOURCES)[number];

/**
 * What Tactful did: blocked the person or address (`bounced`, `complained`, `unsubscribed`),
 * counted a soft bounce below the limit (`counted`), kept it as evidence only (`noted`: a
 * delay, or a status the person already had), or found nobody it is about (`none`).
 */
export const MAIL_EVENT_OUTCOMES = ['bounced', 'complained', 'unsubscribed', 'counted', 'noted', 'none'] as const;
export type MailEventOutcome = (typeof MAIL_EVENT_OUTCOMES)[number];

/**
 * An RFC 3463 enhanced status code (`5.1.1`, `4.2.2`) or a basic SMTP reply code (550, 421) as
 * hard (permanent), soft (transient), or null (a success, or nothing recognisable).
 */
export function bounceClass(status: string | null | undefined): 'hard' | 'soft' | null {
  const text = (status ?? '').trim();
  const enhanced = /^([245])\.\d{1,3}\.\d{1,3}\b/.exec(text) ?? /\b([245])\.\d{1,3}\.\d{1,3}\b/.exec(text);
  const basic = /^([245])\d\d\b/.exec(text) ?? /\b([45])\d\d[\s-]/.exec(text);
  const digit = enhanced?.[1] ?? basic?.[1];
  return digit === '5' ? 'hard' : digit === '4' ? 'soft' : null;
}

/** One RFC 3464 per-recipient block as a kind: failed 5.x.x hard, failed 4.x.x soft, delayed; else null. */
export function dsnKind(action: string | null | undefined, status: string | null | undefined): MailEventKind | null {
  const act = (action ?? '').trim().toLowerCase();
  if (act === 'delayed') return 'delayed';
  if (act !== 'failed') return null; // delivered, relayed, expanded: nothing went wrong
  // A failure without a usable status is permanent: the MTA gave up on it.
  return bounceClass(status) === 'soft' ? 'soft_bounce' : 'hard_bounce';
}

export interface PersonState {
  /** The subscriber's status, or null for an address without a subscriber (order and shipment mail). */
  subscriberStatus: string | null;
  /** Soft bounces of the address within the window, this one included (distinct mails). */
  softBouncesInWindow: number;
}

export interface SoftBouncePolicy {
  limit: number;
  days: number;
}

export interface MailEventDecision {
  outcome: MailEventOutcome;
  /** The subscriber's new status, or null to leave it. */
  newStatus: 'bounced' | 'complained' | 'unsubscribed' | null;
  /** Revoke every topic subscription (a complaint, an unsubscribe). */
  revokeTopics: boolean;
  /** For an address without a subscriber: remember it as blocked. */
  blockAddress: 'bounced' | 'complained' | null;
  /** Queued mail of these classes is now suppressed by the gate: it is made due so the gate decides it now. */
  suppressClasses: readonly MessageClass[];
  /** The reason the gate will give those mails. */
  reason: Reason | null;
}

const NOTHING = { newStatus: null, revokeTopics: false, blockAddress: null, suppressClasses: [], reason: null } as const;
const ALL: readonly MessageClass[] = ['marketing', 'service', 'transactional'];

/**
 * What one event does. A hard bounce, or the soft bounce that reaches the limit, blocks every
 * mail; a complaint everything but transactional mail (the receipt of an order still goes); an
 * unsubscribe marketing mail. A bounce outranks a complaint, and both outrank an unsubscribe: a
 * later, weaker event never lifts a stronger block.
 */
export function decideMailEvent(kind: MailEventKind, person: PersonState, policy: SoftBouncePolicy): MailEventDecision {
  const status = person.subscriberStatus;
  const subscriber = status !== null;
  const bounce = (): MailEventDecision =>
    subscriber
      ? status === 'bounced'
        ? { outcome: 'noted', ...NOTHING }
        : { outcome: 'bounced', newStatus: 'bounced', revokeTopics: false, blockAddress: null, suppressClasses: ALL, reason: Reason.SuppressedBounced }
      : { outcome: 'bounced', ...NOTHING, blockAddress: 'bounced' };
  switch (kind) {
    case 'delayed':
      return { outcome: 'noted', ...NOTHING };
    case 'hard_bounce':
      return bounce();
    case 'soft_bounce':
      return person.softBouncesInWindow >= policy.limit ? bounce() : { outcome: 'counted', ...NOTHING };
    case 'complaint':
      if (!subscriber) return { outcome: 'complained', ...NOTHING, blockAddress: 'complained' };
      if (status === 'bounced' || status === 'complained') return { outcome: 'noted', ...NOTHING };
      return {
        outcome: 'complained',
        newStatus: 'complained',
        revokeTopics: true,
        blockAddress: null,
        suppressClasses: ['marketing', 'service'],
        reason: Reason.SuppressedComplained,
      };
    case 'unsubscribe':
      if (!subscriber) return { outcome: 'none', ...NOTHING };
      if (status === 'bounced' || status === 'complained' || status === 'unsubscribed') return { outcome: 'noted', ...NOTHING };
      return {
        outcome: 'unsubscribed',
        newStatus: 'unsubscribed',
        revokeTopics: true,
        blockAddress: null,
        suppressClasses: ['marketing'],
        reason: Reason.SuppressedUnsubscribed,
      };
  }
}
