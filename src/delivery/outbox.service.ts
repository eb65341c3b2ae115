// Writes decisions into the outbox (`deliveries`), set-based: one INSERT … SELECT per call, keyed
// by an idempotency key so a repeated enqueue is a no-op rather than a second mail.
import { Injectable } from '@nestjs/common';
import { EntityManager } from 'typeorm';
import { MessageClass } from '../reasons/reason-codes';

export interface EnqueueForSubscribers {
  subscriberIds: string[];
  class: MessageClass;
  kind: string;
  /** Unique per (message, subscriber): the subscriber id is appended. */
  keyPrefix: string;
  topicId?: string | null;
  refId?: string | null;
  payload?: Record<string, unknown>;
  priority?: number;
  at: Date;
  /** Only subscribers currently in this status get a row. */
  onlyStatus?: string;
}

@Injectable()
export class OutboxService {
  /** Queues one delivery per subscriber; returns how many new rows were queued. */
  async enqueueForSubscribers(tx: EntityManager, input: EnqueueForSubscribers): Promise<number> {
    if (input.subscriberIds.length === 0) return 0;
    const rows: { count: number }[] = await tx.query(
      `WITH queued AS (
         INSERT INTO deliveries (subscriber_id, class, kind, topic_id, ref_id, locale, status, reason, idempotency_key,
                                 payload, priority, next_attempt_at, created_at, updated_at)
         SELECT s.id, $2, $3, $4, $5, s.locale, 'queued', 'queued', $6 || s.id::text, $7::jsonb, $8, $9, $9, $9
         FROM subscribers s
         WHERE s.id = ANY($1::uuid[]) AND ($10::text IS NULL OR s.status = $10)
         ON CONFLICT (idempotency_key) DO NOTHING
         RETURNING 1)
       SELECT count(*)::int AS count FROM queued`,
      [
        input.subscriberIds,
        input.class,
        input.kind,
        input.topicId ?? null,
        input.refId ?? null,
        input.keyPrefix,
        JSON.stringify(input.payload ?? {}),
        input.priority ?? 0,
        input.at,
        input.onlyStatus ?? null,
      ],
    );
    return rows[0].count;
  }
}
