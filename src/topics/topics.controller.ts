import { Body, Controller, Delete, Get, HttpCode, Param, Patch, Post, Query } from '@nestjs/common';
import { ApiBearerAuth, ApiOperation, ApiQuery, ApiTags } from '@nestjs/swagger';
import { RequireScopes } from '../auth/scopes';
import { ApiNoContent, ApiOk, ApiProblems } from '../common/openapi';
import { invalid } from '../common/problem';
import { CreateTopicDto, TopicResponse, UpdateTopicDto } from './dto/topic.dto';
import { TopicsService } from './topics.service';

@ApiTags('topics')
@ApiBearerAuth()
@Controller('v1/topics')
export class TopicsController {
  constructor(private readonly topics: TopicsService) {}

  @Post()
  @RequireScopes('topics:write')
  @ApiOperation({ summary: 'Add a topic to the taxonomy customers choose from' })
  @ApiOk(TopicResponse, TopicResponse.example, { status: 201 })
  @ApiProblems({ 409: 'A topic with this key exists (`errors`: key is taken).' })
  async create(@Body() body: CreateTopicDto): Promise<TopicResponse> {
    return TopicResponse.from(await this.topics.create(body));
  }

  @Get()
  @RequireScopes('read', 'topics:write')
  @ApiOperation({ summary: 'List topics' })
  @ApiQuery({ name: 'includeArchived', required: false, type: Boolean, description: 'Also archived topics (default false).' })
  @ApiOk([TopicResponse], [TopicResponse.example])
  async list(@Query('includeArchived') includeArchived?: string): Promise<TopicResponse[]> {
    if (includeArchived !== undefined && includeArchived !== 'true' && includeArchived !== 'false') throw invalid('includeArchived', 'must be true or false');
    return (await this.topics.list(includeArchived === 'true')).map(TopicResponse.from);
  }

  @Get(':key')
  @RequireScopes('read', 'topics:write')
  @ApiOperation({ summary: 'Get one topic' })
  @ApiOk(TopicResponse, TopicResponse.example)
  @ApiProblems({ 404: 'No topic has this key.' })
  async get(@Param('key') key: string): Promise<TopicResponse> {
    return TopicResponse.from(await this.topics.get(key));
  }

  @Patch(':key')
  @RequireScopes('topics:write')
  @ApiOperation({ summary: 'Rename, describe or archive a topic (its key never changes)' })
  @ApiOk(TopicResponse, { ...TopicResponse.example, archived: true, updatedAt: '2026-11-25T08:00:00.000Z' })
  @ApiProblems({ 404: 'No topic has this key.' })
  async update(@Param('key') key: string, @Body() body: UpdateTopicDto): Promise<TopicResponse> {
    return TopicResponse.from(await this.topics.update(key, body));
  }

  @Delete(':key')
  @HttpCode(204)
  @RequireScopes('topics:write')
  @ApiOperation({ summary: 'Delete an unused topic; a topic with consent records must be archived instead (409)' })
  @ApiNoContent('Deleted.')
  @ApiProblems({ 404: 'No topic has this key.', 409: 'The topic has consent records or items; archive it instead.' })
  async remove(@Param('key') key: string): Promise<void> {
    await this.topics.remove(key);
  }
}
