// The hand-over state machine of a marketing mail: what each outcome of its hand-over does to the
// customer's cadence window. Pure; CadenceService.applyWindowAction() carries the action out in
// SQL, and marketingKind() (delivery/marketing-hand-over.ts) runs this machine for every marketing
// kind (campaign, digest), so a kind supplies its own checks and side effects and never touches
// the window. A change to the window rule touches this table (and, for a new action, its SQL in
// window.queries.ts and CadenceService.applyWindowAction); no marketing kind.
import { Reason } from '../reasons/reason-codes';

/**
 * What happened to one marketing mail at (or instead of) its hand-over to SMTP.
 * - `gate_refused`: the kind's send-time check said no (consent gone, nothing left to send).
 * - `cancelled`: its campaign was cancelled before the hand-over (at the gate or by the cancel).
 * - `expired`: stale by the time it could go.
 * - `hand_over_lost`: the hand-over record lost to another marketing mail inside the window.
 * - `domain_paused`: held before the gate because the recipient's domain is paused; nothing tried.
 * - `sent`: the relay accepted it.
 * - `retry`: refused for now (a temporary error, or a policy block that pauses the domain).
 * - `unknown_outcome`: the whole message went and the answer was lost; it is sent once more.
 * - `unknown_given_up`: unanswered again; left for a human, never a third copy.
 * - `final_failure`: refused for good (permanent error, hard bounce, retries used up).
 */
export const HAND_OVER_OUTCOMES = [
  'gate_refused',
  'cancelled',
  'expired',
  'hand_over_lost',
  'domain_paused',
  'sent',
  'retry',
  'unknown_outcome',
  'unknown_given_up',
  'final_failure',
] as const;
export type HandOverOutcome = (typeof HAND_OVER_OUTCOMES)[number];

/**
 * What becomes of the window (docs/CONTEXT.md):
 * - `keep`: the reservation and the hand-over record stay as they are;
 * - `release`: the reservation is given back: the window returns to what it was before it
 *   (only while this mail still holds the reservation; a hand-over record, if any, stays);
 * - `yield`: the mail drops its claim and the window stays with the mail that holds it now;
 * - `forget`: the hand-over record goes (no send happened), the window stays taken.
 */
export type WindowAction = 'keep' | 'release' | 'yield' | 'forget';

/**
 * What becomes of the mail itself: it went; the same mail tries again later; it waits, deferred
 * into the customer's next digest (deferred_cadence); it will not go; or it may have gone.
 */
export type MailFate = 'went' | 'tries_again' | 'deferred_to_digest' | 'will_not_go' | 'may_have_gone';

export interface HandOverStep {
  window: WindowAction;
  mail: MailFate;
}

/**
 * The one table. Why each row:
 * - refused, cancelled, expired before any hand-over: the window this mail reserved is given back
 *   (a resend whose earlier answer was lost keeps its hand-over record: it may have arrived);
 * - lost: another mail went inside the window, so rewinding it would hide that mail; yield;
 * - paused before the gate: nothing happened; the reservation waits with the mail;
 * - sent, and both unknown outcomes: the mail (maybe) reached the customer; everything stays;
 * - retry: no send happened, so the record goes; the reservation stays for the next attempt;
 * - final failure: the record goes. The record's hand-over already moved the window to the
 *   attempt (and used up the reservation), so the window stays taken from the attempt.
 */
export const HAND_OVER_TABLE: Readonly<Record<HandOverOutcome, HandOverStep>> = {
  gate_refused: { window: 'release', mail: 'will_not_go' },
  cancelled: { window: 'release', mail: 'will_not_go' },
  expired: { window: 'release', mail: 'will_not_go' },
  hand_over_lost: { window: 'yield', mail: 'deferred_to_digest' },
  domain_paused: { window: 'keep', mail: 'tries_again' },
  sent: { window: 'keep', mail: 'went' },
  retry: { window: 'forget', mail: 'tries_again' },
  unknown_outcome: { window: 'keep', mail: 'tries_again' },
  unknown_given_up: { window: 'keep', mail: 'may_have_gone' },
  final_failure: { window: 'forget', mail: 'will_not_go' },
};

export function handOverStep(outcome: HandOverOutcome): HandOverStep {
  return HAND_OVER_TABLE[outcome];
}

/** The outcome of a refusal at the gate, from the verdict's reason. */
export function refusalOutcome(reason: Reason): HandOverOutcome {
  if (reason === Reason.Expired) return 'expired';
  if (reason === Reason.SuppressedCancelled) return 'cancelled';
  return 'gate_refused';
}

/** The outcome of an SMTP attempt, from the status and reason the worker recorded (retry.policy.ts). */
export function attemptOutcome(status: string, reason: Reason): HandOverOutcome {
  if (status === 'sent') return 'sent';
  if (status === 'unknown') return 'unknown_given_up';
  if (status === 'queued') return reason === Reason.UnknownOutcome ? 'unknown_outcome' : 'retry';
  return 'final_failure';
}
