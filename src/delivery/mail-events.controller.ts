// Bounce and complaint events from the mail provider, HMAC-signed (see common/signatures.ts).
import { Body, Controller, HttpCode, Post, UseGuards } from '@nestjs/common';
import { ApiHeader, ApiOperation, ApiTags } from '@nestjs/swagger';
import { Public } from '../auth/scopes';
import { ApiOk, ApiProblems } from '../common/openapi';
import { invalid } from '../common/problem';
import { SIGNATURE_HEADER } from '../common/signatures';
import { WebhookSignatureGuard } from '../common/webhook-signature.guard';
import { MailEventDto, MailEventResult } from './dto/mail-event.dto';
import { MailEventsService } from './mail-events.service';

@ApiTags('webhooks')
@Controller('webhooks')
export class MailEventsController {
  constructor(private readonly events: MailEventsService) {}

  @Post('mail-events')
  @HttpCode(200)
  @Public()
  @UseGuards(WebhookSignatureGuard)
  @ApiHeader({ name: SIGNATURE_HEADER, required: true, description: 't=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<raw body>"> with WEBHOOK_SECRET' })
  @ApiOperation({
    summary: 'Bounce and complaint events (signed)',
    description:
      'A hard bounce marks the subscriber `bounced`; a complaint marks them `complained` and revokes every topic ' +
      'subscription, so nothing but transactional mail reaches them again. An address that is no subscriber (order ' +
      'and shipment mail) is remembered as a hash: after a hard bounce nothing more is sent to it. Signed with WEBHOOK_SECRET; requests ' +
      'older than 5 minutes and repeated event ids are refused or ignored.',
  })
  @ApiOk(MailEventResult, { duplicate: false, subscriberFound: true, action: 'bounced' }, { description: 'Applied, or acknowledged as a duplicate.' })
  @ApiProblems({ 401: 'The signature is missing, wrong, or its timestamp more than 5 minutes off.' })
  async receive(@Body() event: MailEventDto): Promise<MailEventResult> {
    if (!event.email && !event.messageId) throw invalid('email', 'or messageId is required');
    return this.events.apply(event);
  }
}
