// Deferred items wait in the outbox (status `deferred`) for the subscriber's next digest. Those
// that go stale first are expired, with the reason stored: nothing is dropped silently.
import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';
import { Clock } from '../common/clock';
import { Reason } from '../delivery/reason-codes';

@Injectable()
export class DeferralService {
  constructor(
    @InjectDataSource() private readonly db: DataSource,
    private readonly clock: Clock,
  ) {}

  async expireStale(): Promise<number> {
    const [{ count }] = await this.db.query(
      `WITH stale AS (
         UPDATE deliveries SET status = 'expired', reason = $2, updated_at = $1
         WHERE status = 'deferred' AND expires_at IS NOT NULL AND expires_at <= $1
         RETURNING 1)
       SELECT count(*)::int AS count FROM stale`,
      [this.clock.now(), Reason.Expired],
    );
    return count;
  }
}
