import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';
import { DomainException, ErrorCode, notFound } from '../common/problem';
import { isUniqueViolation } from '../database/pg-errors';
import { CreateTopicDto, UpdateTopicDto } from './dto/topic.dto';
import { Topic } from './topic.entity';

@Injectable()
export class TopicsService {
  constructor(@InjectDataSource() private readonly db: DataSource) {}

  private get repo() {
    return this.db.getRepository(Topic);
  }

  async create(input: CreateTopicDto): Promise<Topic> {
    try {
      const { identifiers } = await this.repo.insert({
        key: input.key,
        nameDe: input.nameDe,
        nameEn: input.nameEn,
        descriptionDe: input.descriptionDe ?? '',
        descriptionEn: input.descriptionEn ?? '',
        audienceHint: input.audienceHint ?? '',
      });
      return await this.repo.findOneByOrFail({ id: identifiers[0].id });
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
    return this.repo.find({ where: includeArchived ? {} : { archived: false }, order: { key: 'ASC' } });
  }

  async get(key: string): Promise<Topic> {
    const topic = await this.repo.findOneBy({ key });
    if (!topic) throw notFound('Topic', key);
    return topic;
  }

  async update(key: string, input: UpdateTopicDto): Promise<Topic> {
    const topic = await this.get(key);
    await this.repo.update({ id: topic.id }, { ...input, updatedAt: () => 'now()' });
    return this.get(key);
  }

  /** Topics that carry consent records are archived, not deleted: the records are proof of consent. */
  async remove(key: string): Promise<void> {
    const topic = await this.get(key);
    const [{ count }] = await this.db.query(
      `SELECT count(*)::int AS count FROM topic_subscriptions WHERE topic_id = $1`,
      [topic.id],
    );
    if (count > 0) {
      throw new DomainException(
        ErrorCode.Conflict,
        `Topic "${key}" has ${count} subscription(s) with consent records; archive it instead (PATCH {"archived": true}).`,
      );
    }
    await this.repo.delete({ id: topic.id });
  }
}
