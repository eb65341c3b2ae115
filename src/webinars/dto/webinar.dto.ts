import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import {
  ArrayMaxSize,
  IsArray,
  IsBoolean,
  IsEmail,
  IsIn,
  IsInt,
  IsNotIn,
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
import { IsTimeZone } from '../../common/time-zones';
import { LOCALES, Locale } from '../../config/config';
import { ApiInstant, ApiInteger, ApiUuid, AUDIENCE_FILTER } from '../../common/openapi';
import { IsSlug } from '../../common/slug';

const ONE_LINE = { message: 'must be one line' };
/** Slugs whose public page path belongs to another page: /webinars/unregister/{token}. */
export const RESERVED_SLUGS = ['unregister'];
const HTTP_URL = /^https?:\/\/[^\s]+$/;

export class WebinarTitle {
  @ApiPropertyOptional({ example: 'Längere Zahlungsziele richtig nutzen' }) @Omittable() @IsString() @Length(1, 200) @Matches(/^[^\r\n]*$/, ONE_LINE) de?: string;
  @ApiPropertyOptional({ example: 'Making the most of longer payment terms' }) @Omittable() @IsString() @Length(1, 200) @Matches(/^[^\r\n]*$/, ONE_LINE) en?: string;
}

export class WebinarDescription {
  @ApiPropertyOptional({ description: 'Plain text; blank lines separate paragraphs.' }) @Omittable() @IsString() @MaxLength(5000) de?: string;
  @ApiPropertyOptional({ description: 'Plain text; blank lines separate paragraphs.' }) @Omittable() @IsString() @MaxLength(5000) en?: string;
}

export class WebinarSeriesRef {
  @ApiProperty({ example: 'export-basics', description: 'The series key; a new key creates the series.' })
  @IsString()
  @IsSlug('must be a key (a-z, 0-9, -)')
  key: string;

  @ApiPropertyOptional({ type: WebinarTitle, description: 'Required when the series is new.' })
  @Omittable()
  @IsObject()
  @ValidateNested()
  @Type(() => WebinarTitle)
  title?: WebinarTitle;
}

export class WebinarInvitation {
  @ApiPropertyOptional({ format: 'date-time', example: '2026-03-02T09:00:00Z', description: 'When the invitation campaign is dispatched (default now). Must lie before the start.' })
  @Omittable()
  @IsInstant()
  sendAt?: string;

  @ApiPropertyOptional({ type: 'integer', minimum: -100, maximum: 100, default: 0 })
  @Omittable()
  @IsInt()
  @Min(-100)
  @Max(100)
  priority?: number;

  @ApiPropertyOptional({ ...AUDIENCE_FILTER, description: 'Audience filter of the invitation campaign (same language as campaigns).' })
  @Omittable()
  @IsObject()
  audience?: Record<string, unknown>;
}

export class CreateWebinarDto {
  @ApiPropertyOptional({ example: 'payment-terms-2026', description: 'Public page: /webinars/{slug}/register. Derived from the title when omitted.' })
  @Omittable()
  @IsString()
  @IsSlug('must be a slug (a-z, 0-9, -), at most 80 characters', { maxLength: 80 })
  @IsNotIn(RESERVED_SLUGS, { message: 'is reserved: /webinars/unregister/… is the unregister page' })
  slug?: string;

  @ApiProperty({ example: 'payment-terms', description: 'Exactly one topic from the taxonomy.' })
  @IsString()
  @IsSlug('must be a topic key')
  topic: string;

  @ApiProperty({ type: WebinarTitle }) @IsObject() @ValidateNested() @Type(() => WebinarTitle) title: WebinarTitle;

  @ApiPropertyOptional({ type: WebinarDescription }) @Omittable() @IsObject() @ValidateNested() @Type(() => WebinarDescription) description?: WebinarDescription;

  @ApiProperty({ format: 'date-time', example: '2026-03-10T09:00:00Z' }) @IsInstant() startsAt: string;
  @ApiProperty({ format: 'date-time', example: '2026-03-10T10:00:00Z' }) @IsInstant() endsAt: string;

  @ApiPropertyOptional({ format: 'time-zone', example: 'Europe/Berlin', description: 'The zone invitations and the public page show the time in (default DEFAULT_TIME_ZONE). Service mails use each customer’s own zone.' })
  @Omittable()
  @IsString()
  @IsTimeZone()
  timeZone?: string;

  @ApiProperty({ example: 'https://meet.example.com/payment-terms' })
  @IsString()
  @MaxLength(2000)
  @Matches(HTTP_URL, { message: 'must be an http(s) URL' })
  joinUrl: string;

  @ApiPropertyOptional({ type: 'integer', minimum: 1, maximum: 1_000_000, example: 100, description: 'Seats; unlimited when omitted.' })
  @Omittable()
  @IsInt()
  @Min(1)
  @Max(1_000_000)
  capacity?: number;

  @ApiPropertyOptional({ type: 'array', items: { type: 'integer', minimum: 1, maximum: 43_200 }, maxItems: 2, example: [1440, 60], description: 'Reminder times in minutes before the start, at most two (default WEBINAR_REMINDER_MINUTES).' })
  @Omittable()
  @IsArray()
  @ArrayMaxSize(2)
  @IsInt({ each: true })
  @Min(1, { each: true })
  @Max(43_200, { each: true })
  reminderMinutes?: number[];

  @ApiPropertyOptional({ type: WebinarSeriesRef }) @Omittable() @IsObject() @ValidateNested() @Type(() => WebinarSeriesRef) series?: WebinarSeriesRef;

  @ApiPropertyOptional({ type: 'integer', minimum: 1, maximum: 1000, example: 2, description: 'Part number within the series; required with series.' })
  @Omittable()
  @IsInt()
  @Min(1)
  @Max(1000)
  part?: number;

  @ApiPropertyOptional({ type: WebinarInvitation, description: 'Invite the topic’s subscribers: a campaign under the cadence cap that expires at the start.' })
  @Omittable()
  @IsObject()
  @ValidateNested()
  @Type(() => WebinarInvitation)
  invitation?: WebinarInvitation;
}

export class UpdateWebinarDto {
  @ApiPropertyOptional({ type: WebinarTitle }) @Omittable() @IsObject() @ValidateNested() @Type(() => WebinarTitle) title?: WebinarTitle;
  @ApiPropertyOptional({ type: WebinarDescription }) @Omittable() @IsObject() @ValidateNested() @Type(() => WebinarDescription) description?: WebinarDescription;
  @ApiPropertyOptional({ format: 'date-time', description: 'A new start reschedules: registrants get an updated calendar invitation and their reminders move.' })
  @Omittable()
  @IsInstant()
  startsAt?: string;
  @ApiPropertyOptional({ format: 'date-time' }) @Omittable() @IsInstant() endsAt?: string;
  @ApiPropertyOptional({ format: 'time-zone', example: 'Europe/Berlin' }) @Omittable() @IsString() @IsTimeZone() timeZone?: string;
  @ApiPropertyOptional() @Omittable() @IsString() @MaxLength(2000) @Matches(HTTP_URL, { message: 'must be an http(s) URL' }) joinUrl?: string;
  @ApiPropertyOptional({ type: 'integer', minimum: 1, maximum: 1_000_000 }) @Omittable() @IsInt() @Min(1) @Max(1_000_000) capacity?: number;
  @ApiPropertyOptional({ type: 'array', items: { type: 'integer', minimum: 1, maximum: 43_200 }, maxItems: 2, example: [1440, 60] }) @Omittable() @IsArray() @ArrayMaxSize(2) @IsInt({ each: true }) @Min(1, { each: true }) @Max(43_200, { each: true }) reminderMinutes?: number[];
  @ApiPropertyOptional({ description: 'Recording or material page, used by the follow-ups.' })
  @Omittable()
  @IsString()
  @MaxLength(2000)
  @Matches(HTTP_URL, { message: 'must be an http(s) URL' })
  recordingUrl?: string;
  @ApiPropertyOptional({ type: WebinarInvitation, description: 'Adds an invitation, or moves one not dispatched yet.' })
  @Omittable()
  @IsObject()
  @ValidateNested()
  @Type(() => WebinarInvitation)
  invitation?: WebinarInvitation;
}

export class RegisterDto {
  @ApiProperty({ example: 'anna@example.de' }) @IsEmail({}, { message: 'must be a valid e-mail address' }) @MaxLength(254) email: string;
  @ApiPropertyOptional({ enum: LOCALES, description: 'For a new address; a known subscriber keeps theirs.' }) @Omittable() @IsIn(LOCALES) locale?: Locale;
  @ApiPropertyOptional({ format: 'time-zone', example: 'Europe/Berlin', description: 'For a new address; reminders show the time in this zone.' }) @Omittable() @IsString() @IsTimeZone() timeZone?: string;
  @ApiPropertyOptional({ example: 'Anna' }) @Omittable() @IsString() @Length(1, 100) @Matches(/^[^\r\n<>]*$/, { message: 'must be one line without < or >' }) firstName?: string;
  @ApiPropertyOptional({ default: false, description: 'Also register for every later part of the series, including parts published later.' })
  @Omittable()
  @IsBoolean()
  series?: boolean;
}

export class AttendanceDto {
  @ApiProperty({ example: ['anna@example.de'], description: 'Addresses of the registrants who attended; every other registrant counts as a no-show.' })
  @IsArray()
  @ArrayMaxSize(100_000)
  @IsString({ each: true })
  @MaxLength(254, { each: true })
  attended: string[];

  @ApiPropertyOptional({ example: 'https://video.example.com/payment-terms', description: 'Recording or material page (stored on the webinar).' })
  @Omittable()
  @IsString()
  @MaxLength(2000)
  @Matches(HTTP_URL, { message: 'must be an http(s) URL' })
  recordingUrl?: string;

  @ApiPropertyOptional({ default: true, description: 'Create the follow-up campaigns (recording to attendees, “you missed it” to no-shows).' })
  @Omittable()
  @IsBoolean()
  followUps?: boolean;

  @ApiPropertyOptional({ format: 'date-time', example: '2026-03-11T08:00:00Z', description: 'When the follow-ups are dispatched (default now).' })
  @Omittable()
  @IsInstant()
  followUpAt?: string;
}

export class WebinarSeriesPart {
  @ApiProperty({ example: 'export-basics' }) key: string;
  @ApiInteger({ minimum: 1, example: 2 }) part: number;
}

export class WebinarResponse {
  @ApiUuid() id: string;
  @ApiProperty({ example: 'payment-terms-2026' }) slug: string;
  @ApiProperty({ example: 'payment-terms' }) topic: string;
  @ApiProperty({ enum: ['scheduled', 'cancelled'] }) status: string;
  @ApiProperty({ type: WebinarTitle }) title: WebinarTitle;
  @ApiProperty({ type: WebinarDescription }) description: WebinarDescription;
  @ApiInstant() startsAt: string;
  @ApiInstant() endsAt: string;
  @ApiProperty({ format: 'time-zone', example: 'Europe/Berlin' }) timeZone: string;
  @ApiProperty({ example: 'https://meet.example.com/payment-terms' }) joinUrl: string;
  @ApiInteger({ nullable: true, minimum: 1, description: 'Seats; null: unlimited.' }) capacity: number | null;
  @ApiInteger({ minimum: 0, description: 'Registrations in force.' }) registered: number;
  @ApiProperty({ type: 'array', items: { type: 'integer', minimum: 1 }, example: [1440, 60], description: 'Reminder times in minutes before the start.' }) reminderMinutes: number[];
  @ApiProperty({ nullable: true, type: WebinarSeriesPart }) series: WebinarSeriesPart | null;
  @ApiProperty({ example: 'https://tactful.example.com/webinars/payment-terms-2026/register', description: 'The public registration page.' }) registrationUrl: string;
  @ApiProperty({ nullable: true, type: String }) recordingUrl: string | null;
  @ApiUuid({ nullable: true, description: 'The invitation campaign, if the webinar has one.' }) invitationCampaignId: string | null;
  @ApiUuid({ nullable: true, description: 'The recording follow-up to attendees.' }) attendedCampaignId: string | null;
  @ApiUuid({ nullable: true, description: 'The “you missed it” follow-up to no-shows.' }) missedCampaignId: string | null;
  @ApiInstant() createdAt: string;
  @ApiInstant() updatedAt: string;
  @ApiInstant({ nullable: true }) cancelledAt: string | null;

  static readonly example: WebinarResponse = {
    id: '0195f2a8-5555-7000-8000-00000000a001',
    slug: 'payment-terms-2026',
    topic: 'payment-terms',
    status: 'scheduled',
    title: { de: 'Längere Zahlungsziele richtig nutzen', en: 'Making the most of longer payment terms' },
    description: { en: 'What longer terms mean for your cash flow.' },
    startsAt: '2026-03-10T09:00:00.000Z',
    endsAt: '2026-03-10T10:00:00.000Z',
    timeZone: 'Europe/Berlin',
    joinUrl: 'https://meet.example.com/payment-terms',
    capacity: 100,
    registered: 0,
    reminderMinutes: [1440, 60],
    series: null,
    registrationUrl: 'https://tactful.example.com/webinars/payment-terms-2026/register',
    recordingUrl: null,
    invitationCampaignId: null,
    attendedCampaignId: null,
    missedCampaignId: null,
    createdAt: '2026-03-02T09:00:00.000Z',
    updatedAt: '2026-03-02T09:00:00.000Z',
    cancelledAt: null,
  };
}

export class CancelledWebinarResponse extends WebinarResponse {
  @ApiInteger({ minimum: 0, description: 'Registrations ended by this cancellation (0 when it was cancelled already).' }) cancelledRegistrations: number;
}

export class RegistrationResponse {
  @ApiUuid() id: string;
  @ApiUuid() webinarId: string;
  @ApiUuid() subscriberId: string;
  @ApiProperty({ example: 'anna@example.de' }) email: string;
  @ApiProperty({ enum: ['registered', 'unregistered', 'cancelled'] }) status: string;
  @ApiProperty({ enum: ['page', 'api', 'series'] }) source: string;
  @ApiInteger({ minimum: 0, description: 'SEQUENCE of the calendar event last sent for this registration.' }) sequence: number;
  @ApiProperty({ nullable: true, type: Boolean, description: 'null until attendance is imported.' }) attended: boolean | null;
  @ApiInstant({ nullable: true }) nextReminderAt: string | null;
  @ApiInstant() registeredAt: string;
  @ApiInstant({ nullable: true }) unregisteredAt: string | null;

  static readonly example: RegistrationResponse = {
    id: '0195f2a8-6666-7000-8000-00000000b001',
    webinarId: '0195f2a8-5555-7000-8000-00000000a001',
    subscriberId: '0195f2a4-7c1e-7b3a-9d2e-5a1b2c3d4e5f',
    email: 'anna@example.de',
    status: 'registered',
    source: 'api',
    sequence: 0,
    attended: null,
    nextReminderAt: '2026-03-09T09:00:00.000Z',
    registeredAt: '2026-03-02T09:30:00.000Z',
    unregisteredAt: null,
  };
}

export class SeriesPartOutcome {
  @ApiUuid() webinarId: string;
  @ApiInteger({ minimum: 1 }) part: number;
  @ApiProperty({ enum: ['registered', 'already_registered', 'full'] }) outcome: string;
}

export class RegisteredResponse extends RegistrationResponse {
  @ApiProperty({ type: [SeriesPartOutcome], description: 'With `series: true`: what became of each later part.' }) series: SeriesPartOutcome[];
}

export class AttendanceResponse {
  @ApiInteger({ minimum: 0 }) attended: number;
  @ApiInteger({ minimum: 0, description: 'Registrants who did not attend.' }) missed: number;
  @ApiProperty({ type: [String], description: 'Listed addresses that were not registered (ignored).' }) notRegistered: string[];
  @ApiUuid({ nullable: true, description: 'The recording follow-up to attendees.' }) attendedCampaignId: string | null;
  @ApiUuid({ nullable: true, description: 'The “you missed it” follow-up to no-shows.' }) missedCampaignId: string | null;
}
