import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { ApiInstant } from '../../common/openapi';
import { IsBoolean, IsString, Length } from 'class-validator';
import { Omittable } from '../../common/validation';
import { Topic } from '../topic.entity';
import { IsSlug } from '../../common/slug';

export class CreateTopicDto {
  @ApiProperty({ example: 'trade-fairs', description: 'Stable slug: lower-case letters, digits and dashes.' })
  @IsString()
  @IsSlug('must be a slug: lower-case letters, digits and dashes, at most 63')
  key: string;

  @ApiProperty({ example: 'Messen und Termine' })
  @IsString()
  @Length(1, 120)
  nameDe: string;

  @ApiProperty({ example: 'Trade fairs and dates' })
  @IsString()
  @Length(1, 120)
  nameEn: string;

  @ApiPropertyOptional({ example: 'Wenn eine Messe verschoben wird oder digital stattfindet.' })
  @Omittable()
  @IsString()
  @Length(0, 1000)
  descriptionDe?: string;

  @ApiPropertyOptional({ example: 'When a trade fair moves or goes digital.' })
  @Omittable()
  @IsString()
  @Length(0, 1000)
  descriptionEn?: string;

  @ApiPropertyOptional({ example: 'Exhibitors and visitors of the Aufschwung fair', description: 'For marketers: who this topic is for.' })
  @Omittable()
  @IsString()
  @Length(0, 500)
  audienceHint?: string;
}

// Spelled out rather than PartialType(CreateTopicDto): PartialType marks every field with
// class-validator's IsOptional, which lets a null through as "not given".
export class UpdateTopicDto {
  @ApiPropertyOptional({ example: 'Messen und Termine' }) @Omittable() @IsString() @Length(1, 120) nameDe?: string;
  @ApiPropertyOptional({ example: 'Trade fairs and dates' }) @Omittable() @IsString() @Length(1, 120) nameEn?: string;
  @ApiPropertyOptional() @Omittable() @IsString() @Length(0, 1000) descriptionDe?: string;
  @ApiPropertyOptional() @Omittable() @IsString() @Length(0, 1000) descriptionEn?: string;
  @ApiPropertyOptional() @Omittable() @IsString() @Length(0, 500) audienceHint?: string;

  @ApiPropertyOptional({ description: 'Archived topics are hidden from the preferences page and take no new items.' })
  @Omittable()
  @IsBoolean()
  archived?: boolean;
}

export class TopicResponse {
  /** The walkthrough's first topic, as POST /v1/topics answers it. */
  static readonly example: TopicResponse = {
    key: 'trade-fairs',
    nameDe: 'Messen',
    nameEn: 'Trade fairs',
    descriptionDe: '',
    descriptionEn: 'Where and when we exhibit.',
    audienceHint: '',
    archived: false,
    createdAt: '2026-11-24T11:06:42.827Z',
    updatedAt: '2026-11-24T11:06:42.827Z',
  };

  @ApiProperty({ example: 'trade-fairs' }) key: string;
  @ApiProperty({ example: 'Messen' }) nameDe: string;
  @ApiProperty({ example: 'Trade fairs' }) nameEn: string;
  @ApiProperty({ example: '' }) descriptionDe: string;
  @ApiProperty({ example: 'Where and when we exhibit.' }) descriptionEn: string;
  @ApiProperty({ example: '' }) audienceHint: string;
  @ApiProperty({ description: 'Archived topics are hidden from the preferences page and take no new items.' }) archived: boolean;
  @ApiInstant() createdAt: string;
  @ApiInstant() updatedAt: string;

  static from(topic: Topic): TopicResponse {
    return {
      key: topic.key,
      nameDe: topic.nameDe,
      nameEn: topic.nameEn,
      descriptionDe: topic.descriptionDe,
      descriptionEn: topic.descriptionEn,
      audienceHint: topic.audienceHint,
      archived: topic.archived,
      createdAt: topic.createdAt.toISOString(),
      updatedAt: topic.updatedAt.toISOString(),
    };
  }
}
