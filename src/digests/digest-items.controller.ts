import { Body, Controller, Get, Post, Query } from '@nestjs/common';
import { ApiBearerAuth, ApiOperation, ApiQuery, ApiTags } from '@nestjs/swagger';
import { RequireScopes } from '../auth/scopes';
import { ApiOk } from '../common/openapi';
import { invalid } from '../common/problem';
import { DigestItemsService } from './digest-items.service';
import { CreateDigestItemDto, DigestItemResponse } from './dto/digest-item.dto';

@ApiTags('digest items')
@ApiBearerAuth()
@Controller('v1/digest-items')
export class DigestItemsController {
  constructor(private readonly items: DigestItemsService) {}

  @Post()
  @RequireScopes('digests:write')
  @ApiOperation({ summary: 'Add a short piece that goes only into digests (a fair moved, a new offer, longer payment terms)' })
  @ApiOk(DigestItemResponse, DigestItemResponse.example, { status: 201 })
  async create(@Body() body: CreateDigestItemDto): Promise<DigestItemResponse> {
    return this.items.create(body);
  }

  @Get()
  @RequireScopes('read', 'digests:write')
  @ApiOperation({ summary: 'List digest items, newest first' })
  @ApiQuery({ name: 'topic', required: false, description: 'Only items of this topic key.' })
  @ApiQuery({ name: 'limit', required: false, schema: { type: 'integer', minimum: 1, maximum: 500, default: 100 } })
  @ApiOk([DigestItemResponse], [DigestItemResponse.example])
  async list(@Query('topic') topic?: string, @Query('limit') limit?: string): Promise<DigestItemResponse[]> {
    const size = limit === undefined ? 100 : Number(limit);
    if (!Number.isInteger(size) || size < 1 || size > 500) throw invalid('limit', 'must be a whole number from 1 to 500');
    return this.items.list(topic, size);
  }
}
