import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { Transform, Type } from 'class-transformer';
import {
  ArrayMaxSize,
  IsArray,
  IsEmail,
  IsIn,
  IsInt,
  IsIP,
  IsObject,
  IsString,
  Length,
  Matches,
  Max,
  MaxLength,
  Min,
  ValidateNested,
} from 'class-validator';
import { Omittable } from '../../common/validation';
import { IsInstant } from '../../common/instants';
import { LOCALES, Locale } from '../../config/config';
import { Cadence, CADENCES } from '../../cadence/slots';
import { SUBSCRIBER_STATUSES, SubscriberStatus, SUBSCRIPTION_STATUSES } from '../../reasons/subscriber-states';
import { CONSENT_SOURCES, ConsentSource, RECORDED_CONSENT_SOURCES, REVOCATION_SOURCES } from '../subscriber.entity';
import { IsTimeZone } from '../../common/time-zones';
import { ApiInstant, ApiInteger, ApiUuid, ATTRIBUTE_MAP, FieldErrorResponse } from '../../common/openapi';
import { DELIVERY_STATUSES, MESSAGE_CLASSES, REASONS } from '../../reasons/reason-codes';
import { RATINGS } from '../../feedback/feedback.policy';
import type { FieldError } from '../../common/problem';
import { IsAttributeMap } from './attributes.validator';
import { IsSlug } from '../../common/slug';

/** Proof of consent. With `confirmedAt` the subscriber counts as confirmed; without it they get a double opt-in. */
export class ConsentDto {
  @ApiPropertyOptional({ enum: CONSENT_SOURCES, default: 'api', description: 'Where the consent was given.' })
  @Omittable()
  @IsIn(CONSENT_SOURCES)
  source?: ConsentSource;

  @ApiPropertyOptional({
    format: 'date-time',
    example: '2026-03-01T10:15:00Z',
    description: 'When the person confirmed (double opt-in done elsewhere). Requires `source`. Must not lie in the future.',
  })
  @Omittable()
  @IsInstant()
  confirmedAt?: string;

  @ApiPropertyOptional({ example: '203.0.113.7' })
  @Omittable()
  @IsIP()
  ip?: string;

  @ApiPropertyOptional({ example: 'Mozilla/5.0 …' })
  @Omittable()
  @IsString()
  @MaxLength(500)
  userAgent?: string;

  @ApiPropertyOptional({ example: 'newsletter-form-v3', description: 'Version of the consent text the person was shown.' })
  @Omittable()
  @IsString()
  @MaxLength(100)
  textVersion?: string;
}

export class CreateSubscriberDto {
  @ApiProperty({ example: 'anna.schmidt@example.de', description: 'Trimmed and lower-cased before it is stored.' })
  @Transform(({ value }) => (typeof value === 'string' ? value.trim() : value))
  @IsString()
  @MaxLength(254)
  @IsEmail({ allow_display_name: false, require_tld: true, allow_ip_domain: false }, { message: 'must be a valid e-mail address' })
  email: string;

  @ApiPropertyOptional({ enum: LOCALES, description: 'Defaults to DEFAULT_LOCALE.' })
  @Omittable()
  @IsIn(LOCALES)
  locale?: Locale;

  @ApiPropertyOptional({ format: 'time-zone', example: 'Europe/Berlin', description: 'IANA time zone; decides quiet hours and the digest slot.' })
  @Omittable()
  @IsString()
  @IsTimeZone()
  timeZone?: string;

  @ApiPropertyOptional({ enum: CADENCES, default: 'weekly', description: 'At most one marketing mail per week or per two weeks.' })
  @Omittable()
  @IsIn(CADENCES)
  cadence?: Cadence;

  @ApiPropertyOptional({ type: 'integer', minimum: 1, maximum: 7, default: 1, description: 'Digest weekday, ISO (1 = Monday).' })
  @Omittable()
  @IsInt()
  @Min(1)
  @Max(7)
  digestWeekday?: number;

  @ApiPropertyOptional({ type: 'integer', minimum: 0, maximum: 23, default: 9, description: 'Digest hour in the subscriber’s time zone.' })
  @Omittable()
  @IsInt()
  @Min(0)
  @Max(23)
  digestHour?: number;

  @ApiPropertyOptional({
    ...ATTRIBUTE_MAP,
    example: { company: 'Bäckerei Kunz', segment: 'retail', customerSince: 2019 },
    description: 'Free attributes for audience filters: string, number, boolean or null values, at most 50 keys.',
  })
  @Omittable()
  @IsObject()
  @IsAttributeMap()
  attributes?: Record<string, string | number | boolean | null>;

  @ApiPropertyOptional({ example: ['trade-fairs', 'offers'], description: 'Topic keys the person chose.' })
  @Omittable()
  @IsArray()
  @ArrayMaxSize(100)
  @IsString({ each: true })
  @IsSlug('must be topic keys', { each: true })
  topics?: string[];

  @ApiPropertyOptional({ type: ConsentDto })
  @Omittable()
  @IsObject()
  @ValidateNested()
  @Type(() => ConsentDto)
  consent?: ConsentDto;
}

export class UpdateSubscriberDto {
  @ApiPropertyOptional({ enum: LOCALES })
  @Omittable()
  @IsIn(LOCALES)
  locale?: Locale;

  @ApiPropertyOptional({ format: 'time-zone', example: 'America/New_York' })
  @Omittable()
  @IsString()
  @IsTimeZone()
  timeZone?: string;

  @ApiPropertyOptional({ enum: CADENCES })
  @Omittable()
  @IsIn(CADENCES)
  cadence?: Cadence;

  @ApiPropertyOptional({ type: 'integer', minimum: 1, maximum: 7 })
  @Omittable()
  @IsInt()
  @Min(1)
  @Max(7)
  digestWeekday?: number;

  @ApiPropertyOptional({ type: 'integer', minimum: 0, maximum: 23 })
  @Omittable()
  @IsInt()
  @Min(0)
  @Max(23)
  digestHour?: number;

  @ApiPropertyOptional({ ...ATTRIBUTE_MAP, example: { company: 'Bäckerei Kunz', segment: 'wholesale' }, description: 'Replaces the attributes.' })
  @Omittable()
  @IsObject()
  @IsAttributeMap()
  attributes?: Record<string, string | number | boolean | null>;

  @ApiPropertyOptional({
    enum: ['active', 'paused', 'unsubscribed'],
    description: 'Pause, resume or unsubscribe. Only a confirmed subscriber can be made active.',
  })
  @Omittable()
  @IsIn(['active', 'paused', 'unsubscribed'])
  status?: Extract<SubscriberStatus, 'active' | 'paused' | 'unsubscribed'>;

  @ApiPropertyOptional({
    example: ['trade-fairs'],
    description: 'The full set of topics: missing ones are revoked (kept as consent history), new ones start pending unless `consent.confirmedAt` is given.',
  })
  @Omittable()
  @IsArray()
  @ArrayMaxSize(100)
  @IsString({ each: true })
  @IsSlug('must be topic keys', { each: true })
  topics?: string[];

  @ApiPropertyOptional({ type: ConsentDto, description: 'Consent evidence for topics added in this request.' })
  @Omittable()
  @IsObject()
  @ValidateNested()
  @Type(() => ConsentDto)
  consent?: ConsentDto;
}

export class ListSubscribersQuery {
  @ApiPropertyOptional({ enum: SUBSCRIBER_STATUSES })
  @Omittable()
  @IsIn(SUBSCRIBER_STATUSES)
  status?: SubscriberStatus;

  @ApiPropertyOptional({ description: 'Only subscribers with a confirmed subscription to this topic key.' })
  @Omittable()
  @IsString()
  @Length(1, 63)
  topic?: string;

  @ApiPropertyOptional({ enum: LOCALES })
  @Omittable()
  @IsIn(LOCALES)
  locale?: Locale;

  @ApiPropertyOptional({ enum: CADENCES })
  @Omittable()
  @IsIn(CADENCES)
  cadence?: Cadence;

  @ApiPropertyOptional({ description: 'Exact e-mail address (case-insensitive).' })
  @Omittable()
  @IsString()
  @MaxLength(254)
  email?: string;

  @ApiPropertyOptional({ type: 'integer', minimum: 1, maximum: 500, default: 50 })
  @Omittable()
  @Type(() => Number)
  @IsInt()
  @Min(1)
  @Max(500)
  limit?: number;

  @ApiPropertyOptional({ description: 'The `nextCursor` of the previous page.' })
  @Omittable()
  @IsString()
  @Matches(/^[0-9a-f-]{36}$/, { message: 'must be a cursor returned by a previous page' })
  after?: string;
}

export class ApiKeyRef {
  @ApiUuid() id: string;
  @ApiProperty({ nullable: true, type: String, example: 'newsletter team' }) name: string | null;
}

export class TopicSubscriptionResponse {
  @ApiProperty({ example: 'trade-fairs' }) topic: string;
  @ApiProperty({ enum: SUBSCRIPTION_STATUSES }) status: string;
  @ApiInstant({ description: 'When the consent (or the request for it) was recorded.' }) consentedAt: string;
  @ApiProperty({
    enum: RECORDED_CONSENT_SOURCES,
    description: '`preferences_page`: the person chose it on their own page (`ip`, `userAgent` are their browser’s); `api`: an API key did (`apiKey`). Records from before these were told apart may say `form` for the page.',
  })
  source: string;
  @ApiProperty({ nullable: true, type: String, example: '203.0.113.7' }) ip: string | null;
  @ApiProperty({ nullable: true, type: String }) userAgent: string | null;
  @ApiProperty({ nullable: true, type: String, example: 'form-v3' }) textVersion: string | null;
  @ApiInstant({ nullable: true }) confirmedAt: string | null;
  @ApiInstant({ nullable: true }) revokedAt: string | null;
  @ApiProperty({ nullable: true, type: ApiKeyRef, description: 'The API key that recorded this consent, if one did.' }) apiKey: ApiKeyRef | null;
  @ApiProperty({ nullable: true, enum: REVOCATION_SOURCES, description: 'Who revoked it: the person (their page, the one-click link, the “drop this topic?” answer) or an API key.' })
  revocationSource: string | null;
  @ApiProperty({ nullable: true, type: ApiKeyRef }) revokedByApiKey: ApiKeyRef | null;
}

export class SubscriberResponse {
  @ApiUuid() id: string;
  @ApiProperty({ example: 'anna.schmidt@example.de', description: 'Trimmed and lower-cased.' }) email: string;
  @ApiProperty({ enum: LOCALES }) locale: string;
  @ApiProperty({ format: 'time-zone', example: 'Europe/Berlin' }) timeZone: string;
  @ApiProperty({ enum: CADENCES }) cadence: string;
  @ApiProperty({ enum: SUBSCRIBER_STATUSES }) status: string;
  @ApiProperty({ ...ATTRIBUTE_MAP, example: { company: 'Acme Ltd' } })
  attributes: Record<string, unknown>;
  @ApiInteger({ minimum: 1, maximum: 7, description: 'Digest weekday, ISO (1 = Monday).' }) digestWeekday: number;
  @ApiInteger({ minimum: 0, maximum: 23, description: 'Digest hour in the subscriber’s time zone.' }) digestHour: number;
  @ApiInstant({ nullable: true }) pausedUntil: string | null;
  @ApiInstant({ nullable: true, description: 'When the person confirmed (double opt-in, or consent evidence given).' }) confirmedAt: string | null;
  @ApiProperty({ enum: CONSENT_SOURCES }) source: string;
  @ApiInstant() createdAt: string;
  @ApiInstant() updatedAt: string;
  @ApiProperty({ type: [TopicSubscriptionResponse] }) topics: TopicSubscriptionResponse[];

  /** Anna from the walkthrough: added without consent evidence, so `pending` with a double opt-in mail. */
  static readonly example: SubscriberResponse = {
    id: '0195f2a4-7c1e-7b3a-9d2e-5a1b2c3d4e5f',
    email: 'anna.schmidt@example.de',
    locale: 'de',
    timeZone: 'Europe/Berlin',
    cadence: 'biweekly',
    status: 'pending',
    attributes: {},
    digestWeekday: 1,
    digestHour: 9,
    pausedUntil: null,
    confirmedAt: null,
    source: 'api',
    createdAt: '2026-11-24T11:06:42.972Z',
    updatedAt: '2026-11-24T11:06:42.972Z',
    topics: [
      {
        topic: 'trade-fairs',
        status: 'pending',
        consentedAt: '2026-11-24T11:06:42.972Z',
        source: 'api',
        ip: null,
        userAgent: null,
        textVersion: null,
        confirmedAt: null,
        revokedAt: null,
        apiKey: { id: '0195f2a3-0000-7000-8000-00000000a001', name: 'admin' },
        revocationSource: null,
        revokedByApiKey: null,
      },
    ],
  };
}

export class SubscriberPage {
  @ApiProperty({ type: [SubscriberResponse] }) items: SubscriberResponse[];
  @ApiProperty({ nullable: true, type: String, format: 'uuid', description: 'Pass as `after` for the next page; null on the last page.' })
  nextCursor: string | null;
}

/** What an import did (SubscriberImportService.import); ImportReportResponse documents it. */
export interface ImportReport {
  atomic: boolean;
  applied: boolean;
  received: number;
  created: number;
  updated: number;
  rejected: number;
  errors: FieldError[];
  /** Set when more rows were bad than the report lists. */
  errorsTruncated: boolean;
}

export class ImportReportResponse implements ImportReport {
  @ApiProperty({ description: 'Whether `atomic=true` was asked for.' }) atomic: boolean;
  @ApiProperty({ description: 'Whether the good rows were stored (false only when an atomic import met a bad row: then the answer is a 422).' }) applied: boolean;
  @ApiInteger({ minimum: 0, description: 'Rows in the body.' }) received: number;
  @ApiInteger({ minimum: 0 }) created: number;
  @ApiInteger({ minimum: 0, description: 'Rows whose address was known: updated by e-mail.' }) updated: number;
  @ApiInteger({ minimum: 0 }) rejected: number;
  @ApiProperty({ type: [FieldErrorResponse], description: 'Each bad row, by its 1-based `row`.' }) errors: FieldErrorResponse[];
  @ApiProperty({ description: 'More rows were bad than `errors` lists.' }) errorsTruncated: boolean;

  /** The walkthrough's CSV: two good rows, two bad ones. */
  static readonly example: ImportReportResponse = {
    atomic: false,
    applied: true,
    received: 4,
    created: 2,
    updated: 0,
    rejected: 2,
    errors: [
      { row: 3, field: 'email', message: 'must be a valid e-mail address' },
      { row: 4, field: 'timeZone', message: 'must be an IANA time zone such as Europe/Berlin' },
    ],
    errorsTruncated: false,
  };
}

// GET /v1/subscribers/:id/export lists the stored rows as they are (column names included): a
// GDPR access request asks for what is stored, not for a view of it.

export class ExportDoubleOptIn {
  @ApiInstant({ nullable: true }) confirmed_at: string | null;
  @ApiProperty({ nullable: true, type: String, example: '203.0.113.7' }) confirmation_ip: string | null;
  @ApiProperty({ nullable: true, type: String }) confirmation_user_agent: string | null;
}

export class ExportDelivery {
  @ApiProperty({ example: '4711', description: 'The decision’s id (a 64-bit integer, as a string).' }) id: string;
  @ApiInstant() created_at: string;
  @ApiInstant({ nullable: true }) sent_at: string | null;
  @ApiProperty({ enum: MESSAGE_CLASSES }) class: string;
  @ApiProperty({ example: 'campaign', description: 'Which message: campaign, digest, confirm_subscription, order_confirmation, …' }) kind: string;
  @ApiProperty({ nullable: true, type: String, example: 'trade-fairs' }) topic: string | null;
  @ApiProperty({ nullable: true, type: String, description: 'The campaign, shipment or registration it belongs to.' }) ref_id: string | null;
  @ApiProperty({ enum: DELIVERY_STATUSES }) status: string;
  @ApiProperty({ enum: REASONS, enumName: 'Reason' }) reason: string;
  @ApiProperty({ nullable: true, type: String, description: 'The Message-ID of the mail handed to SMTP.' }) message_id: string | null;
}

export class ExportWebinarRegistration {
  @ApiUuid() id: string;
  @ApiProperty({ example: 'payment-terms-2026', description: 'The webinar’s slug.' }) webinar: string;
  @ApiProperty({ enum: ['registered', 'unregistered', 'cancelled'] }) status: string;
  @ApiProperty({ enum: ['page', 'api', 'series'] }) source: string;
  @ApiInstant() registered_at: string;
  @ApiInstant({ nullable: true }) unregistered_at: string | null;
  @ApiProperty({ nullable: true, type: Boolean }) attended: boolean | null;
}

/** What the public webinar form recorded for the address: a registration asked for, and whether it was confirmed. */
export class ExportWebinarRegistrationRequest {
  @ApiProperty({ example: 'payment-terms-2026', description: 'The webinar’s slug.' }) webinar: string;
  @ApiProperty({ enum: ['pending', 'confirmed'] }) status: string;
  @ApiProperty({ enum: ['de', 'en'] }) locale: string;
  @ApiProperty({ example: 'Europe/Berlin' }) time_zone: string;
  @ApiProperty({ nullable: true, type: String }) first_name: string | null;
  @ApiProperty() series: boolean;
  @ApiProperty({ nullable: true, type: String, description: 'The client address of the submission that sent the last confirmation mail.' }) ip: string | null;
  @ApiProperty({ nullable: true, type: String }) user_agent: string | null;
  @ApiProperty({ type: 'integer', description: 'Confirmation mails sent for it.' }) mails: number;
  @ApiInstant({ nullable: true }) last_mail_at: string | null;
  @ApiInstant({ nullable: true }) confirmed_at: string | null;
  @ApiInstant() created_at: string;
}

export class ExportFeedback {
  @ApiProperty({ enum: ['campaign', 'digest_item'] }) item_type: string;
  @ApiUuid() item_id: string;
  @ApiProperty({ example: 'trade-fairs' }) topic: string;
  @ApiProperty({ enum: RATINGS }) rating: string;
  @ApiProperty({ nullable: true, type: String }) comment: string | null;
  @ApiInstant() created_at: string;
  @ApiInstant() updated_at: string;
}

export class ExportTopicSuggestion {
  @ApiProperty({ example: 'Trade fair dates in Austria' }) text: string;
  @ApiInstant() created_at: string;
}

export class ExportDropTopicQuestion {
  @ApiProperty({ example: 'offers' }) topic: string;
  @ApiInstant() asked_at: string;
  @ApiProperty({ nullable: true, enum: ['dropped'], description: 'null: not answered (the topic stays).' }) answer: string | null;
  @ApiInstant({ nullable: true }) answered_at: string | null;
}

export class SubscriberExport {
  @ApiInstant() exportedAt: string;
  @ApiProperty({ type: SubscriberResponse }) subscriber: SubscriberResponse;
  @ApiProperty({ type: ExportDoubleOptIn, description: 'The evidence of the double opt-in.' }) doubleOptIn: ExportDoubleOptIn;
  @ApiProperty({ type: [ExportDelivery], description: 'Every decision about the person, oldest first.' }) deliveries: ExportDelivery[];
  @ApiProperty({ type: [ExportWebinarRegistration] }) webinarRegistrations: ExportWebinarRegistration[];
  @ApiProperty({ type: [ExportWebinarRegistrationRequest], description: 'Registrations asked for on the public form (double opt-in).' })
  webinarRegistrationRequests: ExportWebinarRegistrationRequest[];
  @ApiProperty({ type: [ExportFeedback], description: 'Ratings and comments.' }) feedback: ExportFeedback[];
  @ApiProperty({ type: [ExportTopicSuggestion] }) topicSuggestions: ExportTopicSuggestion[];
  @ApiProperty({ type: [ExportDropTopicQuestion], description: 'The “drop this topic?” questions and their answers.' }) dropTopicQuestions: ExportDropTopicQuestion[];

  static readonly example: SubscriberExport = {
    exportedAt: '2026-11-26T10:00:00.000Z',
    subscriber: { ...SubscriberResponse.example, status: 'active', confirmedAt: '2026-11-24T11:20:00.000Z' },
    doubleOptIn: { confirmed_at: '2026-11-24T11:20:00.000Z', confirmation_ip: '203.0.113.7', confirmation_user_agent: 'Mozilla/5.0' },
    deliveries: [
      {
        id: '17',
        created_at: '2026-11-24T11:06:42.972Z',
        sent_at: '2026-11-24T11:06:45.101Z',
        class: 'service',
        kind: 'confirm_subscription',
        topic: null,
        ref_id: null,
        status: 'sent',
        reason: 'sent',
        message_id: '<17.0195f2a4@tactful.localhost>',
      },
    ],
    webinarRegistrations: [],
    webinarRegistrationRequests: [],
    feedback: [],
    topicSuggestions: [{ text: 'Trade fair dates in Austria', created_at: '2026-11-25T18:30:00.000Z' }],
    dropTopicQuestions: [],
  };
}
