// Feedback storage and the marketer API. The customer page (FeedbackController) is registered by
// PreferencesModule with the other customer pages: they share the page renderer, CSRF and rate limits.
import { Module } from '@nestjs/common';
import { TopicsModule } from '../topics/topics.module';
import { FeedbackApiController } from './feedback-api.controller';
import { FeedbackService } from './feedback.service';

@Module({
  imports: [TopicsModule],
  controllers: [FeedbackApiController],
  providers: [FeedbackService],
  exports: [FeedbackService],
})
export class FeedbackModule {}
