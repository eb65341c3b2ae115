import { Module } from '@nestjs/common';
import { CarrierWebhookController } from './carrier-webhook.controller';
import { OrdersController } from './orders.controller';
import { OrdersService } from './orders.service';
import { ShipmentMailsService } from './shipment-mails.service';
import { ShipmentsController } from './shipments.controller';
import { ShipmentsService } from './shipments.service';

/** Orders, shipments, carrier events and their transactional mails. */
@Module({
  controllers: [OrdersController, ShipmentsController, CarrierWebhookController],
  providers: [OrdersService, ShipmentsService, ShipmentMailsService],
})
export class ShipmentsModule {}
