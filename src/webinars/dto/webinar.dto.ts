import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import {
  ArrayMaxSize,
  IsArray,
  IsBoolean,
  IsEmail,
  IsIn,
  IsInt,
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

const ONE_LINE = { message: 'must be one line' };
const KEY = /^[a-z0-9][a-z0-9-]{0,62}$/;
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
  @Matches(KEY, { message: 'must be a key (a-z, 0-9, -)' })
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

  @ApiPropertyOptional({ minimum: -100, maximum: 100, default: 0 })
  @Omittable()
  @IsInt()
  @Min(-100)
  @Max(100)
  priority?: number;

  @ApiPropertyOptional({ description: 'Audience filter of the invitation campaign (same language as campaigns).' })
  @Omittable()
  @IsObject()
  audience?: Record<string, unknown>;
}

export class CreateWebinarDto {
  @ApiPropertyOptional({ example: 'payment-terms-2026', description: 'Public page: /webinars/{slug}/register. Derived from the title when omitted.' })
  @Omittable()
  @IsString()
  @Matches(/^[a-z0-9][a-z0-9-]{0,79}$/, { message: 'must be a slug (a-z, 0-9, -), at most 80 characters' })
  slug?: string;

  @ApiProperty({ example: 'payment-terms', description: 'Exactly one topic from the taxonomy.' })
  @IsString()
  @Matches(KEY, { message: 'must be a topic key' })
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

  @ApiPropertyOptional({ example: 100, description: 'Seats; unlimited when omitted.' })
  @Omittable()
  @IsInt()
  @Min(1)
  @Max(1_000_000)
  capacity?: number;

  @ApiPropertyOptional({ type: [Number], example: [1440, 60], description: 'Reminder times in minutes before the start, at most two (default WEBINAR_REMINDER_MINUTES).' })
  @Omittable()
  @IsArray()
  @ArrayMaxSize(2)
  @IsInt({ each: true })
  @Min(1, { each: true })
  @Max(43_200, { each: true })
  reminderMinutes?: number[];

  @ApiPropertyOptional({ type: WebinarSeriesRef }) @Omittable() @IsObject() @ValidateNested() @Type(() => WebinarSeriesRef) series?: WebinarSeriesRef;

  @ApiPropertyOptional({ example: 2, description: 'Part number within the series; required with series.' })
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
  @ApiPropertyOptional() @Omittable() @IsInt() @Min(1) @Max(1_000_000) capacity?: number;
  @ApiPropertyOptional({ type: [Number] }) @Omittable() @IsArray() @ArrayMaxSize(2) @IsInt({ each: true }) @Min(1, { each: true }) @Max(43_200, { each: true }) reminderMinutes?: number[];
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

export class WebinarResponse {
  @ApiProperty({ format: 'uuid' }) id: string;
  @ApiProperty() slug: string;
  @ApiProperty() topic: string;
  @ApiProperty({ enum: ['scheduled', 'cancelled'] }) status: string;
  @ApiProperty({ type: WebinarTitle }) title: WebinarTitle;
  @ApiProperty({ type: WebinarDescription }) description: WebinarDescription;
  @ApiProperty() startsAt: string;
  @ApiProperty() endsAt: string;
  @ApiProperty() timeZone: string;
  @ApiProperty() joinUrl: string;
  @ApiProperty({ nullable: true, type: Number }) capacity: number | null;
  @ApiProperty() registered: number;
  @ApiProperty({ type: [Number] }) reminderMinutes: number[];
  @ApiProperty({ nullable: true, type: Object }) series: { key: string; part: number } | null;
  @ApiProperty() registrationUrl: string;
  @ApiProperty({ nullable: true, type: String }) recordingUrl: string | null;
  @ApiProperty({ nullable: true, type: String }) invitationCampaignId: string | null;
  @ApiProperty({ nullable: true, type: String }) attendedCampaignId: string | null;
  @ApiProperty({ nullable: true, type: String }) missedCampaignId: string | null;
  @ApiProperty() createdAt: string;
  @ApiProperty() updatedAt: string;
  @ApiProperty({ nullable: true, type: String }) cancelledAt: string | null;
}

export class RegistrationResponse {
  @ApiProperty({ format: 'uuid' }) id: string;
  @ApiProperty({ format: 'uuid' }) webinarId: string;
  @ApiProperty({ format: 'uuid' }) subscriberId: string;
  @ApiProperty() email: string;
  @ApiProperty({ enum: ['registered', 'unregistered', 'cancelled'] }) status: string;
  @ApiProperty({ enum: ['page', 'api', 'series'] }) source: string;
  @ApiProperty({ description: 'SEQUENCE of the calendar event last sent for this registration.' }) sequence: number;
  @ApiProperty({ nullable: true, type: Boolean }) attended: boolean | null;
  @ApiProperty({ nullable: true, type: String }) nextReminderAt: string | null;
  @ApiProperty() registeredAt: string;
  @ApiProperty({ nullable: true, type: String }) unregisteredAt: string | null;
}
