// The preferences as JSON, for shops that embed them in their own customer account pages.
import { Body, Controller, Get, Patch, Req } from '@nestjs/common';
import { ApiBearerAuth, ApiOperation, ApiProperty, ApiPropertyOptional, ApiTags } from '@nestjs/swagger';
import { ArrayMaxSize, IsArray, IsIn, IsInt, IsString, Max, Min } from 'class-validator';
import type { AuthenticatedRequest } from '../common/authenticated-request';
import { Omittable } from '../common/validation';
import { RequireScopes } from '../auth/scopes';
import { ApiInstant, ApiInteger, ApiOk, ApiProblems } from '../common/openapi';
import { IdParam } from '../common/params';
import { notFound } from '../common/problem';
import { NO_MARKETING_LABELS } from '../reasons/reason-codes';
import { IsTimeZone } from '../common/time-zones';
import { LOCALES, Locale } from '../config/config';
import { CADENCES, Cadence } from '../cadence/slots';
import { SUBSCRIBER_STATUSES } from '../reasons/subscriber-states';
import { PreferencesService, PreferencesState } from './preferences.service';

export class PreferencesPatchDto {
  @ApiPropertyOptional({ example: ['trade-fairs'], description: 'The full set of topics the customer wants (confirmed consent: the customer chose them).' })
  @Omittable()
  @IsArray()
  @ArrayMaxSize(100)
  @IsString({ each: true })
  topics?: string[];
  @ApiPropertyOptional({ enum: CADENCES }) @Omittable() @IsIn(CADENCES) cadence?: Cadence;
  @ApiPropertyOptional({ type: 'integer', minimum: 1, maximum: 7 }) @Omittable() @IsInt() @Min(1) @Max(7) digestWeekday?: number;
  @ApiPropertyOptional({ type: 'integer', minimum: 0, maximum: 23 }) @Omittable() @IsInt() @Min(0) @Max(23) digestHour?: number;
  @ApiPropertyOptional({ format: 'time-zone', example: 'Europe/Berlin' }) @Omittable() @IsString() @IsTimeZone() timeZone?: string;
  @ApiPropertyOptional({ enum: LOCALES }) @Omittable() @IsIn(LOCALES) locale?: Locale;
  @ApiPropertyOptional({ type: 'integer', enum: [0, 2, 4, 8], description: 'Pause for 2, 4 or 8 weeks; 0 ends a pause.' })
  @Omittable()
  @IsIn([0, 2, 4, 8])
  pauseWeeks?: number;
}

export class PreferenceTopic {
  @ApiProperty({ example: 'trade-fairs' }) key: string;
  @ApiProperty({ description: 'Chosen (confirmed) by the customer.' }) subscribed: boolean;
}

export class PreferencesResponse {
  @ApiProperty({ enum: SUBSCRIBER_STATUSES }) status: string;
  @ApiProperty({ enum: CADENCES }) cadence: string;
  @ApiInteger({ minimum: 1, maximum: 7, description: 'ISO weekday (1 = Monday).' }) digestWeekday: number;
  @ApiInteger({ minimum: 0, maximum: 23 }) digestHour: number;
  @ApiProperty({ format: 'time-zone', example: 'Europe/Berlin' }) timeZone: string;
  @ApiProperty({ enum: LOCALES }) locale: string;
  @ApiInstant({ nullable: true }) pausedUntil: string | null;
  @ApiInstant({ nullable: true, description: 'The next digest, or null when none is coming.' }) nextNewsletter: string | null;
  @ApiProperty({
    nullable: true,
    enum: Object.keys(NO_MARKETING_LABELS),
    description: 'Why no newsletter is coming (paused: none before pausedUntil); null when one is.',
  })
  noNewsletterBecause: string | null;
  @ApiProperty({ type: [PreferenceTopic], description: 'Every topic the customer can choose.' }) topics: PreferenceTopic[];
  @ApiPropertyOptional({
    type: [String],
    example: ['cadence', 'topicOn:offers'],
    description: 'PATCH only: what changed (`topicOn:<key>`, `topicOff:<key>`, `cadence`, `slot`, `timeZone`, `language`, `pause`, `resume`).',
  })
  changes?: string[];

  static readonly example: PreferencesResponse = {
    status: 'active',
    cadence: 'weekly',
    digestWeekday: 1,
    digestHour: 9,
    timeZone: 'Europe/Berlin',
    locale: 'de',
    pausedUntil: null,
    nextNewsletter: '2026-03-09T08:00:00.000Z',
    noNewsletterBecause: null,
    topics: [
      { key: 'offers', subscribed: false },
      { key: 'trade-fairs', subscribed: true },
    ],
  };
}

function toResponse(s: PreferencesState): PreferencesResponse {
  return {
    status: s.status,
    cadence: s.cadence,
    digestWeekday: s.digestWeekday,
    digestHour: s.digestHour,
    timeZone: s.timeZone,
    locale: s.locale,
    pausedUntil: s.pausedUntil?.toISOString() ?? null,
    nextNewsletter: s.nextNewsletter?.toISOString() ?? null,
    noNewsletterBecause: s.noNewsletterBecause,
    topics: s.topics.map((t) => ({ key: t.key, subscribed: t.subscribed })),
  };
}

@ApiTags('subscribers')
@ApiBearerAuth()
@Controller('v1/subscribers/:id/preferences')
export class PreferencesApiController {
  constructor(private readonly preferences: PreferencesService) {}

  @Get()
  @RequireScopes('read', 'subscribers:write')
  @ApiOperation({ summary: 'The customer’s preferences and next newsletter, as the preferences page shows them' })
  @ApiOk(PreferencesResponse, PreferencesResponse.example)
  @ApiProblems({ 404: 'No such subscriber.' })
  async get(@IdParam() id: string): Promise<PreferencesResponse> {
    const state = await this.preferences.state(id);
    if (!state) throw notFound('Subscriber', id);
    return toResponse(state);
  }

  @Patch()
  @RequireScopes('subscribers:write')
  @ApiOperation({ summary: 'Change them on the customer’s behalf (effective at once for every mail not yet handed to SMTP)' })
  @ApiOk(PreferencesResponse, { ...PreferencesResponse.example, cadence: 'biweekly', changes: ['cadence'] })
  @ApiProblems({ 404: 'No such subscriber.' })
  async patch(@IdParam() id: string, @Body() body: PreferencesPatchDto, @Req() request: AuthenticatedRequest): Promise<PreferencesResponse> {
    // The key is the evidence (source `api`); the caller's address is the integration's, not the person's.
    const notes = await this.preferences.apply(id, body, { kind: 'api', apiKeyId: request.apiKey?.id ?? null });
    const state = notes && (await this.preferences.state(id));
    if (!notes || !state) throw notFound('Subscriber', id);
    return { ...toResponse(state), changes: notes.map((n) => n.kind + ('topic' in n ? `:${n.topic}` : '')) };
  }
}
