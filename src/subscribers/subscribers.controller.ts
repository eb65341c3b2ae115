import { Body, Controller, Delete, Get, HttpCode, Patch, Post, Query, Req } from '@nestjs/common';
import { ApiBearerAuth, ApiExtraModels, ApiOperation, ApiQuery, ApiTags, getSchemaPath } from '@nestjs/swagger';
import type { FastifyRequest } from 'fastify';
import type { AuthenticatedRequest } from '../common/authenticated-request';
import { RequireScopes } from '../auth/scopes';
import { IdParam } from '../common/params';
import { DomainException, ErrorCode, invalid } from '../common/problem';
import { ApiBodyContent, ApiNoContent, ApiOk, ApiProblems } from '../common/openapi';
import {
  CreateSubscriberDto,
  ImportReportResponse,
  ListSubscribersQuery,
  SubscriberExport,
  SubscriberPage,
  SubscriberResponse,
  UpdateSubscriberDto,
} from './dto/subscriber.dto';
import { TimelineResponse } from './dto/timeline.dto';
import { ImportFormat, SubscriberImportService } from './subscriber-import.service';
import { SubscribersService } from './subscribers.service';
import { TimelineService } from './timeline.service';

const FORMATS: Record<string, ImportFormat> = {
  'application/json': 'json',
  'application/x-ndjson': 'ndjson',
  'text/csv': 'csv',
};

@ApiTags('subscribers')
@ApiBearerAuth()
@ApiExtraModels(CreateSubscriberDto)
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
  @ApiOk(SubscriberResponse, SubscriberResponse.example, { status: 201 })
  @ApiProblems({
    409: 'A subscriber with this address exists (`errors`: email is taken).',
    422: 'The address belongs to an erased person (and the consent is not newer than the erasure), or it bounced or complained; or a topic is unknown or archived.',
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
  @ApiBodyContent({
    required: true,
    content: {
      'application/json': {
        schema: { type: 'array', items: { $ref: getSchemaPath(CreateSubscriberDto) } },
        example: [{ email: 'anna@example.de', topics: ['trade-fairs'], consent: { source: 'form', confirmedAt: '2026-03-01T10:00:00Z' } }],
      },
      'application/x-ndjson': {
        schema: { type: 'string', description: 'One subscriber (the JSON objects of application/json) per line.' },
        example: '{"email":"anna@example.de","topics":["trade-fairs"],"consent":{"source":"form","confirmedAt":"2026-03-01T10:00:00Z"}}\n',
      },
      'text/csv': {
        schema: { type: 'string', description: 'A header row naming the columns (see the description), then one subscriber per row.' },
        example:
          'email,locale,time_zone,cadence,topics,consent_source,consent_confirmed_at,attr.company\nben@example.com,en,Europe/London,weekly,trade-fairs;offers,form,2026-03-01T10:15:00Z,Acme Ltd\n',
      },
    },
  })
  @ApiQuery({ name: 'atomic', required: false, type: Boolean, description: 'Any bad row means nothing is stored (422).' })
  @ApiOk(ImportReportResponse, ImportReportResponse.example, { description: 'What was stored, and each bad row (unless atomic).' })
  @ApiProblems({ 422: 'atomic=true and some rows are bad: nothing was stored; `errors` lists each bad row.' })
  async import(@Req() request: FastifyRequest, @Query('atomic') atomic?: string): Promise<ImportReportResponse> {
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
  @ApiOk(SubscriberPage, { items: [SubscriberResponse.example], nextCursor: null })
  list(@Query() query: ListSubscribersQuery): Promise<SubscriberPage> {
    return this.subscribers.list(query);
  }

  @Get(':id')
  @RequireScopes('read', 'subscribers:write')
  @ApiOperation({ summary: 'Get a subscriber with every topic consent record' })
  @ApiOk(SubscriberResponse, SubscriberResponse.example)
  @ApiProblems({ 404: 'No such subscriber.' })
  get(@IdParam() id: string): Promise<SubscriberResponse> {
    return this.subscribers.get(id);
  }

  @Patch(':id')
  @RequireScopes('subscribers:write')
  @ApiOperation({ summary: 'Change locale, time zone, cadence, digest slot, attributes, status or topics' })
  @ApiOk(SubscriberResponse, { ...SubscriberResponse.example, cadence: 'weekly', updatedAt: '2026-11-25T08:00:00.000Z' })
  @ApiProblems({
    404: 'No such subscriber.',
    422: 'The change is not possible: `status` cannot be `active` before the subscriber confirmed, or a topic is unknown or archived.',
  })
  update(@IdParam() id: string, @Body() body: UpdateSubscriberDto, @Req() request: AuthenticatedRequest): Promise<SubscriberResponse> {
    return this.subscribers.update(id, body, request.apiKey?.id ?? null);
  }

  @Delete(':id')
  @HttpCode(204)
  @RequireScopes('subscribers:write')
  @ApiOperation({
    summary: 'Erase a subscriber (GDPR)',
    description:
      'Deletes the personal data; a SHA-256 hash of the address stays on the suppression list so a later import cannot re-add the person without new consent.',
  })
  @ApiNoContent('Erased.')
  @ApiProblems({ 404: 'No such subscriber.' })
  async erase(@IdParam() id: string): Promise<void> {
    await this.subscribers.erase(id);
  }

  @Get(':id/timeline')
  @RequireScopes('read', 'subscribers:write')
  @ApiOperation({
    summary: 'Every decision about the subscriber, newest first, with its reason, and the next possible marketing slot',
  })
  @ApiQuery({ name: 'limit', required: false, schema: { type: 'integer', minimum: 1, maximum: 500, default: 100 } })
  @ApiQuery({ name: 'before', required: false, description: 'The `nextCursor` of the previous page.', schema: { type: 'string', pattern: '^\\d{1,18}$' } })
  @ApiOk(TimelineResponse, TimelineResponse.example)
  @ApiProblems({ 404: 'No such subscriber.' })
  timeline(@IdParam() id: string, @Query('limit') limit?: string, @Query('before') before?: string): Promise<TimelineResponse> {
    const size = limit === undefined ? 100 : Number(limit);
    if (!Number.isInteger(size) || size < 1 || size > 500) throw invalid('limit', 'must be a whole number from 1 to 500');
    if (before !== undefined && !/^\d{1,18}$/.test(before)) throw invalid('before', 'must be a cursor returned by a previous page');
    return this.timelines.timeline(id, size, before);
  }

  @Get(':id/export')
  @RequireScopes('read', 'subscribers:write')
  @ApiOperation({ summary: 'Everything stored about the person, as JSON (GDPR access request)' })
  @ApiOk(SubscriberExport, SubscriberExport.example)
  @ApiProblems({ 404: 'No such subscriber.' })
  export(@IdParam() id: string): Promise<Record<string, unknown>> {
    return this.subscribers.export(id);
  }
}
