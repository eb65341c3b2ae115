// What marketers may read of the feedback: per campaign and per topic, counts, the useful rate,
// a weekly trend and the newest comments (raw text: escape it wherever it is shown).
import { Controller, Get, Param } from '@nestjs/common';
import { ApiBearerAuth, ApiOperation, ApiTags } from '@nestjs/swagger';
import { RequireScopes } from '../auth/scopes';
import { ParseIdPipe } from '../common/params';
import { FeedbackService } from './feedback.service';

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
}
