// May this mail still go to this person right now? Decided at the moment of hand-over to SMTP.
import { MessageClass, Reason } from './reason-codes';

export interface ConsentSnapshot {
  class: MessageClass;
  /** null: the subscriber no longer exists (erased). */
  subscriberStatus: string | null;
  /** For topic-bound marketing: the subscription's status, or null when there is none. */
  subscriptionStatus?: string | null;
  topicBound: boolean;
}

/**
 * Transactional mail goes to anyone reachable; service mail to anyone who has not complained;
 * marketing only to an active subscriber with a confirmed subscription to the topic.
 */
export function consentVerdict(s: ConsentSnapshot): Reason | null {
  const status = s.subscriberStatus;
  if (status === null) return Reason.SuppressedUnsubscribed;
  if (status === 'bounced') return Reason.SuppressedBounced;
  if (s.class === 'transactional') return null;
  if (status === 'complained') return Reason.SuppressedComplained;
  if (s.class === 'service') return null;
  if (status === 'unsubscribed') return Reason.SuppressedUnsubscribed;
  if (status === 'paused') return Reason.SuppressedPaused;
  if (status === 'pending') return Reason.SuppressedUnconfirmed;
  if (!s.topicBound) return null;
  if (s.subscriptionStatus === null || s.subscriptionStatus === undefined) return Reason.SuppressedNotSubscribed;
  if (s.subscriptionStatus === 'revoked') return Reason.SuppressedUnsubscribed;
  if (s.subscriptionStatus !== 'confirmed') return Reason.SuppressedUnconfirmed;
  return null;
}
