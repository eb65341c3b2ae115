import { Global, Module } from '@nestjs/common';
import { APP_CONFIG, AppConfig } from '../config/config';
import { TokenService } from '../preferences/tokens';
import { RenderingModule } from '../rendering/rendering.module';
import { DeliveryKinds } from './delivery-kinds';
import { DeliveryWorker } from './delivery-worker';
import { DeliveryHealthService } from './delivery-health.service';
import { MailViewService } from './mail-view.service';
import { MailEventsController } from './mail-events.controller';
import { createMailTransport, MailTransport } from './mail-transport';
import { OutboxService } from './outbox.service';

/** The outbox, the worker and the transport; global because every domain queues mail. */
@Global()
@Module({
  imports: [RenderingModule],
  controllers: [MailEventsController],
  providers: [
    OutboxService,
    DeliveryKinds,
    DeliveryWorker,
    MailViewService,
    DeliveryHealthService,
    TokenService,
    {
      provide: MailTransport,
      inject: [APP_CONFIG],
      useFactory: (config: AppConfig) =>
        createMailTransport({
          smtpUrl: config.smtpUrl,
          outboxDir: config.outboxDir,
          maxConnections: config.smtpMaxConnections,
          ratePerSecond: config.smtpRatePerSecond,
        }),
    },
  ],
  exports: [OutboxService, DeliveryKinds, DeliveryWorker, MailViewService, DeliveryHealthService, TokenService, MailTransport],
})
export class DeliveryModule {}
