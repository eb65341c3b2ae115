import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import { IsInt, IsObject, IsString, IsUrl, Length, Max, MaxLength, Min, ValidateNested } from 'class-validator';
import { Omittable } from '../../common/validation';
import { ApiInstant, ApiInteger, ApiUuid } from '../../common/openapi';
import { IsInstant } from '../../common/instants';
import { IsSlug } from '../../common/slug';

export class LocalizedTitle {
  @ApiPropertyOptional({ example: 'Die Aufschwung-Messe findet digital statt' }) @Omittable() @IsString() @Length(1, 200) de?: string;
  @ApiPropertyOptional({ example: 'The Aufschwung fair goes digital' }) @Omittable() @IsString() @Length(1, 200) en?: string;
}

export class LocalizedItemSummary {
  @ApiPropertyOptional({ example: 'Neuer Termin: 12. Juni, online.' }) @Omittable() @IsString() @MaxLength(1000) de?: string;
  @ApiPropertyOptional({ example: 'New date: 12 June, online.' }) @Omittable() @IsString() @MaxLength(1000) en?: string;
}

export class CreateDigestItemDto {
  @ApiProperty({ example: 'trade-fairs' })
  @IsString()
  @IsSlug('must be a topic key')
  topic: string;

  @ApiProperty({ type: LocalizedTitle })
  @IsObject()
  @ValidateNested()
  @Type(() => LocalizedTitle)
  title: LocalizedTitle;

  @ApiPropertyOptional({ type: LocalizedItemSummary })
  @Omittable()
  @IsObject()
  @ValidateNested()
  @Type(() => LocalizedItemSummary)
  summary?: LocalizedItemSummary;

  @ApiPropertyOptional({ example: 'https://messe.example/aufschwung' })
  @Omittable()
  @IsUrl({ protocols: ['https', 'http'], require_protocol: true })
  @MaxLength(2000)
  url?: string;

  @ApiPropertyOptional({ example: 'events-team', default: 'marketing' })
  @Omittable()
  @IsString()
  @IsSlug('must be a slug')
  sender?: string;

  @ApiPropertyOptional({ type: 'integer', minimum: -100, maximum: 100, default: 0 })
  @Omittable()
  @IsInt()
  @Min(-100)
  @Max(100)
  priority?: number;

  @ApiPropertyOptional({ format: 'date-time', example: '2026-12-01T08:00:00Z', description: 'Not before this (default now).' })
  @Omittable()
  @IsInstant()
  publishAt?: string;

  @ApiPropertyOptional({ format: 'date-time', example: '2026-12-20T00:00:00Z', description: 'Not after this: stale news is never sent.' })
  @Omittable()
  @IsInstant()
  expiresAt?: string;
}

export class DigestItemResponse {
  @ApiUuid() id: string;
  @ApiProperty({ example: 'trade-fairs' }) topic: string;
  @ApiProperty({ example: 'events-team' }) sender: string;
  @ApiInteger({ minimum: -100, maximum: 100 }) priority: number;
  @ApiProperty({ type: LocalizedTitle }) title: LocalizedTitle;
  @ApiProperty({ type: LocalizedItemSummary }) summary: LocalizedItemSummary;
  @ApiProperty({ nullable: true, type: String, example: 'https://messe.example/aufschwung' }) url: string | null;
  @ApiInstant() publishAt: string;
  @ApiInstant({ nullable: true }) expiresAt: string | null;
  @ApiInstant() createdAt: string;

  static readonly example: DigestItemResponse = {
    id: '0195f2a6-2222-7000-8000-00000000d001',
    topic: 'trade-fairs',
    sender: 'events-team',
    priority: 0,
    title: { de: 'Die Aufschwung-Messe findet digital statt', en: 'The Aufschwung fair goes digital' },
    summary: { de: 'Neuer Termin: 12. Juni, online.', en: 'New date: 12 June, online.' },
    url: 'https://messe.example/aufschwung',
    publishAt: '2026-03-02T09:00:00.000Z',
    expiresAt: '2026-06-12T00:00:00.000Z',
    createdAt: '2026-03-02T09:00:00.000Z',
  };
}
