// Writes decisions into the outbox (`deliveries`), set-based: one INSERT … SELECT per call, keyed
// by an idempotency key so a repeated enqueue is a no-op rather than a second mail.
import { Injectable } from '@nestjs/common';
import type { Sql } from '../database/sql';
import { MessageClass } from '../reasons/reason-codes';
import { DeliveryQueries as Q } from './delivery.queries';

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
  async enqueueForSubscribers(tx: Sql, input: EnqueueForSubscribers): Promise<number> {
    if (input.subscriberIds.length === 0) return 0;
    const row = await tx.row(Q.enqueueForSubscribers, [
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
    ]);
    return row!.count;
  }
}
