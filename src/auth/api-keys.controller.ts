import { Body, Controller, Delete, Get, HttpCode, Post, Query, Req } from '@nestjs/common';
import { IdParam } from '../common/params';
import { invalid } from '../common/problem';
import { ApiBearerAuth, ApiOperation, ApiQuery, ApiTags } from '@nestjs/swagger';
import type { AuthenticatedRequest } from '../common/authenticated-request';
import { ApiKeysService } from './api-keys.service';
import { ApiKeyResponse, CreateApiKeyDto, CreatedApiKeyResponse } from './dto/api-key.dto';
import { ApiNoContent, ApiOk, ApiProblems } from '../common/openapi';
import { RequireScopes } from './scopes';

@ApiTags('api-keys')
@ApiBearerAuth()
@RequireScopes('admin')
@Controller('v1/api-keys')
export class ApiKeysController {
  constructor(private readonly keys: ApiKeysService) {}

  @Post()
  @ApiOperation({ summary: 'Create an API key; the key is shown once, in this response' })
  @ApiOk(CreatedApiKeyResponse, { ...ApiKeyResponse.example, key: 'tk_Ab3dEf9hJ2kL5mN8pQ1rS4tU7vW0xY3zA6bC9dE' }, { status: 201 })
  async create(@Body() body: CreateApiKeyDto): Promise<CreatedApiKeyResponse> {
    const { key, apiKey } = await this.keys.create(body.name, body.scopes);
    return { ...ApiKeyResponse.from(apiKey), key };
  }

  @Get()
  @ApiOperation({ summary: 'List API keys (never the keys themselves)' })
  @ApiOk([ApiKeyResponse], [ApiKeyResponse.example])
  async list(): Promise<ApiKeyResponse[]> {
    return (await this.keys.list()).map(ApiKeyResponse.from);
  }

  @Delete(':id')
  @HttpCode(204)
  @ApiOperation({
    summary: 'Revoke an API key at once',
    description: 'Refused (409) for the last active admin key, and for the key making the request unless `self=true`.',
  })
  @ApiQuery({ name: 'self', required: false, type: Boolean, description: 'true: yes, revoke the key making this request' })
  @ApiNoContent('Revoked (again: nothing more to do).')
  @ApiProblems({ 404: 'No such API key.', 409: 'It is the last active admin key, or the key making the request (without `self=true`).' })
  async revoke(@IdParam() id: string, @Req() request: AuthenticatedRequest, @Query('self') self?: string): Promise<void> {
    if (self !== undefined && self !== 'true' && self !== 'false') throw invalid('self', 'must be true or false');
    await this.keys.revoke(id, request.apiKey?.id, self === 'true');
  }
}
