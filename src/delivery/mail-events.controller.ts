// Bounce and complaint events from the mail provider, HMAC-signed (see common/signatures.ts).
import { Body, Controller, HttpCode, Post, UseGuards } from '@nestjs/common';
import { ApiHeader, ApiOperation, ApiTags } from '@nestjs/swagger';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';
import { Public } from '../auth/scopes';
import { ApiOk, ApiProblems } from '../common/openapi';
import { Clock } from '../common/clock';
import { invalid } from '../common/problem';
import { SIGNATURE_HEADER } from '../common/signatures';
import { WebhookSignatureGuard } from '../common/webhook-signature.guard';
import { blockAddress } from './bounced-addresses';
import { MailEventDto, MailEventResult } from './dto/mail-event.dto';

@ApiTags('webhooks')
@Controller('webhooks')
export class MailEventsController {
  constructor(
    @InjectDataSource() private readonly db: DataSource,
    private readonly clock: Clock,
  ) {}

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
    const now = this.clock.now();
    if (!event.email && !event.messageId) throw invalid('email', 'or messageId is required');

    return this.db.transaction(async (tx) => {
      const [fresh] = await tx.query(
        `INSERT INTO webhook_events (source, event_id, received_at) VALUES ('mail', $1, $2) ON CONFLICT DO NOTHING RETURNING 1`,
        [event.id, now],
      );
      if (!fresh) return { duplicate: true, subscriberFound: false, action: 'none' as const };
      const [subscriber] = await tx.query(
        event.email
          ? `SELECT id FROM subscribers WHERE email = lower($1) FOR UPDATE`
          : `SELECT s.id FROM deliveries d JOIN subscribers s ON s.id = d.subscriber_id WHERE d.message_id = $1 LIMIT 1 FOR UPDATE OF s`,
        [event.email ?? event.messageId],
      );
      const soft = event.type === 'bounce' && (event.bounceType ?? 'hard') === 'soft';
      const status = event.type === 'bounce' ? 'bounced' : 'complained';
      if (!subscriber) {
        // Order and shipment mail also goes to addresses that are no subscriber: remember those.
        const [sent] = event.email ? [{ to_address: event.email }] : await tx.query(`SELECT to_address FROM deliveries WHERE message_id = $1 AND to_address IS NOT NULL LIMIT 1`, [event.messageId]);
        if (!sent || soft) return { duplicate: false, subscriberFound: false, action: sent ? ('noted' as const) : ('none' as const) };
        await blockAddress(tx, sent.to_address, status, `mail event ${event.id}`, now);
        return { duplicate: false, subscriberFound: false, action: status };
      }
      if (soft) return { duplicate: false, subscriberFound: true, action: 'noted' as const };
      await tx.query(
        `UPDATE subscribers SET status = $2, status_changed_at = $3, updated_at = $3 WHERE id = $1 AND status <> $2`,
        [subscriber.id, status, now],
      );
      if (status === 'complained') {
        await tx.query(
          `UPDATE topic_subscriptions SET status = 'revoked', revoked_at = $2 WHERE subscriber_id = $1 AND status <> 'revoked'`,
          [subscriber.id, now],
        );
      }
      return { duplicate: false, subscriberFound: true, action: status };
    });
  }
}
