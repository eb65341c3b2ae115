// Orders from the shop system: each one gets its confirmation mail (transactional, never advertising).
import { Body, Controller, Get, Post, Res, UseInterceptors } from '@nestjs/common';
import { ApiBearerAuth, ApiHeader, ApiOperation, ApiTags } from '@nestjs/swagger';
import type { FastifyReply } from 'fastify';
import { RequireScopes } from '../auth/scopes';
import { ApiOk, ApiProblems } from '../common/openapi';
import { IdempotencyInterceptor } from '../common/idempotency.interceptor';
import { IdParam } from '../common/params';
import { CreateOrderDto, OrderResponse } from './dto/order.dto';
import { OrdersService } from './orders.service';

@ApiTags('shipments')
@ApiBearerAuth()
@UseInterceptors(IdempotencyInterceptor)
@Controller('v1/orders')
export class OrdersController {
  constructor(private readonly orders: OrdersService) {}

  @Post()
  @RequireScopes('shipments:write')
  @ApiHeader({ name: 'Idempotency-Key', required: false, description: 'Optional: the order number already makes the POST idempotent.' })
  @ApiOperation({
    summary: 'Record an order and queue its confirmation mail (201; the same order again: 200, nothing queued twice)',
    description:
      'The order number is unique per shop. A known subscriber is linked by e-mail; an unknown address gets the ' +
      'order and shipment mails and nothing else: it is not made a subscriber and joins no audience. Scope `shipments:write`.',
  })
  @ApiOk(OrderResponse, OrderResponse.example, { status: 201, description: 'Recorded; its confirmation mail is queued.' })
  @ApiOk(OrderResponse, OrderResponse.example, { description: 'The same order again: nothing queued twice.' })
  @ApiProblems({
    409: 'The order number is taken by an order with a different address, items, date or language.',
    422: 'This Idempotency-Key was used with a different request body.',
  })
  async create(@Body() body: CreateOrderDto, @Res({ passthrough: true }) reply: FastifyReply): Promise<OrderResponse> {
    const { order, created } = await this.orders.create(body);
    if (!created) void reply.status(200);
    return order;
  }

  @Get(':id')
  @RequireScopes('read', 'shipments:write')
  @ApiOperation({ summary: 'An order with its shipments and its confirmation mail (status and reason)' })
  @ApiOk(OrderResponse, OrderResponse.example)
  @ApiProblems({ 404: 'No such order.' })
  get(@IdParam() id: string): Promise<OrderResponse> {
    return this.orders.get(id);
  }
}
