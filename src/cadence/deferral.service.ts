// Deferred items wait in the outbox (status `deferred`) for the subscriber's next digest. Those
// that go stale first are expired, and those whose customer can no longer get them (unsubscribed,
// bounced, complained, topic dropped) are suppressed, each with the reason stored: nothing is
// dropped silently, and nothing waits for a digest that will never come.
import { Inject, Injectable } from '@nestjs/common';
import { Clock } from '../common/clock';
import { APP_CONFIG, AppConfig } from '../config/config';
import { Db } from '../database/sql';
import { Reason } from '../reasons/reason-codes';
import { CadenceQueries as Q } from './cadence.queries';

@Injectable()
export class DeferralService {
  constructor(
    private readonly db: Db,
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
    const row = await this.db.row(Q.expireStale, [now, Reason.Expired, new Date(now.getTime() - this.config.deferredMaxAgeDays * 86_400_000)]);
    return row!.count;
  }

  /**
   * Deferred items of customers who have since left (or dropped the item's topic) would otherwise
   * wait as "folded into the next digest" forever: the digest composes only for active customers
   * and confirmed topics. They are suppressed with the reason the send-time gate would give.
   * A paused customer's items keep waiting for the end of the pause.
   */
  async suppressUnreachable(): Promise<number> {
    // Driven from the few who left and the dropped topics (cadence.queries.ts).
    const row = await this.db.row(Q.suppressUnreachable, [this.clock.now()]);
    return row!.count;
  }
}
