// Deferred items wait in the outbox (status `deferred`) for the subscriber's next digest. Those
// that go stale first are expired, and those whose customer can no longer get them (unsubscribed,
// bounced, complained, topic dropped) are suppressed, each with the reason stored: nothing is
// dropped silently, and nothing waits for a digest that will never come.
import { Inject, Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';
import { Clock } from '../common/clock';
import { APP_CONFIG, AppConfig } from '../config/config';
import { Reason } from '../reasons/reason-codes';

@Injectable()
export class DeferralService {
  constructor(
    @InjectDataSource() private readonly db: DataSource,
    private readonly clock: Clock,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {}

  /**
   * Deferred items past their expiry, and those without one that waited DEFERRED_MAX_AGE_DAYS:
   * eager senders defer far more than a digest carries, and old news must not go out (nor pile
   * up: the backlog is what every digest and this job read).
   */
  async expireStale(): Promise<number> {
    const now = this.clock.now();
    const [{ count }] = await this.db.query(
      `WITH stale AS (
         UPDATE deliveries SET status = 'expired', reason = $2, updated_at = $1
         WHERE id IN (
           SELECT id FROM deliveries WHERE status = 'deferred' AND expires_at IS NOT NULL AND expires_at <= $1
           UNION ALL
           SELECT id FROM deliveries WHERE status = 'deferred' AND expires_at IS NULL AND created_at <= $3)
         RETURNING 1)
       SELECT count(*)::int AS count FROM stale`,
      [now, Reason.Expired, new Date(now.getTime() - this.config.deferredMaxAgeDays * 86_400_000)],
    );
    return count;
  }

  /**
   * Deferred items of customers who have since left (or dropped the item's topic) would otherwise
   * wait as "folded into the next digest" forever: the digest composes only for active customers
   * and confirmed topics. They are suppressed with the reason the send-time gate would give.
   * A paused customer's items keep waiting for the end of the pause.
   */
  async suppressUnreachable(): Promise<number> {
    // Driven from the few who left and the dropped topics (both small), each joined to their
    // deferred rows through deliveries_deferred_topic_idx: no scan of every deferred row.
    const [{ count }] = await this.db.query(
      `WITH unreachable AS (
         SELECT d.id, CASE s.status WHEN 'bounced' THEN '${Reason.SuppressedBounced}'
                                    WHEN 'complained' THEN '${Reason.SuppressedComplained}'
                                    ELSE '${Reason.SuppressedUnsubscribed}' END AS reason
         FROM subscribers s JOIN deliveries d ON d.subscriber_id = s.id AND d.status = 'deferred'
         WHERE s.status IN ('bounced', 'complained', 'unsubscribed')
         UNION ALL
         SELECT d.id, CASE ts.status WHEN 'revoked' THEN '${Reason.SuppressedUnsubscribed}' ELSE '${Reason.SuppressedUnconfirmed}' END
         FROM topic_subscriptions ts
         JOIN subscribers s ON s.id = ts.subscriber_id AND s.status NOT IN ('bounced', 'complained', 'unsubscribed')
         JOIN deliveries d ON d.subscriber_id = ts.subscriber_id AND d.topic_id = ts.topic_id AND d.status = 'deferred'
         WHERE ts.status <> 'confirmed')
       , suppressed AS (
         UPDATE deliveries d SET status = 'suppressed', reason = u.reason, updated_at = $1
         FROM unreachable u WHERE d.id = u.id AND d.status = 'deferred'
         RETURNING 1)
       SELECT count(*)::int AS count FROM suppressed`,
      [this.clock.now()],
    );
    return count;
  }
}
