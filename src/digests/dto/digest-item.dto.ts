import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import { IsInt, IsObject, IsString, IsUrl, Length, Matches, Max, MaxLength, Min, ValidateNested } from 'class-validator';
import { Omittable } from '../../common/validation';
import { IsInstant } from '../../common/instants';

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
  @Matches(/^[a-z0-9][a-z0-9-]{0,62}$/, { message: 'must be a topic key' })
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
  @Matches(/^[a-z0-9][a-z0-9-]{0,62}$/, { message: 'must be a slug' })
  sender?: string;

  @ApiPropertyOptional({ minimum: -100, maximum: 100, default: 0 })
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
  @ApiProperty({ format: 'uuid' }) id: string;
  @ApiProperty() topic: string;
  @ApiProperty() sender: string;
  @ApiProperty() priority: number;
  @ApiProperty({ type: LocalizedTitle }) title: LocalizedTitle;
  @ApiProperty({ type: LocalizedItemSummary }) summary: LocalizedItemSummary;
  @ApiProperty({ nullable: true, type: String }) url: string | null;
  @ApiProperty() publishAt: string;
  @ApiProperty({ nullable: true, type: String }) expiresAt: string | null;
  @ApiProperty() createdAt: string;
}
