import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import { IsInt, IsISO8601, IsOptional, IsString, IsUrl, Length, Matches, Max, MaxLength, Min, ValidateNested } from 'class-validator';

export class LocalizedTitle {
  @ApiPropertyOptional({ example: 'Die Aufschwung-Messe findet digital statt' }) @IsOptional() @IsString() @Length(1, 200) de?: string;
  @ApiPropertyOptional({ example: 'The Aufschwung fair goes digital' }) @IsOptional() @IsString() @Length(1, 200) en?: string;
}

export class LocalizedItemSummary {
  @ApiPropertyOptional({ example: 'Neuer Termin: 12. Juni, online.' }) @IsOptional() @IsString() @MaxLength(1000) de?: string;
  @ApiPropertyOptional({ example: 'New date: 12 June, online.' }) @IsOptional() @IsString() @MaxLength(1000) en?: string;
}

export class CreateDigestItemDto {
  @ApiProperty({ example: 'trade-fairs' })
  @IsString()
  @Matches(/^[a-z0-9][a-z0-9-]{0,62}$/, { message: 'must be a topic key' })
  topic: string;

  @ApiProperty({ type: LocalizedTitle })
  @ValidateNested()
  @Type(() => LocalizedTitle)
  title: LocalizedTitle;

  @ApiPropertyOptional({ type: LocalizedItemSummary })
  @IsOptional()
  @ValidateNested()
  @Type(() => LocalizedItemSummary)
  summary?: LocalizedItemSummary;

  @ApiPropertyOptional({ example: 'https://messe.example/aufschwung' })
  @IsOptional()
  @IsUrl({ protocols: ['https', 'http'], require_protocol: true })
  @MaxLength(2000)
  url?: string;

  @ApiPropertyOptional({ example: 'events-team', default: 'marketing' })
  @IsOptional()
  @IsString()
  @Matches(/^[a-z0-9][a-z0-9-]{0,62}$/, { message: 'must be a slug' })
  sender?: string;

  @ApiPropertyOptional({ minimum: -100, maximum: 100, default: 0 })
  @IsOptional()
  @IsInt()
  @Min(-100)
  @Max(100)
  priority?: number;

  @ApiPropertyOptional({ example: '2026-12-01T08:00:00Z', description: 'Not before this (default now).' })
  @IsOptional()
  @IsISO8601({ strict: true })
  publishAt?: string;

  @ApiPropertyOptional({ example: '2026-12-20T00:00:00Z', description: 'Not after this: stale news is never sent.' })
  @IsOptional()
  @IsISO8601({ strict: true })
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
