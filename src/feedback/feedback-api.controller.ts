// What marketers may read of the feedback: per campaign and per topic, counts, the useful rate,
// a weekly trend and the newest comments; and the topics customers asked for (raw text: escape
// it wherever it is shown).
import { Controller, Get, Param, Query } from '@nestjs/common';
import { ApiBearerAuth, ApiOperation, ApiQuery, ApiTags } from '@nestjs/swagger';
import { RequireScopes } from '../auth/scopes';
import { ParseIdPipe } from '../common/params';
import { invalid } from '../common/problem';
import { FeedbackService, TopicSuggestionPage } from './feedback.service';

@ApiTags('feedback')
@ApiBearerAuth()
@Controller('v1')
export class FeedbackApiController {
  constructor(private readonly feedback: FeedbackService) {}

  @Get('campaigns/:id/feedback')
  @RequireScopes('read', 'campaigns:write')
  @ApiOperation({ summary: 'What recipients said about a campaign (as a mail and as a digest entry): counts, useful rate, weekly trend, comments' })
  campaign(@Param('id', ParseIdPipe) id: string) {
    return this.feedback.campaignSummary(id);
  }

  @Get('topics/:key/feedback')
  @RequireScopes('read', 'topics:write')
  @ApiOperation({ summary: 'What recipients said about everything on a topic: counts, useful rate, weekly trend, comments' })
  topic(@Param('key') key: string) {
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
  @ApiQuery({ name: 'limit', required: false, type: Number, description: '1-500, default 100' })
  @ApiQuery({ name: 'before', required: false, description: 'The `nextCursor` of the previous page.' })
  suggestions(@Query('limit') limit?: string, @Query('before') before?: string): Promise<TopicSuggestionPage> {
    const size = limit === undefined ? 100 : Number(limit);
    if (!Number.isInteger(size) || size < 1 || size > 500) throw invalid('limit', 'must be a whole number from 1 to 500');
    if (before !== undefined && !/^\d{1,18}$/.test(before)) throw invalid('before', 'must be a cursor returned by a previous page');
    return this.feedback.suggestions(size, before);
  }
}
