// Feedback: the customer page (FeedbackController, sharing the page renderer, form tokens and rate
// limits of PagesModule with the other customer pages), its storage and the marketer API.
import { Module } from '@nestjs/common';
import { LinksModule } from '../links/links.module';
import { PagesModule } from '../pages/pages.module';
import { TopicsModule } from '../topics/topics.module';
import { FeedbackApiController } from './feedback-api.controller';
import { FeedbackController } from './feedback.controller';
import { FeedbackService } from './feedback.service';

@Module({
  imports: [LinksModule, PagesModule, TopicsModule],
  controllers: [FeedbackController, FeedbackApiController],
  providers: [FeedbackService],
  exports: [FeedbackService],
})
export class FeedbackModule {}
