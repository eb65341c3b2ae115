// Tactful's own signed JSON webhook for bounce and complaint events (see common/signatures.ts),
// for relays and glue code that speak no provider format. Like every other input it goes through
// MailEventsService (source `webhook`).
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
  constructor(private readonly mailEvents: MailEventsService) {}

  @Post('mail-events')
  @HttpCode(200)
  @Public()
  @UseGuards(WebhookSignatureGuard)
  @ApiHeader({ name: SIGNATURE_HEADER, required: true, description: 't=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<raw body>"> with WEBHOOK_SECRET' })
  @ApiOperation({
    summary: 'Bounce and complaint events (signed)',
    description:
      'A hard bounce marks the subscriber `bounced`; a complaint marks them `complained` and revokes every topic ' +
      'subscription, so nothing but transactional mail reaches them again. A soft bounce is counted: SOFT_BOUNCE_LIMIT of them ' +
      'within SOFT_BOUNCE_DAYS days bounce the address. An address that is no subscriber (order ' +
      'and shipment mail) is remembered as a hash: after a hard bounce nothing more is sent to it. Every event shows on the ' +
      "subscriber's timeline (`mailEvents`, source `webhook`). Signed with WEBHOOK_SECRET; requests " +
      'older than 5 minutes and repeated event ids are refused or ignored.',
  })
  @ApiOk(MailEventResult, { duplicate: false, subscriberFound: true, action: 'bounced' }, { description: 'Applied, or acknowledged as a duplicate.' })
  @ApiProblems({ 401: 'The signature is missing, wrong, or its timestamp more than 5 minutes off.' })
  async receive(@Body() event: MailEventDto): Promise<MailEventResult> {
    if (!event.email && !event.messageId) throw invalid('email', 'or messageId is required');
    const soft = event.type === 'bounce' && (event.bounceType ?? 'hard') === 'soft';
    const result = await this.mailEvents.record({
      source: 'webhook',
      kind: event.type === 'complaint' ? 'complaint' : soft ? 'soft_bounce' : 'hard_bounce',
      replayKey: { source: 'mail', id: event.id },
      messageId: event.messageId ?? null,
      recipient: event.email ?? null,
      diagnostic: event.detail ?? null,
      statusCode: /\b([245]\.\d{1,3}\.\d{1,3})\b/.exec(event.detail ?? '')?.[1] ?? null,
      providerEventId: event.id,
      occurredAt: event.occurredAt ? new Date(event.occurredAt) : null,
    });
    if (result.duplicate) return { duplicate: true, subscriberFound: false, action: 'none' };
    const action = result.outcome === 'bounced' || result.outcome === 'complained' ? result.outcome : result.outcome === 'none' ? 'none' : 'noted';
    return { duplicate: false, subscriberFound: result.subscriberFound, action };
  }
}
