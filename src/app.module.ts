import { DynamicModule, Module } from '@nestjs/common';
import { APP_FILTER } from '@nestjs/core';
import { TypeOrmModule } from '@nestjs/typeorm';
import { AuthModule } from './auth/auth.module';
import { Clock } from './common/clock';
import { ClockModule } from './common/clock.module';
import { tactfulLoggerModule } from './common/logging';
import { ProblemFilter } from './common/problem.filter';
import { TimeZoneCatalog } from './common/time-zones';
import { AppConfig } from './config/config';
import { ConfigModule } from './config/config.module';
import { poolBudgets } from './database/connection-budgets';
import { DatabaseModule } from './database/database.module';
import { dataSourceOptions } from './database/data-source';
import { CadenceModule } from './cadence/cadence.module';
import { CampaignsModule } from './campaigns/campaigns.module';
import { ConsoleModule } from './console/console.module';
import { DeliveryModule } from './delivery/delivery.module';
import { DeliveryWorkerThread, WORKER_THREAD_SOURCE, WorkerThreadSource } from './delivery/worker-thread';
import { DigestsModule } from './digests/digests.module';
import { ENTITIES } from './entity-list';
import { MailEventsModule } from './mail-events/mail-events.module';
import { MetricsModule } from './metrics/metrics.module';
import { OperationsModule } from './operations/operations.module';
import { PreferencesModule } from './preferences/preferences.module';
import { SchedulerModule } from './scheduler/scheduler.module';
import { ShipmentsModule } from './shipments/shipments.module';
import { SubscribersModule } from './subscribers/subscribers.module';
import { TopicsModule } from './topics/topics.module';
import { WebinarsModule } from './webinars/webinars.module';

export interface AppModuleOptions {
  config: AppConfig;
  databaseUrl: string;
  clock: Clock;
  /** The environment the delivery worker thread reads its config from (default process.env). */
  env?: NodeJS.ProcessEnv;
}

@Module({})
export class AppModule {
  static register({ config, databaseUrl, clock, env = process.env }: AppModuleOptions): DynamicModule {
    return {
      module: AppModule,
      imports: [
        ConfigModule.register(config),
        ClockModule.register(clock),
        tactfulLoggerModule(config),
        TypeOrmModule.forRoot(dataSourceOptions(databaseUrl, poolBudgets(config), ENTITIES)),
        DatabaseModule,
        AuthModule,
        MetricsModule,
        DeliveryModule,
        MailEventsModule,
        CadenceModule,
        TopicsModule,
        SubscribersModule,
        PreferencesModule,
        CampaignsModule,
        DigestsModule,
        ShipmentsModule,
        WebinarsModule,
        OperationsModule,
        SchedulerModule.register(config),
        ConsoleModule,
      ],
      providers: [
        { provide: APP_FILTER, useClass: ProblemFilter },
        TimeZoneCatalog,
        { provide: WORKER_THREAD_SOURCE, useValue: { env, databaseUrl } satisfies WorkerThreadSource },
        DeliveryWorkerThread,
      ],
    };
  }
}
