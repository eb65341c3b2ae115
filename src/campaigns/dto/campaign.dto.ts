import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import {
  ArrayMaxSize,
  ArrayMinSize,
  IsArray,
  IsBoolean,
  IsEmail,
  IsIn,
  IsInt,
  IsObject,
  IsString,
  IsUUID,
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
import { ApiInstant, ApiInteger, ApiUuid, AUDIENCE_FILTER, countsByKey } from '../../common/openapi';
import { DELIVERY_STATUSES, DeliveryStatus, Reason, REASONS } from '../../reasons/reason-codes';
import type { RenderedMail } from '../../rendering/template-renderer';
import { ReasonLabel } from '../../reasons/reason-label.dto';
import { CAMPAIGN_STATUSES, CampaignProgress } from '../campaign-state.policy';
import { IsSlug } from '../../common/slug';

export class LocalizedText {
  @ApiPropertyOptional() @Omittable() @IsString() @MaxLength(200_000) de?: string;
  @ApiPropertyOptional() @Omittable() @IsString() @MaxLength(200_000) en?: string;
}

export class LocalizedSubject {
  @ApiPropertyOptional({ example: 'Die Aufschwung-Messe wird digital' }) @Omittable() @IsString() @Length(1, 200) @Matches(/^[^\r\n]*$/, { message: 'must be one line' }) de?: string;
  @ApiPropertyOptional({ example: 'The Aufschwung fair goes digital' }) @Omittable() @IsString() @Length(1, 200) @Matches(/^[^\r\n]*$/, { message: 'must be one line' }) en?: string;
}

export class LocalizedSummary {
  @ApiPropertyOptional({ example: 'Die Messe findet am 12. Juni online statt.' }) @Omittable() @IsString() @MaxLength(500) de?: string;
  @ApiPropertyOptional({ example: 'The fair takes place online on 12 June.' }) @Omittable() @IsString() @MaxLength(500) en?: string;
}

export class CreateCampaignDto {
  @ApiProperty({ example: 'Aufschwung fair goes digital' })
  @IsString()
  @Length(1, 200)
  name: string;

  @ApiProperty({ example: 'trade-fairs', description: 'Exactly one topic from the taxonomy.' })
  @IsString()
  @IsSlug('must be a topic key')
  topic: string;

  @ApiPropertyOptional({ example: 'events-team', default: 'marketing', description: 'Which team or system sends it.' })
  @Omittable()
  @IsString()
  @IsSlug('must be a slug')
  sender?: string;

  @ApiPropertyOptional({ type: 'integer', minimum: -100, maximum: 100, default: 0, description: 'Higher goes first when items compete for one slot.' })
  @Omittable()
  @IsInt()
  @Min(-100)
  @Max(100)
  priority?: number;

  @ApiProperty({ type: LocalizedSubject })
  @IsObject()
  @ValidateNested()
  @Type(() => LocalizedSubject)
  subject: LocalizedSubject;

  @ApiProperty({ type: LocalizedText, description: 'HTML body per locale (validated with MJML strict validation inside the layout).' })
  @IsObject()
  @ValidateNested()
  @Type(() => LocalizedText)
  body: LocalizedText;

  @ApiPropertyOptional({ type: LocalizedSummary, description: 'The short form used when the item is folded into a digest.' })
  @Omittable()
  @IsObject()
  @ValidateNested()
  @Type(() => LocalizedSummary)
  digestSummary?: LocalizedSummary;

  @ApiPropertyOptional({ default: false, description: 'Send the other language to subscribers whose language is missing (otherwise they are skipped).' })
  @Omittable()
  @IsBoolean()
  localeFallback?: boolean;

  @ApiPropertyOptional({
    ...AUDIENCE_FILTER,
    example: { and: [{ attr: 'segment', in: ['retail', 'wholesale'] }, { attr: 'employees', gte: 5 }] },
    description: 'Audience filter: {and|or: [...]}, {not: F}, {locale: "de"}, {attr, eq|ne|in|gte|lte|exists}.',
  })
  @Omittable()
  @IsObject()
  audience?: Record<string, unknown>;

  @ApiPropertyOptional({ format: 'date-time', example: '2026-12-01T08:00:00Z' })
  @Omittable()
  @IsInstant()
  sendAt?: string;

  @ApiPropertyOptional({ format: 'date-time', example: '2026-12-20T00:00:00Z', description: 'After this, a deferred copy is no longer relevant and expires.' })
  @Omittable()
  @IsInstant()
  expiresAt?: string;

  @ApiPropertyOptional({ example: 'https://tactful.example.com/webinars/fair-2026/register', description: 'Where the entry links to when the campaign is folded into a digest.' })
  @Omittable()
  @IsString()
  @MaxLength(2000)
  @Matches(/^https?:\/\/\S+$/, { message: 'must be an http(s) URL' })
  digestUrl?: string;
}

export class UpdateCampaignDto {
  @ApiPropertyOptional() @Omittable() @IsString() @Length(1, 200) name?: string;
  @ApiPropertyOptional() @Omittable() @IsString() @IsSlug('must be a topic key') topic?: string;
  @ApiPropertyOptional() @Omittable() @IsString() @IsSlug('must be a slug') sender?: string;
  @ApiPropertyOptional({ type: 'integer', minimum: -100, maximum: 100 }) @Omittable() @IsInt() @Min(-100) @Max(100) priority?: number;
  @ApiPropertyOptional({ type: LocalizedSubject }) @Omittable() @IsObject() @ValidateNested() @Type(() => LocalizedSubject) subject?: LocalizedSubject;
  @ApiPropertyOptional({ type: LocalizedText }) @Omittable() @IsObject() @ValidateNested() @Type(() => LocalizedText) body?: LocalizedText;
  @ApiPropertyOptional({ type: LocalizedSummary }) @Omittable() @IsObject() @ValidateNested() @Type(() => LocalizedSummary) digestSummary?: LocalizedSummary;
  @ApiPropertyOptional() @Omittable() @IsBoolean() localeFallback?: boolean;
  @ApiPropertyOptional({ ...AUDIENCE_FILTER, description: 'Replaces the audience filter.' }) @Omittable() @IsObject() audience?: Record<string, unknown>;
  @ApiPropertyOptional({ format: 'date-time' }) @Omittable() @IsInstant() sendAt?: string;
  @ApiPropertyOptional({ format: 'date-time' }) @Omittable() @IsInstant() expiresAt?: string;
  @ApiPropertyOptional() @Omittable() @IsString() @MaxLength(2000) @Matches(/^https?:\/\/\S+$/, { message: 'must be an http(s) URL' }) digestUrl?: string;
}

export class ScheduleCampaignDto {
  @ApiPropertyOptional({ format: 'date-time', example: '2026-12-01T08:00:00Z', description: 'Defaults to the campaign’s sendAt, or now.' })
  @Omittable()
  @IsInstant()
  sendAt?: string;
}

export class PreviewCampaignDto {
  @ApiPropertyOptional({ format: 'uuid', description: 'Render in this subscriber’s language. Links in a preview are inert samples (`/p/preview`, `/u/preview`, `/f/preview`) that change nothing.' })
  @Omittable()
  @IsUUID()
  subscriberId?: string;

  @ApiPropertyOptional({ enum: LOCALES })
  @Omittable()
  @IsIn(LOCALES)
  locale?: Locale;
}

export class TestSendDto {
  @ApiProperty({ example: ['marketing-lead@example.com'], description: 'At most 10 addresses; marked as test, no cadence effect.' })
  @IsArray()
  @ArrayMinSize(1)
  @ArrayMaxSize(10)
  @IsEmail({}, { each: true })
  addresses: string[];

  @ApiPropertyOptional({ enum: LOCALES })
  @Omittable()
  @IsIn(LOCALES)
  locale?: Locale;
}

export class AudienceQuery {
  @ApiPropertyOptional({ format: 'date-time', example: '2026-12-01T08:00:00Z', description: 'Decide as of this time (default: the campaign’s sendAt, or now).' })
  @Omittable()
  @IsInstant()
  at?: string;
}

export class CampaignProgressResponse implements CampaignProgress {
  @ApiInteger({ minimum: 0, description: 'Decided to go, waiting in the outbox (its turn, the end of quiet hours, a retry, a paused domain).' }) queued: number;
  @ApiInteger({ minimum: 0, description: 'Being handed to SMTP by a worker right now.' }) sending: number;
  @ApiInteger({ minimum: 0, description: 'Handed over to SMTP as a mail of its own.' }) sent: number;
  @ApiInteger({ minimum: 0, description: 'Folded into the customer’s next digest, which has not gone yet.' }) deferred: number;
  @ApiInteger({ minimum: 0, description: 'Folded into a digest that went.' }) sentInDigest: number;
  @ApiInteger({ minimum: 0 }) suppressed: number;
  @ApiInteger({ minimum: 0 }) expired: number;
  @ApiInteger({ minimum: 0 }) failed: number;
  @ApiInteger({ minimum: 0, description: 'Handed over without an answer from the mail server, twice: it may have arrived.' }) unknown: number;
  @ApiInteger({ minimum: 0, description: 'Every decision of the campaign.' }) total: number;
  @ApiInteger({ minimum: 0, maximum: 100, description: 'Of the mails that go as mails of their own, the share no longer waiting, rounded down.' })
  percentDone: number;
  @ApiInstant({ description: 'When counted: now while it is dispatching or sending, at its completion afterwards.' }) countedAt: string;
}

export class CampaignResponse {
  @ApiUuid() id: string;
  @ApiProperty({ example: 'Aufschwung fair goes digital' }) name: string;
  @ApiProperty({ example: 'trade-fairs' }) topic: string;
  @ApiProperty({ example: 'marketing' }) sender: string;
  @ApiInteger({ minimum: -100, maximum: 100 }) priority: number;
  @ApiProperty({
    enum: CAMPAIGN_STATUSES,
    description:
      'draft; scheduled; dispatching (deciding for each customer); sending (every customer decided, mails still queued or being handed over); ' +
      'completed (nothing of it left in the outbox; what was deferred belongs to the digests now); cancelled.',
  })
  status: string;
  @ApiProperty({ type: LocalizedSubject }) subject: LocalizedSubject;
  @ApiProperty({ type: LocalizedText }) body: LocalizedText;
  @ApiProperty({ type: LocalizedSummary }) digestSummary: LocalizedSummary;
  @ApiProperty() localeFallback: boolean;
  @ApiProperty({ ...AUDIENCE_FILTER, nullable: true, description: 'The audience filter, as given.' }) audience: Record<string, unknown> | null;
  @ApiProperty({ nullable: true, type: String, example: null }) digestUrl: string | null;
  @ApiInstant({ nullable: true }) sendAt: string | null;
  @ApiInstant({ nullable: true }) expiresAt: string | null;
  @ApiInstant() createdAt: string;
  @ApiInstant() updatedAt: string;
  @ApiInstant({ nullable: true, description: 'When the dispatch began deciding.' }) startedAt: string | null;
  @ApiInstant({ nullable: true, description: 'When every customer had a decision (the campaign became sending).' }) dispatchedAt: string | null;
  @ApiInstant({ nullable: true, description: 'When nothing of it was left in the outbox.' }) completedAt: string | null;
  @ApiInstant({ nullable: true, deprecated: true, description: 'The same as dispatchedAt: the dispatch finished, not the sending.' }) finishedAt: string | null;
  @ApiInstant({ nullable: true }) cancelledAt: string | null;
  @ApiProperty({ nullable: true, type: CampaignProgressResponse, description: 'Null until it is dispatched.' }) progress: CampaignProgressResponse | null;

  static readonly example: CampaignResponse = {
    id: '0195f2a5-1111-7000-8000-00000000c001',
    name: 'Aufschwung fair goes digital',
    topic: 'trade-fairs',
    sender: 'marketing',
    priority: 0,
    status: 'draft',
    subject: { de: 'Die Aufschwung-Messe wird digital', en: 'The Aufschwung fair goes digital' },
    body: { de: '<p>Die Messe findet am 12. Juni online statt.</p>', en: '<p>The fair takes place online on 12 June.</p>' },
    digestSummary: { de: 'Die Messe findet am 12. Juni online statt.', en: 'The fair takes place online on 12 June.' },
    localeFallback: false,
    audience: null,
    digestUrl: null,
    sendAt: null,
    expiresAt: null,
    createdAt: '2026-03-02T08:55:00.000Z',
    updatedAt: '2026-03-02T08:55:00.000Z',
    startedAt: null,
    dispatchedAt: null,
    completedAt: null,
    finishedAt: null,
    cancelledAt: null,
    progress: null,
  };
}

export class CancelledCampaignResponse extends CampaignResponse {
  @ApiInteger({ minimum: 0, description: 'Mails not yet handed to SMTP that were suppressed (suppressed_cancelled).' }) cancelledDeliveries: number;
}

export class CampaignPreviewResponse implements RenderedMail {
  @ApiProperty({ example: 'The Aufschwung fair goes digital' }) subject: string;
  @ApiProperty({ example: '<!doctype html><html>…</html>', description: 'The mail’s HTML part, in the layout; its links are inert samples.' }) html: string;
  @ApiProperty({ example: 'The fair takes place online on 12 June.\n…', description: 'The plain-text part.' }) text: string;
}

export class TestSendResponse {
  @ApiInteger({ minimum: 1, maximum: 10, example: 1, description: 'Test mails queued, one per address.' }) queued: number;
}

export class AudienceReasonCount {
  @ApiProperty({ enum: DELIVERY_STATUSES, description: '`queued`: would go now; `deferred`: folded into the next digest; `suppressed` or `expired`: never.' }) status: string;
  @ApiProperty({ enum: REASONS, enumName: 'Reason' }) reason: string;
  @ApiProperty({ type: ReasonLabel }) label: ReasonLabel;
  @ApiInteger({ minimum: 0 }) count: number;
}

export class RatedNotUsefulLately {
  @ApiInteger({ minimum: 0, description: 'Recipients (now or later) who rated this topic not useful lately.' }) recipients: number;
  @ApiInteger({ minimum: 1, description: '“Lately”: within this many days.' }) days: number;
}

export class CampaignAudienceResponse {
  @ApiUuid() campaignId: string;
  @ApiInstant({ description: 'Decided as of this time.' }) at: string;
  @ApiInteger({ minimum: 0, description: 'Would get it at once.' }) now: number;
  @ApiInteger({ minimum: 0, description: 'Would get it later, folded into their next digest.' }) later: number;
  @ApiInteger({ minimum: 0, description: 'Would never get it (suppressed or expired).' }) never: number;
  @ApiInstant({ nullable: true, description: 'The earliest digest one of the `later` recipients gets it in.' }) firstDigestAt: string | null;
  @ApiProperty({ type: RatedNotUsefulLately }) ratedNotUsefulLately: RatedNotUsefulLately;
  @ApiProperty({ type: [AudienceReasonCount], description: 'Counts by status and reason.' }) byReason: AudienceReasonCount[];

  static readonly example: CampaignAudienceResponse = {
    campaignId: '0195f2a5-1111-7000-8000-00000000c002',
    at: '2026-03-02T09:00:00.000Z',
    now: 0,
    later: 2,
    never: 1,
    firstDigestAt: '2026-03-09T08:00:00.000Z',
    ratedNotUsefulLately: { recipients: 0, days: 90 },
    byReason: [
      { status: 'deferred', reason: 'deferred_cadence', label: { de: 'In den nächsten Newsletter verschoben (Versandrhythmus)', en: 'Folded into the next digest (cadence)' }, count: 2 },
      { status: 'suppressed', reason: 'suppressed_unconfirmed', label: { de: 'Anmeldung noch nicht bestätigt', en: 'Subscription not confirmed yet' }, count: 1 },
    ],
  };
}

export class CampaignStatsResponse {
  @ApiUuid() campaignId: string;
  @ApiInteger({ minimum: 0, description: 'Decisions in all (one per subscriber of the topic).' }) total: number;
  @ApiProperty({ ...countsByKey(DELIVERY_STATUSES), description: 'Decisions by status; a status without decisions is left out.', example: { sent: 2 } })
  byStatus: Partial<Record<DeliveryStatus, number>>;
  @ApiProperty({ ...countsByKey(REASONS), description: 'Decisions by reason; a reason without decisions is left out.', example: { sent: 2 } })
  byReason: Partial<Record<Reason, number>>;
}
