// The response shapes of the feedback API, as the OpenAPI document describes them. The classes
// implement the service's interfaces, so a field added there fails to compile here until documented.
import { ApiProperty } from '@nestjs/swagger';
import { ApiInstant, ApiInteger, ApiUuid } from '../../common/openapi';
import { LOCALES } from '../../config/config';
import type { FeedbackSummary, TopicSuggestionPage } from '../feedback.service';
import { Rating, RATINGS } from '../feedback.policy';

const RATE = {
  type: 'number',
  minimum: 0,
  maximum: 1,
  nullable: true,
  example: 0.75,
  description: 'useful / total, 3 decimals; null with no answers.',
} as const;

export class FeedbackWeek {
  @ApiProperty({ format: 'date', example: '2026-03-02', description: 'The ISO week’s Monday (UTC).' }) week: string;
  @ApiInteger({ minimum: 0 }) useful: number;
  @ApiInteger({ minimum: 0 }) notUseful: number;
  @ApiProperty(RATE) usefulRate: number | null;
}

export class FeedbackComment {
  @ApiInstant() at: string;
  @ApiProperty({ enum: RATINGS }) rating: Rating;
  @ApiProperty({ example: 'Please more about Austria.', description: 'Free text as the customer wrote it: escape it wherever it is shown.' }) comment: string;
  @ApiProperty({ enum: ['campaign', 'digest_item'] }) itemType: string;
  @ApiUuid() itemId: string;
}

export class FeedbackSummaryResponse implements FeedbackSummary {
  @ApiInteger({ minimum: 0 }) total: number;
  @ApiInteger({ minimum: 0 }) useful: number;
  @ApiInteger({ minimum: 0 }) notUseful: number;
  @ApiProperty(RATE) usefulRate: number | null;
  @ApiProperty({ type: [FeedbackWeek], description: 'ISO weeks with answers, oldest first.' }) trend: FeedbackWeek[];
  @ApiProperty({ type: [FeedbackComment], description: 'Newest first, at most 100.' }) comments: FeedbackComment[];
}

export class CampaignFeedbackResponse extends FeedbackSummaryResponse {
  @ApiUuid() campaignId: string;
}

export class TopicFeedbackResponse extends FeedbackSummaryResponse {
  @ApiProperty({ example: 'trade-fairs' }) topic: string;
}

export class TopicSuggestion {
  @ApiProperty({ example: '812', description: 'A 64-bit integer, as a string.' }) id: string;
  @ApiProperty({ example: 'Trade fair dates in Austria', description: 'As the customer wrote it: escape it wherever it is shown.' }) text: string;
  @ApiProperty({ enum: LOCALES }) locale: 'de' | 'en';
  @ApiInstant() createdAt: string;
  @ApiProperty({ type: [String], example: ['trade-fairs'], description: 'The topics the customer had chosen, as of now.' }) chosenTopics: string[];
}

export class TopicSuggestionPageResponse implements TopicSuggestionPage {
  @ApiInteger({ minimum: 0, description: 'Suggestions in all.' }) total: number;
  @ApiProperty({ type: [TopicSuggestion], description: 'Newest first, from the cursor on.' }) items: TopicSuggestion[];
  @ApiProperty({ nullable: true, type: String, example: null, description: 'Pass as `before` for the next page; null on the last page.' }) nextCursor:
    string | null;
}

export const FEEDBACK_EXAMPLE: FeedbackSummary = {
  total: 4,
  useful: 3,
  notUseful: 1,
  usefulRate: 0.75,
  trend: [{ week: '2026-03-02', useful: 3, notUseful: 1, usefulRate: 0.75 }],
  comments: [
    {
      at: '2026-03-03T18:02:00.000Z',
      rating: 'not_useful',
      comment: 'Please more about Austria.',
      itemType: 'campaign',
      itemId: '0195f2a5-1111-7000-8000-00000000c001',
    },
  ],
};
