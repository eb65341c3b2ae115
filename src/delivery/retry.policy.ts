// What happens to a delivery after one SMTP attempt. Pure: the worker applies the result.
import { Reason } from '../reasons/reason-codes';

export type AttemptOutcome = 'sent' | 'retry' | 'bounce' | 'policy' | 'failed' | 'unknown';

export interface RetrySettings {
  maxAttempts: number;
  baseSeconds: number;
  domainPauseMinutes: number;
  /** How often a mail whose hand-over went unanswered is sent again (same Message-ID). */
  unknownResends: number;
}

export interface AttemptResult {
  status: 'sent' | 'queued' | 'failed' | 'unknown';
  reason: Reason;
  nextAttemptAt: Date | null;
  /** Also bounce the subscriber (hard bounce). */
  bounceSubscriber: boolean;
  /** Pause the recipient's domain until this time (5.7.x policy block). */
  pauseDomainUntil: Date | null;
  countsAsUnknown: boolean;
}

const CAP_SECONDS = 6 * 3600;

/** Exponential backoff with ±20 % jitter so retries of one outage do not arrive as one storm. */
export function backoffSeconds(attempts: number, baseSeconds: number, random: number): number {
  const exponential = Math.min(CAP_SECONDS, baseSeconds * 2 ** Math.max(0, attempts - 1));
  return Math.round(exponential * (0.8 + 0.4 * random));
}

export function afterAttempt(
  outcome: AttemptOutcome,
  state: { attempts: number; unknownOutcomes: number },
  settings: RetrySettings,
  now: Date,
  random: number,
): AttemptResult {
  const base: AttemptResult = {
    status: 'failed',
    reason: Reason.FailedPermanent,
    nextAttemptAt: null,
    bounceSubscriber: false,
    pauseDomainUntil: null,
    countsAsUnknown: false,
  };
  const later = (seconds: number) => new Date(now.getTime() + seconds * 1000);
  switch (outcome) {
    case 'sent':
      return { ...base, status: 'sent', reason: Reason.Sent };
    case 'retry':
      if (state.attempts >= settings.maxAttempts) return { ...base, reason: Reason.FailedRetriesExhausted };
      return { ...base, status: 'queued', reason: Reason.Retrying, nextAttemptAt: later(backoffSeconds(state.attempts, settings.baseSeconds, random)) };
    case 'bounce':
      return { ...base, reason: Reason.FailedBounced, bounceSubscriber: true };
    case 'policy': {
      const until = later(settings.domainPauseMinutes * 60);
      // A policy block is about us, not the mail: it waits for the domain, without using up attempts.
      return { ...base, status: 'queued', reason: Reason.DomainPaused, nextAttemptAt: until, pauseDomainUntil: until };
    }
    case 'failed':
      return base;
    case 'unknown':
      if (state.unknownOutcomes >= settings.unknownResends) {
        return { ...base, status: 'unknown', reason: Reason.UnknownOutcome, countsAsUnknown: true };
      }
      return { ...base, status: 'queued', reason: Reason.UnknownOutcome, nextAttemptAt: later(settings.baseSeconds), countsAsUnknown: true };
  }
}
