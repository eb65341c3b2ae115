import { DynamicModule, Module } from '@nestjs/common';
import { ScheduleModule } from '@nestjs/schedule';
import { AppConfig } from '../config/config';
import { CampaignsModule } from '../campaigns/campaigns.module';
import { SubscribersModule } from '../subscribers/subscribers.module';
import { JobsService } from './jobs.service';

/** With SCHEDULER_ENABLED=false (tests, API-only instances) no job ticks in this process. */
@Module({})
export class SchedulerModule {
  static register(config: AppConfig): DynamicModule {
    if (!config.schedulerEnabled) return { module: SchedulerModule };
    return {
      module: SchedulerModule,
      imports: [ScheduleModule.forRoot(), SubscribersModule, CampaignsModule],
      providers: [JobsService],
    };
  }
}
