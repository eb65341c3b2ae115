import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { IsEmail, IsIn, IsString, Length, MaxLength } from 'class-validator';
import { Omittable } from '../../common/validation';
import { IsInstant } from '../../common/instants';

export class MailEventDto {
  @ApiProperty({ example: 'evt_01HZX3', description: 'The mail provider’s event id, unique per event; a repeated id is acknowledged and ignored.' })
  @IsString()
  @Length(1, 200)
  id: string;

  @ApiProperty({ enum: ['bounce', 'complaint'] })
  @IsIn(['bounce', 'complaint'])
  type: 'bounce' | 'complaint';

  @ApiPropertyOptional({ example: 'anna@example.de', description: 'The recipient; or give `messageId`.' })
  @Omittable()
  @IsEmail()
  @MaxLength(254)
  email?: string;

  @ApiPropertyOptional({ example: '<3f2a…@tactful.example>', description: 'The Message-ID of the mail the event is about.' })
  @Omittable()
  @IsString()
  @MaxLength(300)
  messageId?: string;

  @ApiPropertyOptional({ enum: ['hard', 'soft'], default: 'hard', description: 'Only hard bounces suppress the address.' })
  @Omittable()
  @IsIn(['hard', 'soft'])
  bounceType?: 'hard' | 'soft';

  @ApiPropertyOptional({ example: '550 5.1.1 user unknown' })
  @Omittable()
  @IsString()
  @MaxLength(1000)
  detail?: string;

  @ApiPropertyOptional({ format: 'date-time', example: '2026-11-24T10:00:00Z' })
  @Omittable()
  @IsInstant()
  occurredAt?: string;
}

export class MailEventResult {
  @ApiProperty({ description: 'This event id was seen before: nothing changed.' }) duplicate: boolean;
  @ApiProperty({ description: 'The address (or the message) belongs to a subscriber.' }) subscriberFound: boolean;
  @ApiProperty({
    enum: ['bounced', 'complained', 'noted', 'none'],
    description:
      '`bounced` / `complained`: the subscriber (or, for a non-subscriber, the address) is blocked; `noted`: a soft bounce, counted only; `none`: nothing known about it.',
  })
  action: 'bounced' | 'complained' | 'noted' | 'none';
}
