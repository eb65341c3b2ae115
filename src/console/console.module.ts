// The company's console: server-rendered pages under /console on the customer pages' renderer,
// signed in with an API key. Every read and every action goes through the services the API
// controllers use; this module holds no SQL of its own but its sessions.
import { Module } from '@nestjs/common';
import { AuthModule } from '../auth/auth.module';
import { CampaignsModule } from '../campaigns/campaigns.module';
import { FeedbackModule } from '../feedback/feedback.module';
import { PagesModule } from '../pages/pages.module';
import { SubscribersModule } from '../subscribers/subscribers.module';
import { TopicsModule } from '../topics/topics.module';
import { ConsoleGuard, ConsolePageFilter } from './console-access';
import { ConsoleController } from './console.controller';
import { ConsoleCampaignsController } from './console-campaigns.controller';
import { ConsoleCustomersController } from './console-customers.controller';
import { ConsoleInsightsController } from './console-insights.controller';
import { ConsoleSessionsService } from './console-sessions.service';
import { ConsoleView } from './console-view';

// The scheduler's run log comes from SchedulerModule, which AppModule registers once with the
// config (a second registration would declare its routes twice): the operations page finds it
// through the ModuleRef.
@Module({
  imports: [AuthModule, PagesModule, SubscribersModule, CampaignsModule, FeedbackModule, TopicsModule],
  controllers: [ConsoleController, ConsoleCustomersController, ConsoleCampaignsController, ConsoleInsightsController],
  providers: [ConsoleSessionsService, ConsoleView, ConsoleGuard, ConsolePageFilter],
})
export class ConsoleModule {}
