import { Body, Controller, Get, Post, Query } from '@nestjs/common';
import { ApiBearerAuth, ApiOperation, ApiQuery, ApiTags } from '@nestjs/swagger';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';
import { RequireScopes } from '../auth/scopes';
import { Clock } from '../common/clock';
import { ApiOk } from '../common/openapi';
import { invalid } from '../common/problem';
import { validationException } from '../common/validation';
import { CreateDigestItemDto, DigestItemResponse } from './dto/digest-item.dto';

const SELECT = `SELECT i.*, t.key AS topic FROM digest_items i JOIN topics t ON t.id = i.topic_id`;

function toResponse(r: any): DigestItemResponse {
  return {
    id: r.id,
    topic: r.topic,
    sender: r.sender,
    priority: r.priority,
    title: { de: r.title_de ?? undefined, en: r.title_en ?? undefined },
    summary: { de: r.summary_de ?? undefined, en: r.summary_en ?? undefined },
    url: r.url,
    publishAt: r.publish_at.toISOString(),
    expiresAt: r.expires_at?.toISOString() ?? null,
    createdAt: r.created_at.toISOString(),
  };
}

@ApiTags('digest items')
@ApiBearerAuth()
@Controller('v1/digest-items')
export class DigestItemsController {
  constructor(
    @InjectDataSource() private readonly db: DataSource,
    private readonly clock: Clock,
  ) {}

  @Post()
  @RequireScopes('digests:write')
  @ApiOperation({ summary: 'Add a short piece that goes only into digests (a fair moved, a new offer, longer payment terms)' })
  @ApiOk(DigestItemResponse, DigestItemResponse.example, { status: 201 })
  async create(@Body() body: CreateDigestItemDto): Promise<DigestItemResponse> {
    const now = this.clock.now();
    const [topic] = await this.db.query(`SELECT id, archived FROM topics WHERE key = $1`, [body.topic]);
    const errors: { field: string; message: string }[] = [];
    if (!topic) errors.push({ field: 'topic', message: `"${body.topic}" is not a topic` });
    else if (topic.archived) errors.push({ field: 'topic', message: `"${body.topic}" is archived` });
    if (!body.title.de && !body.title.en) errors.push({ field: 'title', message: 'needs at least one language (de or en)' });
    const publishAt = body.publishAt ? new Date(body.publishAt) : now;
    if (body.expiresAt && new Date(body.expiresAt) <= publishAt) errors.push({ field: 'expiresAt', message: 'must lie after publishAt' });
    if (errors.length) throw validationException(errors);
    const [row] = await this.db.query(
      `INSERT INTO digest_items (topic_id, sender, priority, title_de, title_en, summary_de, summary_en, url, publish_at, expires_at, created_at)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) RETURNING id`,
      [
        topic.id,
        body.sender ?? 'marketing',
        body.priority ?? 0,
        body.title.de ?? null,
        body.title.en ?? null,
        body.summary?.de ?? null,
        body.summary?.en ?? null,
        body.url ?? null,
        publishAt,
        body.expiresAt ?? null,
        now,
      ],
    );
    const [created] = await this.db.query(`${SELECT} WHERE i.id = $1`, [row.id]);
    return toResponse(created);
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
    const rows = await this.db.query(`${SELECT} WHERE ($1::text IS NULL OR t.key = $1) ORDER BY i.publish_at DESC LIMIT $2`, [topic ?? null, size]);
    return rows.map(toResponse);
  }
}
