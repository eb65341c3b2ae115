import { Injectable } from '@nestjs/common';
import { DomainException, ErrorCode, notFound } from '../common/problem';
import { isUniqueViolation } from '../database/pg-errors';
import { Db, Sql } from '../database/sql';
import { CreateTopicDto, UpdateTopicDto } from './dto/topic.dto';
import { Topic } from './topic.entity';
import { TopicQueries as Q } from './topics.queries';

@Injectable()
export class TopicsService {
  constructor(private readonly db: Db) {}

  async create(input: CreateTopicDto): Promise<Topic> {
    try {
      const created = await this.db.row(Q.create, [
        input.key,
        input.nameDe,
        input.nameEn,
        input.descriptionDe ?? '',
        input.descriptionEn ?? '',
        input.audienceHint ?? '',
      ]);
      return created!;
    } catch (error) {
      if (isUniqueViolation(error)) {
        throw new DomainException(ErrorCode.Conflict, `A topic with key "${input.key}" exists already`, [
          { field: 'key', message: 'is taken' },
        ]);
      }
      throw error;
    }
  }

  list(includeArchived: boolean): Promise<Topic[]> {
    return this.db.rows(Q.list, [includeArchived]);
  }

  /** The id and archived flag of a topic by key (undefined: no such topic), in the caller's transaction if given. */
  ref(key: string, sql: Sql = this.db): Promise<{ id: string; archived: boolean } | undefined> {
    return sql.row(Q.ref, [key]);
  }

  async get(key: string): Promise<Topic> {
    const topic = await this.db.row(Q.byKey, [key]);
    if (!topic) throw notFound('Topic', key);
    return topic;
  }

  async update(key: string, input: UpdateTopicDto): Promise<Topic> {
    const topic = await this.get(key);
    const updated = await this.db.row(Q.update, [
      topic.id,
      input.nameDe ?? null,
      input.nameEn ?? null,
      input.descriptionDe ?? null,
      input.descriptionEn ?? null,
      input.audienceHint ?? null,
      input.archived ?? null,
    ]);
    if (!updated) throw notFound('Topic', key);
    return updated;
  }

  /** Topics that carry consent records are archived, not deleted: the records are proof of consent. */
  async remove(key: string): Promise<void> {
    const topic = await this.get(key);
    const { count } = (await this.db.row(Q.consentRecords, [topic.id]))!;
    if (count > 0) {
      throw new DomainException(
        ErrorCode.Conflict,
        `Topic "${key}" has ${count} subscription(s) with consent records; archive it instead (PATCH {"archived": true}).`,
      );
    }
    await this.db.run(Q.delete, [topic.id]);
  }
}
