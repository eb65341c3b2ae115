import { ApiProperty, ApiPropertyOptional, PartialType, OmitType } from '@nestjs/swagger';
import { IsBoolean, IsOptional, IsString, Length, Matches } from 'class-validator';
import { Topic } from '../topic.entity';

export class CreateTopicDto {
  @ApiProperty({ example: 'trade-fairs', description: 'Stable slug: lower-case letters, digits and dashes.' })
  @IsString()
  @Matches(/^[a-z0-9][a-z0-9-]{0,62}$/, { message: 'must be a slug: lower-case letters, digits and dashes, at most 63' })
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
  @IsOptional()
  @IsString()
  @Length(0, 1000)
  descriptionDe?: string;

  @ApiPropertyOptional({ example: 'When a trade fair moves or goes digital.' })
  @IsOptional()
  @IsString()
  @Length(0, 1000)
  descriptionEn?: string;

  @ApiPropertyOptional({ example: 'Exhibitors and visitors of the Aufschwung fair', description: 'For marketers: who this topic is for.' })
  @IsOptional()
  @IsString()
  @Length(0, 500)
  audienceHint?: string;
}

export class UpdateTopicDto extends PartialType(OmitType(CreateTopicDto, ['key'] as const)) {
  @ApiPropertyOptional({ description: 'Archived topics are hidden from the preferences page and take no new items.' })
  @IsOptional()
  @IsBoolean()
  archived?: boolean;
}

export class TopicResponse {
  @ApiProperty({ example: 'trade-fairs' }) key: string;
  @ApiProperty() nameDe: string;
  @ApiProperty() nameEn: string;
  @ApiProperty() descriptionDe: string;
  @ApiProperty() descriptionEn: string;
  @ApiProperty() audienceHint: string;
  @ApiProperty() archived: boolean;
  @ApiProperty() createdAt: string;
  @ApiProperty() updatedAt: string;

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
