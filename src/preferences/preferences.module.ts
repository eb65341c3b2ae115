import { Module } from '@nestjs/common';
import { FeedbackController } from '../feedback/feedback.controller';
import { FeedbackModule } from '../feedback/feedback.module';
import { SubscribersModule } from '../subscribers/subscribers.module';
import { ConfirmController } from './confirm.controller';
import { CustomerPageLimitFilter, CustomerRateLimitGuard, CustomerRateLimits } from './customer-rate-limit.guard';
import { PageRenderer } from './page-renderer';
import { PreferencesApiController } from './preferences-api.controller';
import { PreferencesController } from './preferences.controller';
import { PreferencesService } from './preferences.service';

@Module({
  imports: [SubscribersModule, FeedbackModule],
  controllers: [ConfirmController, PreferencesController, PreferencesApiController, FeedbackController],
  providers: [PageRenderer, PreferencesService, CustomerRateLimits, CustomerRateLimitGuard, CustomerPageLimitFilter],
  exports: [PageRenderer, PreferencesService, CustomerRateLimits],
})
export class PreferencesModule {}
