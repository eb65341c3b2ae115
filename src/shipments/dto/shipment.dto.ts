import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import {
  ArrayMaxSize,
  ArrayMinSize,
  IsArray,
  IsIn,
  IsInt,
  IsObject,
  IsString,
  IsUrl,
  IsUUID,
  Length,
  Matches,
  Max,
  MaxLength,
  Min,
  ValidateIf,
  ValidateNested,
} from 'class-validator';
import { Omittable } from '../../common/validation';
import { IsInstant } from '../../common/instants';
import { ApiInstant, ApiUuid } from '../../common/openapi';
import { SHIPMENT_MAIL_KINDS } from '../shipment-mail.policy';
import { CARRIER_STATUSES, CarrierStatus, SHIPMENT_STATUSES } from '../shipment-state.policy';
import { OrderMail, SKU } from './order.dto';
import { IsSlug } from '../../common/slug';

export const CARRIER = /^[a-z0-9][a-z0-9_-]{0,62}$/;
export const TRACKING_NUMBER = /^[A-Za-z0-9_-]{1,100}$/;
const EVENT_ID = /^[\x21-\x7e]{1,200}$/;

export class ShipmentItemDto {
  @ApiProperty({ example: 'MUG-01' })
  @IsString()
  @Matches(SKU, { message: 'must be a SKU of the order' })
  sku: string;

  @ApiProperty({ type: 'integer', example: 1, minimum: 1, maximum: 10000 })
  @IsInt()
  @Min(1)
  @Max(10_000)
  quantity: number;
}

export class CreateShipmentDto {
  @ApiProperty({ example: 'A-10023', description: "The shop's order number (see POST /v1/orders)." })
  @IsString()
  @Length(1, 100)
  orderNumber: string;

  @ApiPropertyOptional({ example: 'main', default: 'main' })
  @Omittable()
  @IsString()
  @IsSlug('must be a slug')
  shop?: string;

  @ApiProperty({ example: 'dhl', description: 'Carrier slug; with the tracking number it names the parcel for the carrier webhook.' })
  @IsString()
  @Matches(CARRIER, { message: 'must be a lower-case slug like "dhl" or "dhl-express"' })
  carrier: string;

  @ApiProperty({ example: '00340434161094042557' })
  @IsString()
  @Matches(TRACKING_NUMBER, { message: 'must be 1-100 letters, digits, _ or -' })
  trackingNumber: string;

  @ApiProperty({ example: 'https://www.dhl.de/de/privatkunden/dhl-sendungsverfolgung.html?piececode=00340434161094042557' })
  @IsString()
  @MaxLength(2000)
  @IsUrl({ protocols: ['https'], require_protocol: true, require_tld: true }, { message: 'must be an https:// URL' })
  trackingUrl: string;

  @ApiPropertyOptional({
    type: [ShipmentItemDto],
    description: 'What is in this parcel (a subset of the order). Default: everything of the order not yet in a parcel.',
  })
  @Omittable()
  @IsArray()
  @ArrayMinSize(1)
  @ArrayMaxSize(500)
  @IsObject({ each: true })
  @ValidateNested({ each: true })
  @Type(() => ShipmentItemDto)
  items?: ShipmentItemDto[];
}

export class ShipmentEventDto {
  @ApiProperty({ example: 'evt-8812', description: "The carrier's event id: the same id is applied once, however often it arrives." })
  @IsString()
  @Matches(EVENT_ID, { message: 'must be 1-200 printable characters without spaces' })
  eventId: string;

  @ApiProperty({ enum: CARRIER_STATUSES })
  @IsIn(CARRIER_STATUSES)
  status: CarrierStatus;

  @ApiProperty({ format: 'date-time', example: '2026-03-03T07:42:00Z', description: "The carrier's time of the event; events are ordered by it, not by arrival." })
  @IsInstant()
  occurredAt: string;
}

export const CARRIER_WEBHOOK_DESCRIPTION =
  'Status events from a carrier (or a tracking aggregator), HMAC-signed like every Tactful webhook: header ' +
  '`X-Tactful-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<raw body>" with WEBHOOK_SECRET>`; requests ' +
  'whose timestamp is more than 5 minutes off are refused (401).\n\n' +
  'Body: `{"carrier": "dhl", "trackingNumber": "00340434161094042557", "eventId": "evt-8812", "status": "out_for_delivery", ' +
  '"occurredAt": "2026-03-03T07:42:00Z"}`; instead of `trackingNumber` a `shipmentId` (the Tactful id) may be given.\n\n' +
  '- `status`: `label_created`, `in_transit`, `out_for_delivery`, `delivered`, `exception` (a delivery problem), `returned` (back to the shop).\n' +
  '- `eventId` is unique per carrier: a repeated or replayed event is acknowledged (`duplicate: true`) and changes nothing; ' +
  'the same id with different content is a 409.\n' +
  '- Events are ordered by `occurredAt`, not by arrival; a status never moves backwards (a late `in_transit` after ' +
  '`delivered` is stored as history and changes nothing).\n' +
  '- Mails: `out_for_delivery` queues the "arrives today" mail (SHIPMENT_OUT_FOR_DELIVERY_MAIL), `exception` the delivery ' +
  'problem mail, at most one of each per shipment. Status mails are held SHIPMENT_SETTLE_SECONDS after the last change of ' +
  'status (reason `queued_settling`), then re-checked when handed to SMTP: once the parcel is delivered it is suppressed ' +
  '(`already_delivered`), and a mail overtaken by a newer status gives way (`superseded`).\n' +
  '- An unknown shipment is a 422 and nothing is stored.';

export class CarrierWebhookDto {
  @ApiProperty({ example: 'dhl' })
  @IsString()
  @Matches(CARRIER, { message: 'must be a lower-case carrier slug like "dhl"' })
  carrier: string;

  @ApiPropertyOptional({ example: '00340434161094042557', description: 'Names the shipment together with `carrier`; or give `shipmentId`.' })
  @ValidateIf((o: CarrierWebhookDto) => o.shipmentId === undefined || o.trackingNumber !== undefined)
  @Matches(TRACKING_NUMBER, { message: 'must be 1-100 letters, digits, _ or - (or give shipmentId)' })
  trackingNumber?: string;

  @ApiPropertyOptional({ format: 'uuid' })
  @Omittable()
  @IsUUID()
  shipmentId?: string;

  @ApiProperty({ example: 'evt-8812' })
  @IsString()
  @Matches(EVENT_ID, { message: 'must be 1-200 printable characters without spaces' })
  eventId: string;

  @ApiProperty({ enum: CARRIER_STATUSES })
  @IsIn(CARRIER_STATUSES)
  status: CarrierStatus;

  @ApiProperty({ format: 'date-time', example: '2026-03-03T07:42:00Z' })
  @IsInstant()
  occurredAt: string;
}

export class ShipmentEventResponse {
  @ApiProperty({ example: 'evt-8812' }) eventId: string;
  @ApiProperty({ enum: CARRIER_STATUSES }) status: string;
  @ApiInstant({ description: 'The carrier’s time of the event.' }) occurredAt: string;
  @ApiInstant() receivedAt: string;
  @ApiProperty({ enum: ['api', 'webhook'] }) source: string;
}

export class ShipmentResponse {
  @ApiUuid() id: string;
  @ApiUuid() orderId: string;
  @ApiProperty({ example: 'A-10023' }) orderNumber: string;
  @ApiProperty({ example: 'main' }) shop: string;
  @ApiProperty({ example: 'dhl' }) carrier: string;
  @ApiProperty({ example: '00340434161094042557' }) trackingNumber: string;
  @ApiProperty({ example: 'https://www.dhl.de/de/privatkunden/dhl-sendungsverfolgung.html?piececode=00340434161094042557' }) trackingUrl: string;
  @ApiProperty({ type: [ShipmentItemDto] }) items: ShipmentItemDto[];
  @ApiProperty({ enum: SHIPMENT_STATUSES, description: 'Derived from the events in carrier order; never moves backwards.' }) status: string;
  @ApiInstant({ nullable: true, description: 'Carrier time of the event that set the status.' }) statusAt: string | null;
  @ApiInstant({ nullable: true }) deliveredAt: string | null;
  @ApiInstant() createdAt: string;
  @ApiProperty({ type: [ShipmentEventResponse], description: 'Every distinct event, in carrier order.' }) events: ShipmentEventResponse[];
  @ApiProperty({ type: [OrderMail], description: 'Every mail about this shipment with its decision.' }) mails: OrderMail[];

  static readonly example: ShipmentResponse = {
    id: '0195f2a7-4444-7000-8000-00000000f001',
    orderId: '0195f2a7-3333-7000-8000-00000000e001',
    orderNumber: 'A-10023',
    shop: 'main',
    carrier: 'dhl',
    trackingNumber: '00340434161094042557',
    trackingUrl: 'https://www.dhl.de/de/privatkunden/dhl-sendungsverfolgung.html?piececode=00340434161094042557',
    items: [{ sku: 'MUG-01', quantity: 2 }],
    status: 'out_for_delivery',
    statusAt: '2026-03-03T07:42:00.000Z',
    deliveredAt: null,
    createdAt: '2026-03-02T15:00:00.000Z',
    events: [{ eventId: 'evt-8812', status: 'out_for_delivery', occurredAt: '2026-03-03T07:42:00.000Z', receivedAt: '2026-03-03T07:42:05.000Z', source: 'webhook' }],
    mails: [
      {
        deliveryId: '4720',
        kind: 'shipment_shipped',
        status: 'sent',
        reason: 'sent',
        reasonLabel: { de: 'Versendet', en: 'Sent' },
        createdAt: '2026-03-02T15:00:00.000Z',
        sentAt: '2026-03-02T15:00:03.000Z',
      },
    ],
  };
}

export class EventResult {
  @ApiUuid() shipmentId: string;
  @ApiProperty({ description: 'This event id was seen before: nothing changed.' }) duplicate: boolean;
  @ApiProperty({ enum: SHIPMENT_STATUSES, description: 'The status before this event.' }) previousStatus: string;
  @ApiProperty({ enum: SHIPMENT_STATUSES, description: 'The status after this event.' }) status: string;
  @ApiProperty({ type: 'array', items: { type: 'string', enum: SHIPMENT_MAIL_KINDS.filter((k) => k !== 'shipment_shipped') }, description: 'Mail kinds this event queued.' }) mailsQueued: string[];

  static readonly example: EventResult = {
    shipmentId: '0195f2a7-4444-7000-8000-00000000f001',
    duplicate: false,
    previousStatus: 'in_transit',
    status: 'out_for_delivery',
    mailsQueued: ['shipment_out_for_delivery'],
  };
}
