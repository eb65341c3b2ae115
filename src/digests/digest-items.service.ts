// Digest items: short pieces that go only into digests.
import { Injectable } from '@nestjs/common';
import { Clock } from '../common/clock';
import { validationException } from '../common/validation';
import { Db } from '../database/sql';
import { TopicsService } from '../topics/topics.service';
import { DigestItemRow, DigestQueries as Q } from './digests.queries';
import { CreateDigestItemDto, DigestItemResponse } from './dto/digest-item.dto';

function toResponse(r: DigestItemRow): DigestItemResponse {
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

@Injectable()
export class DigestItemsService {
  constructor(
    private readonly db: Db,
    private readonly topics: TopicsService,
    private readonly clock: Clock,
  ) {}

  async create(body: CreateDigestItemDto): Promise<DigestItemResponse> {
    const now = this.clock.now();
    const topic = await this.topics.ref(body.topic);
    const errors: { field: string; message: string }[] = [];
    if (!topic) errors.push({ field: 'topic', message: `"${body.topic}" is not a topic` });
    else if (topic.archived) errors.push({ field: 'topic', message: `"${body.topic}" is archived` });
    if (!body.title.de && !body.title.en) errors.push({ field: 'title', message: 'needs at least one language (de or en)' });
    const publishAt = body.publishAt ? new Date(body.publishAt) : now;
    if (body.expiresAt && new Date(body.expiresAt) <= publishAt) errors.push({ field: 'expiresAt', message: 'must lie after publishAt' });
    if (errors.length || !topic) throw validationException(errors);
    const row = (await this.db.row(Q.createItem, [
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
    ]))!;
    return toResponse((await this.db.row(Q.item, [row.id]))!);
  }

  async list(topic: string | undefined, limit: number): Promise<DigestItemResponse[]> {
    return (await this.db.rows(Q.listItems, [topic ?? null, limit])).map(toResponse);
  }
}
