import { DynamicModule, Module } from '@nestjs/common';
import { ScheduleModule } from '@nestjs/schedule';
import { CampaignsModule } from '../campaigns/campaigns.module';
import { AppConfig } from '../config/config';
import { DigestsModule } from '../digests/digests.module';
import { PreferencesModule } from '../preferences/preferences.module';
import { SubscribersModule } from '../subscribers/subscribers.module';
import { WebinarsModule } from '../webinars/webinars.module';
import { JobsService } from './jobs.service';
import { SchedulerRunsController } from './scheduler-runs.controller';
import { SchedulerRunsService } from './scheduler-runs.service';

/** The run log is always readable; with SCHEDULER_ENABLED=false (tests, API-only instances) no job ticks here. */
@Module({})
export class SchedulerModule {
  static register(config: AppConfig): DynamicModule {
    return {
      module: SchedulerModule,
      imports: config.schedulerEnabled ? [ScheduleModule.forRoot(), SubscribersModule, CampaignsModule, DigestsModule, PreferencesModule, WebinarsModule] : [],
      controllers: [SchedulerRunsController],
      providers: [SchedulerRunsService, ...(config.schedulerEnabled ? [JobsService] : [])],
      exports: [SchedulerRunsService],
    };
  }
}
