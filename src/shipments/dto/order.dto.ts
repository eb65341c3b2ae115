import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import {
  ArrayMaxSize,
  ArrayMinSize,
  IsArray,
  IsEmail,
  IsIn,
  IsInt,
  IsObject,
  IsString,
  Length,
  Matches,
  Max,
  MaxLength,
  Min,
  ValidateNested,
} from 'class-validator';
import { Omittable } from '../../common/validation';
import { ApiInstant, ApiUuid } from '../../common/openapi';
import { ReasonLabel } from '../../reasons/reason-label.dto';
import { SHIPMENT_MAIL_KINDS } from '../shipment-mail.policy';
import { DELIVERY_STATUSES, REASONS } from '../../reasons/reason-codes';
import { IsInstant } from '../../common/instants';
import { LOCALES, Locale } from '../../config/config';
import { IsSlug } from '../../common/slug';

export const SKU = /^[A-Za-z0-9][A-Za-z0-9._/-]{0,99}$/;
const ONE_LINE = /^[^\r\n]*$/;

export class OrderItemDto {
  @ApiProperty({ example: 'MUG-01' })
  @IsString()
  @Matches(SKU, { message: 'must be 1-100 letters, digits, . _ / - (starting with a letter or digit)' })
  sku: string;

  @ApiProperty({ example: 'Coffee mug, blue' })
  @IsString()
  @Length(1, 200)
  @Matches(ONE_LINE, { message: 'must be one line' })
  name: string;

  @ApiProperty({ type: 'integer', example: 2, minimum: 1, maximum: 10000 })
  @IsInt()
  @Min(1)
  @Max(10_000)
  quantity: number;
}

export class CreateOrderDto {
  @ApiProperty({ example: 'A-10023', description: "The shop's order number: unique per shop, and the order's idempotency key." })
  @IsString()
  @Length(1, 100)
  @Matches(/^[A-Za-z0-9][A-Za-z0-9._/-]*$/, { message: 'must be letters, digits, . _ / - (starting with a letter or digit)' })
  number: string;

  @ApiPropertyOptional({ example: 'main', default: 'main', description: 'Which shop the order belongs to, when one company runs several.' })
  @Omittable()
  @IsString()
  @IsSlug('must be a slug')
  shop?: string;

  @ApiProperty({
    example: 'anna@example.de',
    description:
      'Where order and shipment mails go. A known subscriber is linked (their timeline shows the mails); an unknown ' +
      'address is NOT made a subscriber: it gets the transactional mails of this order and nothing else.',
  })
  @IsEmail({}, { message: 'must be a valid e-mail address' })
  @MaxLength(254)
  email: string;

  @ApiPropertyOptional({ enum: LOCALES, description: "Language of the mails; default: the subscriber's, else DEFAULT_LOCALE." })
  @Omittable()
  @IsIn(LOCALES)
  locale?: Locale;

  @ApiProperty({ type: [OrderItemDto] })
  @IsArray()
  @ArrayMinSize(1)
  @ArrayMaxSize(500)
  @IsObject({ each: true })
  @ValidateNested({ each: true })
  @Type(() => OrderItemDto)
  items: OrderItemDto[];

  @ApiProperty({ format: 'date-time', example: '2026-03-02T09:15:00Z' })
  @IsInstant()
  placedAt: string;
}

export class OrderMail {
  @ApiProperty({ example: '4712', description: 'The decision’s id (a 64-bit integer, as a string).' }) deliveryId: string;
  @ApiProperty({ enum: ['order_confirmation', ...SHIPMENT_MAIL_KINDS] }) kind: string;
  @ApiProperty({ enum: DELIVERY_STATUSES }) status: string;
  @ApiProperty({ enum: REASONS, enumName: 'Reason' }) reason: string;
  @ApiProperty({ type: ReasonLabel }) reasonLabel: ReasonLabel;
  @ApiInstant() createdAt: string;
  @ApiInstant({ nullable: true }) sentAt: string | null;
}

export class OrderResponse {
  @ApiUuid() id: string;
  @ApiProperty({ example: 'main' }) shop: string;
  @ApiProperty({ example: 'A-10023' }) number: string;
  @ApiProperty({ example: 'anna@example.de' }) email: string;
  @ApiUuid({ nullable: true, description: 'Set when the address belongs to a subscriber.' }) subscriberId: string | null;
  @ApiProperty({ enum: LOCALES }) locale: Locale;
  @ApiProperty({ type: [OrderItemDto] }) items: OrderItemDto[];
  @ApiInstant() placedAt: string;
  @ApiInstant() createdAt: string;
  @ApiProperty({ type: 'array', items: { type: 'string', format: 'uuid' } }) shipmentIds: string[];
  @ApiProperty({ type: [OrderMail], description: 'The order confirmation (and only it: shipment mails are on the shipment).' }) mails: OrderMail[];

  static readonly example: OrderResponse = {
    id: '0195f2a7-3333-7000-8000-00000000e001',
    shop: 'main',
    number: 'A-10023',
    email: 'anna@example.de',
    subscriberId: null,
    locale: 'de',
    items: [{ sku: 'MUG-01', name: 'Coffee mug, blue', quantity: 2 }],
    placedAt: '2026-03-02T09:15:00.000Z',
    createdAt: '2026-03-02T09:15:02.000Z',
    shipmentIds: [],
    mails: [
      {
        deliveryId: '4712',
        kind: 'order_confirmation',
        status: 'queued',
        reason: 'queued',
        reasonLabel: { de: 'Wartet auf den Versand', en: 'Waiting to be sent' },
        createdAt: '2026-03-02T09:15:02.000Z',
        sentAt: null,
      },
    ],
  };
}
