import type { Cadence } from '../cadence/slots';
import type { SubscriberStatus, SubscriptionStatus } from '../reasons/subscriber-states';

export const CONSENT_SOURCES = ['api', 'import', 'form', 'webinar'] as const;
export type ConsentSource = (typeof CONSENT_SOURCES)[number];
/**
 * What a consent record may say: the sources a caller may claim, and `preferences_page`, written
 * only by Tactful itself when the person chose a topic on their own page (never accepted as input).
 */
export const RECORDED_CONSENT_SOURCES = [...CONSENT_SOURCES, 'preferences_page'] as const;
export type RecordedConsentSource = (typeof RECORDED_CONSENT_SOURCES)[number];
/** Who revoked a topic: the person (their page, the one-click link, the "drop this topic?" answer) or an API key. */
export const REVOCATION_SOURCES = ['preferences_page', 'unsubscribe_link', 'feedback', 'api'] as const;
export type RevocationSource = (typeof REVOCATION_SOURCES)[number];
export interface Subscriber {
  id: string;
  email: string;
  locale: 'de' | 'en';
  timeZone: string;
  cadence: Cadence;
  status: SubscriberStatus;
  attributes: Record<string, unknown>;
  digestWeekday: number;
  digestHour: number;
  pausedUntil: Date | null;
  source: ConsentSource;
  confirmedAt: Date | null;
  statusChangedAt: Date;
  createdAt: Date;
  updatedAt: Date;
}

/** The consent record for one topic of one subscriber. */
export interface TopicSubscription {
  subscriberId: string;
  topicId: string;
  status: SubscriptionStatus;
  consentedAt: Date;
  consentSource: RecordedConsentSource;

  /** The API key that recorded this consent, when one did. */
  consentApiKeyId: string | null;
  consentIp: string | null;
  consentUserAgent: string | null;
  consentTextVersion: string | null;
  confirmedAt: Date | null;
  revokedAt: Date | null;
  revocationSource: RevocationSource | null;
  revokedApiKeyId: string | null;
}
