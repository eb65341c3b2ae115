import { DynamicModule, Module } from '@nestjs/common';
import { APP_FILTER } from '@nestjs/core';
import { TypeOrmModule } from '@nestjs/typeorm';
import { LoggerModule } from 'nestjs-pino';
import { AuthModule } from './auth/auth.module';
import { Clock } from './common/clock';
import { ClockModule } from './common/clock.module';
import { REDACTED_LOG_PATHS, scrubbingDestination, serializeError, serializeRequest, serializeResponse } from './common/log-redaction';
import { ProblemFilter } from './common/problem.filter';
import { TimeZoneCatalog } from './common/time-zones';
import { AppConfig } from './config/config';
import { ConfigModule } from './config/config.module';
import { poolBudgets } from './database/connection-budgets';
import { DatabaseModule } from './database/database.module';
import { dataSourceOptions } from './database/data-source';
import { CadenceModule } from './cadence/cadence.module';
import { CampaignsModule } from './campaigns/campaigns.module';
import { DeliveryModule } from './delivery/delivery.module';
import { DigestsModule } from './digests/digests.module';
import { ENTITIES } from './entity-list';
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
}

@Module({})
export class AppModule {
  static register({ config, databaseUrl, clock }: AppModuleOptions): DynamicModule {
    return {
      module: AppModule,
      imports: [
        ConfigModule.register(config),
        ClockModule.register(clock),
        LoggerModule.forRoot({
          pinoHttp: [
            {
              level: config.logLevel,
              redact: REDACTED_LOG_PATHS,
              serializers: { req: serializeRequest, res: serializeResponse, err: serializeError },
              autoLogging: { ignore: (request) => request.url === '/health' },
            },
            // Every line passes scrubLogLine on its way to stdout (see common/log-redaction.ts).
            // process.stdout (synchronous for files, TTYs and, on Linux, pipes) rather than a
            // sonic-boom on fd 1, so whoever embeds the app sees the lines where it sees its own.
            scrubbingDestination(process.stdout),
          ],
        }),
        TypeOrmModule.forRoot(dataSourceOptions(databaseUrl, poolBudgets(config), ENTITIES)),
        DatabaseModule,
        AuthModule,
        MetricsModule,
        DeliveryModule,
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
      ],
      providers: [{ provide: APP_FILTER, useClass: ProblemFilter }, TimeZoneCatalog],
    };
  }
}
