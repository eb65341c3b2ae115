import { Body, Controller, Get, HttpCode, Patch, Post, Query, UseInterceptors } from '@nestjs/common';
import { ApiBearerAuth, ApiHeader, ApiOperation, ApiQuery, ApiTags } from '@nestjs/swagger';
import { RequireScopes } from '../auth/scopes';
import { IdempotencyInterceptor } from '../common/idempotency.interceptor';
import { IdParam } from '../common/params';
import { invalid } from '../common/problem';
import { CAMPAIGN_STATUSES } from './campaign-state.policy';
import { CampaignsService } from './campaigns.service';
import { ApiOk, ApiProblems } from '../common/openapi';
import {
  AudienceQuery,
  CampaignAudienceResponse,
  CampaignPreviewResponse,
  CampaignResponse,
  CampaignStatsResponse,
  CancelledCampaignResponse,
  TestSendResponse,
  CreateCampaignDto,
  PreviewCampaignDto,
  ScheduleCampaignDto,
  TestSendDto,
  UpdateCampaignDto,
} from './dto/campaign.dto';

const IDEMPOTENCY_HEADER = {
  name: 'Idempotency-Key',
  required: false,
  description: 'A retried POST with the same key returns the first result (header `Idempotent-Replayed: true`); the same key with a different body is a 422.',
  schema: { type: 'string', pattern: '^[\\w.:-]{1,200}$' },
};
const IDEMPOTENCY_PROBLEMS = {
  409: 'A request with this Idempotency-Key is still being processed; retry shortly.',
  422: 'This Idempotency-Key was used with a different request body.',
} as const;
const SCHEDULED: CampaignResponse = {
  ...CampaignResponse.example,
  status: 'scheduled',
  sendAt: '2026-03-02T09:00:00.000Z',
  updatedAt: '2026-03-02T08:56:00.000Z',
};

@ApiTags('campaigns')
@ApiBearerAuth()
@UseInterceptors(IdempotencyInterceptor)
@Controller('v1/campaigns')
export class CampaignsController {
  constructor(private readonly campaigns: CampaignsService) {}

  @Post()
  @RequireScopes('campaigns:write')
  @ApiHeader(IDEMPOTENCY_HEADER)
  @ApiOperation({ summary: 'Compose a campaign (a draft): one topic, subject and body per language, audience filter' })
  @ApiOk(CampaignResponse, CampaignResponse.example, { status: 201 })
  @ApiProblems({ 409: IDEMPOTENCY_PROBLEMS[409], 422: `${IDEMPOTENCY_PROBLEMS[422]} Or the body is not valid inside the mail layout.` })
  create(@Body() body: CreateCampaignDto): Promise<CampaignResponse> {
    return this.campaigns.create(body);
  }

  @Get()
  @RequireScopes('read', 'campaigns:write')
  @ApiQuery({ name: 'status', required: false, enum: CAMPAIGN_STATUSES })
  @ApiOperation({ summary: 'List campaigns, newest first, each with its progress' })
  @ApiOk([CampaignResponse], [SCHEDULED])
  list(@Query('status') status?: string): Promise<CampaignResponse[]> {
    if (status !== undefined && !(CAMPAIGN_STATUSES as readonly string[]).includes(status)) {
      throw invalid('status', `must be one of ${CAMPAIGN_STATUSES.join(', ')}`);
    }
    return this.campaigns.list(status);
  }

  @Get(':id')
  @RequireScopes('read', 'campaigns:write')
  @ApiOperation({ summary: 'Get a campaign and its progress: queued, handed over, deferred into digests, suppressed, expired, failed' })
  @ApiOk(CampaignResponse, SCHEDULED)
  @ApiProblems({ 404: 'No such campaign.' })
  get(@IdParam() id: string): Promise<CampaignResponse> {
    return this.campaigns.get(id);
  }

  @Patch(':id')
  @RequireScopes('campaigns:write')
  @ApiOperation({ summary: 'Change a draft or scheduled campaign (409 once it is sending)' })
  @ApiOk(CampaignResponse, { ...CampaignResponse.example, priority: 5, updatedAt: '2026-03-02T08:57:00.000Z' })
  @ApiProblems({
    404: 'No such campaign.',
    409: 'The campaign is sending, sent or cancelled: it cannot change.',
    422: 'The body is not valid inside the mail layout.',
  })
  update(@IdParam() id: string, @Body() body: UpdateCampaignDto): Promise<CampaignResponse> {
    return this.campaigns.update(id, body);
  }

  @Post(':id/schedule')
  @HttpCode(200)
  @RequireScopes('campaigns:write')
  @ApiHeader(IDEMPOTENCY_HEADER)
  @ApiOperation({
    summary: 'Schedule: at sendAt, each subscriber gets it now if their window is free, else it is folded into their next digest',
  })
  @ApiOk(CampaignResponse, SCHEDULED)
  @ApiProblems({
    404: 'No such campaign.',
    409: `The campaign is sending, sent or cancelled: it cannot be scheduled again. Or: ${IDEMPOTENCY_PROBLEMS[409]}`,
    422: `It has no subject, or it would expire before sendAt. Or: ${IDEMPOTENCY_PROBLEMS[422]}`,
  })
  schedule(@IdParam() id: string, @Body() body: ScheduleCampaignDto): Promise<CampaignResponse> {
    return this.campaigns.schedule(id, body?.sendAt);
  }

  @Post(':id/cancel')
  @HttpCode(200)
  @RequireScopes('campaigns:write')
  @ApiOperation({ summary: 'Cancel: everything not yet handed to SMTP is suppressed (suppressed_cancelled) and held windows are freed' })
  @ApiOk(
    CancelledCampaignResponse,
    { ...SCHEDULED, status: 'cancelled', cancelledAt: '2026-03-02T08:58:00.000Z', cancelledDeliveries: 0 },
    { description: 'Cancelled (again: nothing more to do).' },
  )
  @ApiProblems({ 404: 'No such campaign.' })
  cancel(@IdParam() id: string): Promise<CancelledCampaignResponse> {
    return this.campaigns.cancel(id);
  }

  @Post(':id/preview')
  @HttpCode(200)
  @RequireScopes('read', 'campaigns:write')
  @ApiOperation({ summary: 'Render subject, HTML and text for a subscriber or a sample' })
  @ApiOk(CampaignPreviewResponse, {
    subject: 'The Aufschwung fair goes digital',
    html: '<!doctype html><html>…</html>',
    text: 'The fair takes place online on 12 June.\n…',
  })
  @ApiProblems({ 404: 'No such campaign, or no such subscriber.', 422: 'The campaign has no version in that language.' })
  preview(@IdParam() id: string, @Body() body: PreviewCampaignDto): Promise<CampaignPreviewResponse> {
    return this.campaigns.preview(id, body ?? {});
  }

  @Post(':id/test-send')
  @HttpCode(202)
  @RequireScopes('campaigns:write')
  @ApiOperation({ summary: 'Send to listed addresses, marked [TEST]; no cadence effect, no stats' })
  @ApiOk(TestSendResponse, { queued: 1 }, { status: 202, description: 'Queued for sending.' })
  @ApiProblems({ 404: 'No such campaign.', 422: 'The campaign has no version in that language.' })
  testSend(@IdParam() id: string, @Body() body: TestSendDto): Promise<TestSendResponse> {
    return this.campaigns.testSend(id, body);
  }

  @Get(':id/audience')
  @RequireScopes('read', 'campaigns:write')
  @ApiOperation({ summary: 'Dry run: how many would get it now, later in a digest (and when), never — by reason. Changes nothing.' })
  @ApiOk(CampaignAudienceResponse, CampaignAudienceResponse.example)
  @ApiProblems({ 404: 'No such campaign.' })
  audience(@IdParam() id: string, @Query() query: AudienceQuery): Promise<CampaignAudienceResponse> {
    return this.campaigns.audience(id, query);
  }

  @Get(':id/stats')
  @RequireScopes('read', 'campaigns:write')
  @ApiOperation({ summary: 'Counts by status and reason, live while sending' })
  @ApiOk(CampaignStatsResponse, { campaignId: CampaignResponse.example.id, total: 2, byStatus: { sent: 2 }, byReason: { sent: 2 } })
  @ApiProblems({ 404: 'No such campaign.' })
  stats(@IdParam() id: string): Promise<CampaignStatsResponse> {
    return this.campaigns.stats(id);
  }
}
