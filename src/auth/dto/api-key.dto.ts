import { ApiProperty } from '@nestjs/swagger';
import { ArrayMinSize, IsArray, IsIn, IsString, Length } from 'class-validator';
import { ApiInstant, ApiUuid } from '../../common/openapi';
import { ApiKey } from '../api-key.entity';
import { Scope, SCOPES } from '../scopes';

export class CreateApiKeyDto {
  @ApiProperty({ example: 'shop integration', description: 'What the key is for; shown in lists.' })
  @IsString()
  @Length(1, 200)
  name: string;

  @ApiProperty({ enum: SCOPES, isArray: true, example: ['subscribers:write', 'read'] })
  @IsArray()
  @ArrayMinSize(1)
  @IsIn(SCOPES, { each: true })
  scopes: Scope[];
}

export class ApiKeyResponse {
  @ApiUuid() id: string;
  @ApiProperty({ example: 'newsletter team' }) name: string;
  @ApiProperty({ description: 'The first characters of the key, to tell keys apart.', example: 'tk_Ab3dEf9' }) prefix: string;
  @ApiProperty({ enum: SCOPES, isArray: true }) scopes: string[];
  @ApiInstant() createdAt: string;
  @ApiInstant({ nullable: true }) lastUsedAt: string | null;
  @ApiInstant({ nullable: true }) revokedAt: string | null;

  static readonly example: ApiKeyResponse = {
    id: '0195f2a3-0000-7000-8000-00000000a002',
    name: 'newsletter team',
    prefix: 'tk_Ab3dEf9',
    scopes: ['topics:write', 'subscribers:write', 'read'],
    createdAt: '2026-11-24T11:10:00.000Z',
    lastUsedAt: null,
    revokedAt: null,
  };

  static from(key: ApiKey): ApiKeyResponse {
    return {
      id: key.id,
      name: key.name,
      prefix: key.prefix,
      scopes: key.scopes,
      createdAt: key.createdAt.toISOString(),
      lastUsedAt: key.lastUsedAt?.toISOString() ?? null,
      revokedAt: key.revokedAt?.toISOString() ?? null,
    };
  }
}

export class CreatedApiKeyResponse extends ApiKeyResponse {
  @ApiProperty({ description: 'The key itself. It is shown only in this response; store it now.', example: 'tk_Ab3dEf9hJ2kL5mN8pQ1rS4tU7vW0xY3zA6bC9dE' })
  key: string;
}
