// The topics taxonomy's statements (docs/SQL.md): the catalogue marketers manage.
import { queries, sql } from '../database/statements';
import type { Topic } from './topic.entity';

/** A topic as the API shows it (camelCase, as the entity names its columns). */
const TOPIC = `id, key, name_de AS "nameDe", name_en AS "nameEn", description_de AS "descriptionDe", description_en AS "descriptionEn",
  audience_hint AS "audienceHint", archived, created_at AS "createdAt", updated_at AS "updatedAt"`;

export const TopicQueries = queries('topics', {
  create: sql<[key: string, nameDe: string, nameEn: string, descriptionDe: string, descriptionEn: string, audienceHint: string], Topic>(
    'A new topic; the unique key makes a second one with the same key a conflict (23505), answered as such.',
    `INSERT INTO topics (key, name_de, name_en, description_de, description_en, audience_hint)
     VALUES ($1, $2, $3, $4, $5, $6) RETURNING ${TOPIC}`,
  ),
  list: sql<[includeArchived: boolean], Topic>(
    'The catalogue by key; archived topics only when asked for.',
    `SELECT ${TOPIC} FROM topics WHERE $1::boolean OR NOT archived ORDER BY key`,
  ),
  ref: sql<[key: string], { id: string; archived: boolean }>(
    'The id behind a key another domain was given (an item, a webinar, feedback), and whether it takes new items.',
    `SELECT id, archived FROM topics WHERE key = $1`,
  ),
  byKey: sql<[key: string], Topic>('One topic by its key (unique index).', `SELECT ${TOPIC} FROM topics WHERE key = $1`),
  update: sql<
    [
      id: string,
      nameDe: string | null,
      nameEn: string | null,
      descriptionDe: string | null,
      descriptionEn: string | null,
      audienceHint: string | null,
      archived: boolean | null,
    ],
    Topic
  >(
    'A PATCH: a null keeps the column (none of them may be null), so one text serves every combination of fields.',
    `UPDATE topics SET name_de = coalesce($2, name_de), name_en = coalesce($3, name_en), description_de = coalesce($4, description_de),
       description_en = coalesce($5, description_en), audience_hint = coalesce($6, audience_hint), archived = coalesce($7, archived), updated_at = now()
     WHERE id = $1 RETURNING ${TOPIC}`,
  ),
  consentRecords: sql<[topicId: string], { count: number }>(
    'Whether a topic carries consent records: then it is archived, never deleted (the records are proof of consent).',
    `SELECT count(*)::int AS count FROM topic_subscriptions WHERE topic_id = $1`,
  ),
  delete: sql<[topicId: string]>('Removes a topic no consent record refers to.', `DELETE FROM topics WHERE id = $1`),
});
