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
import { Cadence, CADENCES, CONSENT_SOURCES, ConsentSource, RECORDED_CONSENT_SOURCES, REVOCATION_SOURCES, SUBSCRIBER_STATUSES, SubscriberStatus } from '../subscriber.entity';
import { IsTimeZone } from '../../common/time-zones';
import { IsAttributeMap } from './attributes.validator';

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

  @ApiPropertyOptional({ minimum: 1, maximum: 7, default: 1, description: 'Digest weekday, ISO (1 = Monday).' })
  @Omittable()
  @IsInt()
  @Min(1)
  @Max(7)
  digestWeekday?: number;

  @ApiPropertyOptional({ minimum: 0, maximum: 23, default: 9, description: 'Digest hour in the subscriber’s time zone.' })
  @Omittable()
  @IsInt()
  @Min(0)
  @Max(23)
  digestHour?: number;

  @ApiPropertyOptional({
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
  @Matches(/^[a-z0-9][a-z0-9-]{0,62}$/, { each: true, message: 'must be topic keys' })
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

  @ApiPropertyOptional({ minimum: 1, maximum: 7 })
  @Omittable()
  @IsInt()
  @Min(1)
  @Max(7)
  digestWeekday?: number;

  @ApiPropertyOptional({ minimum: 0, maximum: 23 })
  @Omittable()
  @IsInt()
  @Min(0)
  @Max(23)
  digestHour?: number;

  @ApiPropertyOptional({ description: 'Replaces the attributes.' })
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
  @Matches(/^[a-z0-9][a-z0-9-]{0,62}$/, { each: true, message: 'must be topic keys' })
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

  @ApiPropertyOptional({ minimum: 1, maximum: 500, default: 50 })
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
  @ApiProperty({ format: 'uuid' }) id: string;
  @ApiProperty({ nullable: true, type: String }) name: string | null;
}

export class TopicSubscriptionResponse {
  @ApiProperty({ example: 'trade-fairs' }) topic: string;
  @ApiProperty({ enum: ['pending', 'confirmed', 'revoked'] }) status: string;
  @ApiProperty() consentedAt: string;
  @ApiProperty({
    enum: RECORDED_CONSENT_SOURCES,
    description: '`preferences_page`: the person chose it on their own page (`ip`, `userAgent` are their browser’s); `api`: an API key did (`apiKey`). Records from before these were told apart may say `form` for the page.',
  })
  source: string;
  @ApiProperty({ nullable: true, type: String }) ip: string | null;
  @ApiProperty({ nullable: true, type: String }) userAgent: string | null;
  @ApiProperty({ nullable: true, type: String }) textVersion: string | null;
  @ApiProperty({ nullable: true, type: String }) confirmedAt: string | null;
  @ApiProperty({ nullable: true, type: String }) revokedAt: string | null;
  @ApiProperty({ nullable: true, type: ApiKeyRef, description: 'The API key that recorded this consent, if one did.' }) apiKey: ApiKeyRef | null;
  @ApiProperty({ nullable: true, enum: REVOCATION_SOURCES, description: 'Who revoked it: the person (their page, the one-click link, the “drop this topic?” answer) or an API key.' })
  revocationSource: string | null;
  @ApiProperty({ nullable: true, type: ApiKeyRef }) revokedByApiKey: ApiKeyRef | null;
}

export class SubscriberResponse {
  @ApiProperty({ format: 'uuid' }) id: string;
  @ApiProperty() email: string;
  @ApiProperty({ enum: LOCALES }) locale: string;
  @ApiProperty() timeZone: string;
  @ApiProperty({ enum: CADENCES }) cadence: string;
  @ApiProperty({ enum: SUBSCRIBER_STATUSES }) status: string;
  @ApiProperty({ type: 'object', additionalProperties: true }) attributes: Record<string, unknown>;
  @ApiProperty({ minimum: 1, maximum: 7 }) digestWeekday: number;
  @ApiProperty({ minimum: 0, maximum: 23 }) digestHour: number;
  @ApiProperty({ nullable: true, type: String }) pausedUntil: string | null;
  @ApiProperty({ nullable: true, type: String }) confirmedAt: string | null;
  @ApiProperty({ enum: CONSENT_SOURCES }) source: string;
  @ApiProperty() createdAt: string;
  @ApiProperty() updatedAt: string;
  @ApiProperty({ type: [TopicSubscriptionResponse] }) topics: TopicSubscriptionResponse[];
}

export class SubscriberPage {
  @ApiProperty({ type: [SubscriberResponse] }) items: SubscriberResponse[];
  @ApiProperty({ nullable: true, type: String, description: 'Pass as `after` for the next page; null on the last page.' })
  nextCursor: string | null;
}
