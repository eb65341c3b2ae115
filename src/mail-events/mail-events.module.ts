import { Module } from '@nestjs/common';
import { InboundSmtpReceiver } from './inbound-smtp';
import { MailEventsController } from './mail-events.controller';
import { MailEventsService } from './mail-events.service';

/** Everything the mail world says back: the inbound SMTP receiver, provider webhooks, Tactful's own webhook. */
@Module({
  controllers: [MailEventsController],
  providers: [MailEventsService, InboundSmtpReceiver],
  exports: [MailEventsService, InboundSmtpReceiver],
})
export class MailEventsModule {}
