// Carrier status events, HMAC-signed and timestamped (see common/signatures.ts). Replays inside
// the signature's time window are caught by the carrier event id, stored with each event.
import { Body, Controller, HttpCode, Post, UseGuards } from '@nestjs/common';
import { ApiHeader, ApiOperation, ApiTags } from '@nestjs/swagger';
import { Public } from '../auth/scopes';
import { ApiOk, ApiProblems } from '../common/openapi';
import { SIGNATURE_HEADER } from '../common/signatures';
import { WebhookSignatureGuard } from '../common/webhook-signature.guard';
import { CARRIER_WEBHOOK_DESCRIPTION, CarrierWebhookDto, EventResult } from './dto/shipment.dto';
import { ShipmentsService } from './shipments.service';

@ApiTags('webhooks')
@Controller('webhooks')
export class CarrierWebhookController {
  constructor(private readonly shipments: ShipmentsService) {}

  @Post('carrier')
  @HttpCode(200)
  @Public()
  @UseGuards(WebhookSignatureGuard)
  @ApiHeader({ name: SIGNATURE_HEADER, required: true, description: 't=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<raw body>"> with WEBHOOK_SECRET' })
  @ApiOperation({ summary: 'Carrier status events (signed)', description: CARRIER_WEBHOOK_DESCRIPTION })
  @ApiOk(EventResult, EventResult.example, { description: 'Applied, or acknowledged as a duplicate (`duplicate: true`, nothing changed).' })
  @ApiProblems({
    401: 'The signature is missing, wrong, or its timestamp more than 5 minutes off.',
    409: 'This event id was received before with other content.',
    422: 'No shipment of this carrier has this tracking number (or shipmentId), or the shipment has another carrier.',
  })
  receive(@Body() body: CarrierWebhookDto): Promise<EventResult> {
    const event = { eventId: body.eventId, status: body.status, occurredAt: body.occurredAt };
    const ref =
      body.trackingNumber !== undefined
        ? { carrier: body.carrier, trackingNumber: body.trackingNumber }
        : { shipmentId: body.shipmentId!, carrier: body.carrier };
    return this.shipments.applyEvent(ref, event, 'webhook');
  }
}
