import { Global, Module } from '@nestjs/common';
import { APP_CONFIG, AppConfig } from '../config/config';
import { RenderingModule } from '../rendering/rendering.module';
import { DeliveryKinds } from './delivery-kinds';
import { DeliveryWorker } from './delivery-worker';
import { MailEventsController } from './mail-events.controller';
import { MailEventsService } from './mail-events.service';
import { createMailRelays, MailRelays } from './mail-relays';
import { MailTransport } from './mail-transport';
import { OutboxService } from './outbox.service';
import { LinksModule } from '../links/links.module';

/** The outbox, the worker and the transport; global because every domain queues mail. */
@Global()
@Module({
  imports: [LinksModule, RenderingModule],
  controllers: [MailEventsController],
  providers: [
    OutboxService,
    MailEventsService,
    DeliveryKinds,
    DeliveryWorker,
    { provide: MailRelays, inject: [APP_CONFIG], useFactory: (config: AppConfig) => createMailRelays(config) },
    // The service stream's relay, for anything that sends outside the outbox.
    { provide: MailTransport, inject: [MailRelays], useFactory: (relays: MailRelays) => relays.for('service').transport },
  ],
  exports: [OutboxService, DeliveryKinds, DeliveryWorker, MailTransport, MailRelays],
})
export class DeliveryModule {}
