import { Module } from '@nestjs/common';
import { LinksModule } from '../links/links.module';
import { InboundSmtpReceiver } from './inbound-smtp';
import { MailEventsController } from './mail-events.controller';
import { MailEventsService } from './mail-events.service';
import { ProviderWebhooksController } from './providers/provider-webhooks.controller';
import { SnsClient } from './providers/sns-client';

/** Everything the mail world says back: the inbound SMTP receiver, provider webhooks, Tactful's own webhook. */
@Module({
  imports: [LinksModule],
  controllers: [MailEventsController, ProviderWebhooksController],
  providers: [MailEventsService, InboundSmtpReceiver, SnsClient],
  exports: [MailEventsService, InboundSmtpReceiver],
})
export class MailEventsModule {}
