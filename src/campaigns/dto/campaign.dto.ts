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
import { CAMPAIGN_STATUSES, CampaignProgress } from '../campaign-state.policy';

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
  @Matches(/^[a-z0-9][a-z0-9-]{0,62}$/, { message: 'must be a topic key' })
  topic: string;

  @ApiPropertyOptional({ example: 'events-team', default: 'marketing', description: 'Which team or system sends it.' })
  @Omittable()
  @IsString()
  @Matches(/^[a-z0-9][a-z0-9-]{0,62}$/, { message: 'must be a slug' })
  sender?: string;

  @ApiPropertyOptional({ minimum: -100, maximum: 100, default: 0, description: 'Higher goes first when items compete for one slot.' })
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
  @ApiPropertyOptional() @Omittable() @IsString() @Matches(/^[a-z0-9][a-z0-9-]{0,62}$/, { message: 'must be a topic key' }) topic?: string;
  @ApiPropertyOptional() @Omittable() @IsString() @Matches(/^[a-z0-9][a-z0-9-]{0,62}$/, { message: 'must be a slug' }) sender?: string;
  @ApiPropertyOptional() @Omittable() @IsInt() @Min(-100) @Max(100) priority?: number;
  @ApiPropertyOptional({ type: LocalizedSubject }) @Omittable() @IsObject() @ValidateNested() @Type(() => LocalizedSubject) subject?: LocalizedSubject;
  @ApiPropertyOptional({ type: LocalizedText }) @Omittable() @IsObject() @ValidateNested() @Type(() => LocalizedText) body?: LocalizedText;
  @ApiPropertyOptional({ type: LocalizedSummary }) @Omittable() @IsObject() @ValidateNested() @Type(() => LocalizedSummary) digestSummary?: LocalizedSummary;
  @ApiPropertyOptional() @Omittable() @IsBoolean() localeFallback?: boolean;
  @ApiPropertyOptional() @Omittable() @IsObject() audience?: Record<string, unknown>;
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
  @ApiProperty({ description: 'Decided to go, waiting in the outbox (its turn, the end of quiet hours, a retry, a paused domain).' }) queued: number;
  @ApiProperty({ description: 'Being handed to SMTP by a worker right now.' }) sending: number;
  @ApiProperty({ description: 'Handed over to SMTP as a mail of its own.' }) sent: number;
  @ApiProperty({ description: 'Folded into the customer’s next digest, which has not gone yet.' }) deferred: number;
  @ApiProperty({ description: 'Folded into a digest that went.' }) sentInDigest: number;
  @ApiProperty() suppressed: number;
  @ApiProperty() expired: number;
  @ApiProperty() failed: number;
  @ApiProperty({ description: 'Handed over without an answer from the mail server, twice: it may have arrived.' }) unknown: number;
  @ApiProperty({ description: 'Every decision of the campaign.' }) total: number;
  @ApiProperty({ minimum: 0, maximum: 100, description: 'Of the mails that go as mails of their own, the share no longer waiting, rounded down.' })
  percentDone: number;
  @ApiProperty({ format: 'date-time', description: 'When counted: now while it is dispatching or sending, at its completion afterwards.' }) countedAt: string;
}

export class CampaignResponse {
  @ApiProperty({ format: 'uuid' }) id: string;
  @ApiProperty() name: string;
  @ApiProperty() topic: string;
  @ApiProperty() sender: string;
  @ApiProperty() priority: number;
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
  @ApiProperty({ nullable: true, type: 'object', additionalProperties: true }) audience: Record<string, unknown> | null;
  @ApiProperty({ nullable: true, type: String }) digestUrl: string | null;
  @ApiProperty({ nullable: true, type: String }) sendAt: string | null;
  @ApiProperty({ nullable: true, type: String }) expiresAt: string | null;
  @ApiProperty() createdAt: string;
  @ApiProperty() updatedAt: string;
  @ApiProperty({ nullable: true, type: String, description: 'When the dispatch began deciding.' }) startedAt: string | null;
  @ApiProperty({ nullable: true, type: String, description: 'When every customer had a decision (the campaign became sending).' }) dispatchedAt: string | null;
  @ApiProperty({ nullable: true, type: String, description: 'When nothing of it was left in the outbox.' }) completedAt: string | null;
  @ApiProperty({ nullable: true, type: String, deprecated: true, description: 'The same as dispatchedAt: the dispatch finished, not the sending.' })
  finishedAt: string | null;
  @ApiProperty({ nullable: true, type: String }) cancelledAt: string | null;
  @ApiProperty({ nullable: true, type: CampaignProgressResponse, description: 'Null until it is dispatched.' }) progress: CampaignProgressResponse | null;
}
