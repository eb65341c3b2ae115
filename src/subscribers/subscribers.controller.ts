import { Body, Controller, Delete, Get, HttpCode, Param, Patch, Post, Query, Req } from '@nestjs/common';
import { ApiBearerAuth, ApiBody, ApiConsumes, ApiOperation, ApiQuery, ApiTags } from '@nestjs/swagger';
import type { FastifyRequest } from 'fastify';
import type { AuthenticatedRequest } from '../auth/api-key.guard';
import { RequireScopes } from '../auth/scopes';
import { ParseIdPipe } from '../common/params';
import { DomainException, ErrorCode, invalid } from '../common/problem';
import {
  CreateSubscriberDto,
  ListSubscribersQuery,
  SubscriberPage,
  SubscriberResponse,
  UpdateSubscriberDto,
} from './dto/subscriber.dto';
import { ImportFormat, ImportReport, SubscriberImportService } from './subscriber-import.service';
import { SubscribersService } from './subscribers.service';
import { Timeline, TimelineService } from './timeline.service';

const FORMATS: Record<string, ImportFormat> = {
  'application/json': 'json',
  'application/x-ndjson': 'ndjson',
  'text/csv': 'csv',
};

@ApiTags('subscribers')
@ApiBearerAuth()
@Controller('v1/subscribers')
export class SubscribersController {
  constructor(
    private readonly subscribers: SubscribersService,
    private readonly importer: SubscriberImportService,
    private readonly timelines: TimelineService,
  ) {}

  @Post()
  @RequireScopes('subscribers:write')
  @ApiOperation({
    summary: 'Add a subscriber',
    description:
      'Without `consent.confirmedAt` the subscriber starts `pending` and gets a double opt-in mail; with it ' +
      '(and `consent.source`) they start `active` with confirmed topics. An erased address is refused (422) ' +
      'unless the consent is newer than the erasure.',
  })
  create(@Body() body: CreateSubscriberDto, @Req() request: AuthenticatedRequest): Promise<SubscriberResponse> {
    return this.subscribers.create(body, request.apiKey?.id ?? null);
  }

  @Post('import')
  @HttpCode(200)
  @RequireScopes('subscribers:write')
  @ApiOperation({
    summary: 'Import subscribers (JSON, NDJSON or CSV; upsert by e-mail)',
    description:
      'Streams the body and writes in set-based batches. Without `atomic` every valid row is applied and each ' +
      'bad row reported; with `atomic=true` any bad row means nothing is applied (422 listing every bad row). ' +
      'CSV columns: email, locale, time_zone, cadence, digest_weekday, digest_hour, topics (separated by ;), ' +
      'consent_source, consent_confirmed_at, consent_ip, consent_user_agent, consent_text_version, attr.<name>. ' +
      'Rows with `consent_confirmed_at` need `consent_source`; others start pending (double opt-in).',
  })
  @ApiConsumes('application/json', 'application/x-ndjson', 'text/csv')
  @ApiBody({
    schema: { type: 'array', items: { $ref: '#/components/schemas/CreateSubscriberDto' } },
    examples: {
      json: { value: [{ email: 'anna@example.de', topics: ['trade-fairs'], consent: { source: 'form', confirmedAt: '2026-03-01T10:00:00Z' } }] },
    },
  })
  @ApiQuery({ name: 'atomic', required: false, type: Boolean })
  async import(@Req() request: FastifyRequest, @Query('atomic') atomic?: string): Promise<ImportReport> {
    const contentType = (request.headers['content-type'] ?? '').split(';')[0].trim().toLowerCase();
    const format = FORMATS[contentType];
    if (!format) {
      throw new DomainException(ErrorCode.UnsupportedMediaType, 'Send application/json, application/x-ndjson or text/csv.');
    }
    if (atomic !== undefined && atomic !== 'true' && atomic !== 'false') {
      throw new DomainException(ErrorCode.Validation, 'atomic must be true or false', [{ field: 'atomic', message: 'must be true or false' }]);
    }
    return this.importer.import(format, request.body, atomic === 'true');
  }

  @Get()
  @RequireScopes('read', 'subscribers:write')
  @ApiOperation({ summary: 'List subscribers, filtered, with keyset pagination (`after` = previous `nextCursor`)' })
  list(@Query() query: ListSubscribersQuery): Promise<SubscriberPage> {
    return this.subscribers.list(query);
  }

  @Get(':id')
  @RequireScopes('read', 'subscribers:write')
  @ApiOperation({ summary: 'Get a subscriber with every topic consent record' })
  get(@Param('id', ParseIdPipe) id: string): Promise<SubscriberResponse> {
    return this.subscribers.get(id);
  }

  @Patch(':id')
  @RequireScopes('subscribers:write')
  @ApiOperation({ summary: 'Change locale, time zone, cadence, digest slot, attributes, status or topics' })
  update(@Param('id', ParseIdPipe) id: string, @Body() body: UpdateSubscriberDto, @Req() request: AuthenticatedRequest): Promise<SubscriberResponse> {
    return this.subscribers.update(id, body, request.apiKey?.id ?? null);
  }

  @Delete(':id')
  @HttpCode(204)
  @RequireScopes('subscribers:write')
  @ApiOperation({
    summary: 'Erase a subscriber (GDPR)',
    description: 'Deletes the personal data; a SHA-256 hash of the address stays on the suppression list so a later import cannot re-add the person without new consent.',
  })
  async erase(@Param('id', ParseIdPipe) id: string): Promise<void> {
    await this.subscribers.erase(id);
  }

  @Get(':id/timeline')
  @RequireScopes('read', 'subscribers:write')
  @ApiOperation({
    summary: 'Every decision about the subscriber, newest first, with its reason, and the next possible marketing slot',
  })
  @ApiQuery({ name: 'limit', required: false, type: Number })
  @ApiQuery({ name: 'before', required: false, description: 'The `nextCursor` of the previous page.' })
  timeline(@Param('id', ParseIdPipe) id: string, @Query('limit') limit?: string, @Query('before') before?: string): Promise<Timeline> {
    const size = limit === undefined ? 100 : Number(limit);
    if (!Number.isInteger(size) || size < 1 || size > 500) throw invalid('limit', 'must be a whole number from 1 to 500');
    if (before !== undefined && !/^\d{1,18}$/.test(before)) throw invalid('before', 'must be a cursor returned by a previous page');
    return this.timelines.timeline(id, size, before);
  }

  @Get(':id/export')
  @RequireScopes('read', 'subscribers:write')
  @ApiOperation({ summary: 'Everything stored about the person, as JSON (GDPR access request)' })
  export(@Param('id', ParseIdPipe) id: string): Promise<Record<string, unknown>> {
    return this.subscribers.export(id);
  }
}
