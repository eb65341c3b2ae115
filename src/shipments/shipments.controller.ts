// Shipments: registered by the shop, moved on by carrier events (here, or signed at /webhooks/carrier).
import { Body, Controller, Get, HttpCode, Post, Res, UseInterceptors } from '@nestjs/common';
import { ApiBearerAuth, ApiHeader, ApiOperation, ApiTags } from '@nestjs/swagger';
import type { FastifyReply } from 'fastify';
import { RequireScopes } from '../auth/scopes';
import { ApiOk, ApiProblems } from '../common/openapi';
import { IdempotencyInterceptor } from '../common/idempotency.interceptor';
import { IdParam } from '../common/params';
import { CreateShipmentDto, EventResult, ShipmentEventDto, ShipmentResponse } from './dto/shipment.dto';
import { ShipmentsService } from './shipments.service';

@ApiTags('shipments')
@ApiBearerAuth()
@UseInterceptors(IdempotencyInterceptor)
@Controller('v1/shipments')
export class ShipmentsController {
  constructor(private readonly shipments: ShipmentsService) {}

  @Post()
  @RequireScopes('shipments:write')
  @ApiHeader({ name: 'Idempotency-Key', required: false, description: 'Optional: carrier and tracking number already make the POST idempotent.' })
  @ApiOperation({
    summary: 'Register a parcel of an order and queue "shipped, here is your tracking link" (201; the same parcel again: 200)',
    description:
      'Items are a subset of the order (default: all not yet in a parcel). When an order is split, the mail lists ' +
      'what is still to come. The mail is held SHIPMENT_SETTLE_SECONDS (reason `queued_settling`; each change of ' +
      'status restarts the hold) and re-checked when handed to SMTP: once the parcel is delivered it is ' +
      'suppressed (`already_delivered`), so a parcel reported delivered within the hold gets no tracking mail. Scope `shipments:write`.',
  })
  @ApiOk(ShipmentResponse, { ...ShipmentResponse.example, status: 'created', statusAt: null, events: [] }, { status: 201, description: 'Registered; its “shipped” mail is queued.' })
  @ApiOk(ShipmentResponse, { ...ShipmentResponse.example, status: 'created', statusAt: null, events: [] }, { description: 'The same parcel again: nothing queued twice.' })
  @ApiProblems({
    409: 'The carrier and tracking number are registered already for another order, tracking URL or set of items.',
    422: 'No order has this number in this shop. Or: this Idempotency-Key was used with a different request body.',
  })
  async create(@Body() body: CreateShipmentDto, @Res({ passthrough: true }) reply: FastifyReply): Promise<ShipmentResponse> {
    const { shipment, created } = await this.shipments.create(body);
    if (!created) void reply.status(200);
    return shipment;
  }

  @Get(':id')
  @RequireScopes('read', 'shipments:write')
  @ApiOperation({ summary: 'A shipment: its state, every carrier event in carrier order, and every mail with its decision' })
  @ApiOk(ShipmentResponse, ShipmentResponse.example)
  @ApiProblems({ 404: 'No such shipment.' })
  get(@IdParam() id: string): Promise<ShipmentResponse> {
    return this.shipments.get(id);
  }

  @Post(':id/events')
  @HttpCode(200)
  @RequireScopes('shipments:write')
  @ApiOperation({
    summary: 'Apply a carrier status event (idempotent per carrier event id; ordered by carrier time; never backwards)',
    description: 'The same rules as the signed carrier webhook (POST /webhooks/carrier), for a shop that relays events itself.',
  })
  @ApiOk(EventResult, EventResult.example, { description: 'Applied, or acknowledged as a duplicate (`duplicate: true`, nothing changed).' })
  @ApiProblems({ 404: 'No such shipment.', 409: 'This event id was received before with other content.' })
  event(@IdParam() id: string, @Body() body: ShipmentEventDto): Promise<EventResult> {
    return this.shipments.applyEvent({ shipmentId: id }, body, 'api');
  }
}
