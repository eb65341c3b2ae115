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
import { IsInstant } from '../../common/instants';
import { LOCALES, Locale } from '../../config/config';

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

  @ApiProperty({ example: 2, minimum: 1, maximum: 10000 })
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
  @Matches(/^[a-z0-9][a-z0-9-]{0,62}$/, { message: 'must be a slug' })
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
  @ApiProperty() deliveryId: string;
  @ApiProperty() kind: string;
  @ApiProperty() status: string;
  @ApiProperty() reason: string;
  @ApiProperty({ type: 'object', properties: { de: { type: 'string' }, en: { type: 'string' } } }) reasonLabel: { de: string; en: string };
  @ApiProperty() createdAt: string;
  @ApiProperty({ nullable: true, type: String }) sentAt: string | null;
}

export class OrderResponse {
  @ApiProperty({ format: 'uuid' }) id: string;
  @ApiProperty() shop: string;
  @ApiProperty() number: string;
  @ApiProperty() email: string;
  @ApiProperty({ nullable: true, type: String, format: 'uuid', description: 'Set when the address belongs to a subscriber.' })
  subscriberId: string | null;
  @ApiProperty({ enum: LOCALES }) locale: Locale;
  @ApiProperty({ type: [OrderItemDto] }) items: OrderItemDto[];
  @ApiProperty() placedAt: string;
  @ApiProperty() createdAt: string;
  @ApiProperty({ type: [String], format: 'uuid' }) shipmentIds: string[];
  @ApiProperty({ type: [OrderMail] }) mails: OrderMail[];
}
