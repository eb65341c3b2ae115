import { Column, Entity, PrimaryColumn, PrimaryGeneratedColumn } from 'typeorm';
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

@Entity({ name: 'subscribers' })
export class Subscriber {
  @PrimaryGeneratedColumn('uuid')
  id: string;

  @Column('text')
  email: string;

  @Column('text')
  locale: 'de' | 'en';

  @Column({ name: 'time_zone', type: 'text' })
  timeZone: string;

  @Column('text')
  cadence: Cadence;

  @Column('text')
  status: SubscriberStatus;

  @Column('jsonb')
  attributes: Record<string, unknown>;

  @Column({ name: 'digest_weekday', type: 'smallint' })
  digestWeekday: number;

  @Column({ name: 'digest_hour', type: 'smallint' })
  digestHour: number;

  @Column({ name: 'paused_until', type: 'timestamptz', nullable: true })
  pausedUntil: Date | null;

  @Column('text')
  source: ConsentSource;

  @Column({ name: 'confirmed_at', type: 'timestamptz', nullable: true })
  confirmedAt: Date | null;

  @Column({ name: 'status_changed_at', type: 'timestamptz' })
  statusChangedAt: Date;

  @Column({ name: 'created_at', type: 'timestamptz' })
  createdAt: Date;

  @Column({ name: 'updated_at', type: 'timestamptz' })
  updatedAt: Date;
}

/** The consent record for one topic of one subscriber. */
@Entity({ name: 'topic_subscriptions' })
export class TopicSubscription {
  @PrimaryColumn({ name: 'subscriber_id', type: 'uuid' })
  subscriberId: string;

  @PrimaryColumn({ name: 'topic_id', type: 'uuid' })
  topicId: string;

  @Column('text')
  status: SubscriptionStatus;

  @Column({ name: 'consented_at', type: 'timestamptz' })
  consentedAt: Date;

  @Column({ name: 'consent_source', type: 'text' })
  consentSource: RecordedConsentSource;

  /** The API key that recorded this consent, when one did. */
  @Column({ name: 'consent_api_key_id', type: 'uuid', nullable: true })
  consentApiKeyId: string | null;

  @Column({ name: 'consent_ip', type: 'inet', nullable: true })
  consentIp: string | null;

  @Column({ name: 'consent_user_agent', type: 'text', nullable: true })
  consentUserAgent: string | null;

  @Column({ name: 'consent_text_version', type: 'text', nullable: true })
  consentTextVersion: string | null;

  @Column({ name: 'confirmed_at', type: 'timestamptz', nullable: true })
  confirmedAt: Date | null;

  @Column({ name: 'revoked_at', type: 'timestamptz', nullable: true })
  revokedAt: Date | null;

  @Column({ name: 'revocation_source', type: 'text', nullable: true })
  revocationSource: RevocationSource | null;

  @Column({ name: 'revoked_api_key_id', type: 'uuid', nullable: true })
  revokedApiKeyId: string | null;
}
