import { Global, Module } from '@nestjs/common';
import { APP_CONFIG, AppConfig } from '../config/config';
import { RenderingModule } from '../rendering/rendering.module';
import { DeliveryKinds } from './delivery-kinds';
import { DeliveryWorker } from './delivery-worker';
import { DeliveryHealthService } from './delivery-health.service';
import { MailViewService } from './mail-view.service';
import { MailEventsController } from './mail-events.controller';
import { createMailTransport, MailTransport } from './mail-transport';
import { OutboxService } from './outbox.service';
import { LinksModule } from '../links/links.module';

/** The outbox, the worker and the transport; global because every domain queues mail. */
@Global()
@Module({
  imports: [LinksModule, RenderingModule],
  controllers: [MailEventsController],
  providers: [
    OutboxService,
    DeliveryKinds,
    DeliveryWorker,
    MailViewService,
    DeliveryHealthService,
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
  exports: [OutboxService, DeliveryKinds, DeliveryWorker, MailViewService, DeliveryHealthService, MailTransport],
})
export class DeliveryModule {}
