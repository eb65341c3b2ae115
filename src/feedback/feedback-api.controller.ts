// What marketers may read of the feedback: per campaign and per topic, counts, the useful rate,
// a weekly trend and the newest comments; and the topics customers asked for (raw text: escape
// it wherever it is shown).
import { Controller, Get, Param, Query } from '@nestjs/common';
import { ApiBearerAuth, ApiOperation, ApiQuery, ApiTags } from '@nestjs/swagger';
import { RequireScopes } from '../auth/scopes';
import { ApiOk, ApiProblems } from '../common/openapi';
import { CampaignFeedbackResponse, FEEDBACK_EXAMPLE, TopicFeedbackResponse, TopicSuggestionPageResponse } from './dto/feedback.dto';
import { IdParam } from '../common/params';
import { invalid } from '../common/problem';
import { FeedbackService } from './feedback.service';

@ApiTags('feedback')
@ApiBearerAuth()
@Controller('v1')
export class FeedbackApiController {
  constructor(private readonly feedback: FeedbackService) {}

  @Get('campaigns/:id/feedback')
  @RequireScopes('read', 'campaigns:write')
  @ApiOperation({ summary: 'What recipients said about a campaign (as a mail and as a digest entry): counts, useful rate, weekly trend, comments' })
  @ApiOk(CampaignFeedbackResponse, { campaignId: '0195f2a5-1111-7000-8000-00000000c001', ...FEEDBACK_EXAMPLE })
  @ApiProblems({ 404: 'No such campaign.' })
  campaign(@IdParam() id: string): Promise<CampaignFeedbackResponse> {
    return this.feedback.campaignSummary(id);
  }

  @Get('topics/:key/feedback')
  @RequireScopes('read', 'topics:write')
  @ApiOperation({ summary: 'What recipients said about everything on a topic: counts, useful rate, weekly trend, comments' })
  @ApiOk(TopicFeedbackResponse, { topic: 'trade-fairs', ...FEEDBACK_EXAMPLE })
  @ApiProblems({ 404: 'No topic has this key.' })
  topic(@Param('key') key: string): Promise<TopicFeedbackResponse> {
    return this.feedback.topicSummary(key);
  }

  @Get('topic-suggestions')
  @RequireScopes('read', 'topics:write')
  @ApiOperation({
    summary: 'Topics customers asked for on their preferences page, newest first (keyset pages: `before` = previous `nextCursor`)',
    description:
      'Free text as the customer wrote it, with their language and the topics they had chosen at the time of reading; ' +
      'no address or subscriber id (what people want, not who). Erased with the subscriber. Scope `read` or `topics:write`.',
  })
  @ApiQuery({ name: 'limit', required: false, schema: { type: 'integer', minimum: 1, maximum: 500, default: 100 } })
  @ApiQuery({ name: 'before', required: false, description: 'The `nextCursor` of the previous page.', schema: { type: 'string', pattern: '^\\d{1,18}$' } })
  @ApiOk(TopicSuggestionPageResponse, {
    total: 1,
    items: [{ id: '812', text: 'Trade fair dates in Austria', locale: 'en', createdAt: '2026-03-03T18:05:00.000Z', chosenTopics: ['trade-fairs'] }],
    nextCursor: null,
  })
  suggestions(@Query('limit') limit?: string, @Query('before') before?: string): Promise<TopicSuggestionPageResponse> {
    const size = limit === undefined ? 100 : Number(limit);
    if (!Number.isInteger(size) || size < 1 || size > 500) throw invalid('limit', 'must be a whole number from 1 to 500');
    if (before !== undefined && !/^\d{1,18}$/.test(before)) throw invalid('before', 'must be a cursor returned by a previous page');
    return this.feedback.suggestions(size, before);
  }
}
