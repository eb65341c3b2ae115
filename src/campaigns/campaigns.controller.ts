import { Body, Controller, Get, HttpCode, Param, Patch, Post, Query, UseInterceptors } from '@nestjs/common';
import { ApiBearerAuth, ApiHeader, ApiOperation, ApiQuery, ApiTags } from '@nestjs/swagger';
import { RequireScopes } from '../auth/scopes';
import { IdempotencyInterceptor } from '../common/idempotency.interceptor';
import { ParseIdPipe } from '../common/params';
import { invalid } from '../common/problem';
import { CAMPAIGN_STATUSES } from './campaign-state.policy';
import { CampaignsService } from './campaigns.service';
import {
  AudienceQuery,
  CampaignResponse,
  CreateCampaignDto,
  PreviewCampaignDto,
  ScheduleCampaignDto,
  TestSendDto,
  UpdateCampaignDto,
} from './dto/campaign.dto';

const IDEMPOTENCY_HEADER = {
  name: 'Idempotency-Key',
  required: false,
  description: 'A retried POST with the same key returns the first result; the same key with a different body is a 422.',
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
  create(@Body() body: CreateCampaignDto): Promise<CampaignResponse> {
    return this.campaigns.create(body);
  }

  @Get()
  @RequireScopes('read', 'campaigns:write')
  @ApiQuery({ name: 'status', required: false, enum: CAMPAIGN_STATUSES })
  @ApiOperation({ summary: 'List campaigns, newest first, each with its progress' })
  list(@Query('status') status?: string): Promise<CampaignResponse[]> {
    if (status !== undefined && !(CAMPAIGN_STATUSES as readonly string[]).includes(status)) {
      throw invalid('status', `must be one of ${CAMPAIGN_STATUSES.join(', ')}`);
    }
    return this.campaigns.list(status);
  }

  @Get(':id')
  @RequireScopes('read', 'campaigns:write')
  @ApiOperation({ summary: 'Get a campaign and its progress: queued, handed over, deferred into digests, suppressed, expired, failed' })
  get(@Param('id', ParseIdPipe) id: string): Promise<CampaignResponse> {
    return this.campaigns.get(id);
  }

  @Patch(':id')
  @RequireScopes('campaigns:write')
  @ApiOperation({ summary: 'Change a draft or scheduled campaign (409 once it is sending)' })
  update(@Param('id', ParseIdPipe) id: string, @Body() body: UpdateCampaignDto): Promise<CampaignResponse> {
    return this.campaigns.update(id, body);
  }

  @Post(':id/schedule')
  @HttpCode(200)
  @RequireScopes('campaigns:write')
  @ApiHeader(IDEMPOTENCY_HEADER)
  @ApiOperation({
    summary: 'Schedule: at sendAt, each subscriber gets it now if their window is free, else it is folded into their next digest',
  })
  schedule(@Param('id', ParseIdPipe) id: string, @Body() body: ScheduleCampaignDto): Promise<CampaignResponse> {
    return this.campaigns.schedule(id, body?.sendAt);
  }

  @Post(':id/cancel')
  @HttpCode(200)
  @RequireScopes('campaigns:write')
  @ApiOperation({ summary: 'Cancel: everything not yet handed to SMTP is suppressed (suppressed_cancelled) and held windows are freed' })
  cancel(@Param('id', ParseIdPipe) id: string) {
    return this.campaigns.cancel(id);
  }

  @Post(':id/preview')
  @HttpCode(200)
  @RequireScopes('read', 'campaigns:write')
  @ApiOperation({ summary: 'Render subject, HTML and text for a subscriber or a sample' })
  preview(@Param('id', ParseIdPipe) id: string, @Body() body: PreviewCampaignDto) {
    return this.campaigns.preview(id, body ?? {});
  }

  @Post(':id/test-send')
  @HttpCode(202)
  @RequireScopes('campaigns:write')
  @ApiOperation({ summary: 'Send to listed addresses, marked [TEST]; no cadence effect, no stats' })
  testSend(@Param('id', ParseIdPipe) id: string, @Body() body: TestSendDto) {
    return this.campaigns.testSend(id, body);
  }

  @Get(':id/audience')
  @RequireScopes('read', 'campaigns:write')
  @ApiOperation({ summary: 'Dry run: how many would get it now, later in a digest (and when), never — by reason. Changes nothing.' })
  audience(@Param('id', ParseIdPipe) id: string, @Query() query: AudienceQuery) {
    return this.campaigns.audience(id, query);
  }

  @Get(':id/stats')
  @RequireScopes('read', 'campaigns:write')
  @ApiOperation({ summary: 'Counts by status and reason, live while sending' })
  stats(@Param('id', ParseIdPipe) id: string) {
    return this.campaigns.stats(id);
  }
}
