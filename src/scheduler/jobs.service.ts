// Cron ticks only: each job takes an advisory lock (or claims rows with SKIP LOCKED) and calls
// into the domain that owns the logic. Every instance ticks; one does each job's work.
import { Injectable, Logger } from '@nestjs/common';
import { Interval } from '@nestjs/schedule';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';
import { CampaignDispatchService } from '../campaigns/campaign-dispatch.service';
import { DeferralService } from '../cadence/deferral.service';
import { withAdvisoryLock } from '../database/advisory-lock';
import { ConfirmationService } from '../subscribers/confirmation.service';

@Injectable()
export class JobsService {
  private readonly logger = new Logger(JobsService.name);

  constructor(
    @InjectDataSource() private readonly db: DataSource,
    private readonly confirmation: ConfirmationService,
    private readonly dispatch: CampaignDispatchService,
    private readonly deferrals: DeferralService,
  ) {}

  @Interval('dispatch-campaigns', 5_000)
  async dispatchCampaigns(): Promise<void> {
    const result = await this.dispatch.dispatchDue();
    if (result.campaigns > 0) this.logger.log({ job: 'dispatch-campaigns', ...result }, 'campaigns dispatched');
  }

  @Interval('expire-deferred', 60_000)
  async expireDeferred(): Promise<void> {
    const run = await withAdvisoryLock(this.db, 'tactful:job:expire-deferred', () => this.deferrals.expireStale());
    if (run.ran && run.result > 0) this.logger.log({ job: 'expire-deferred', expired: run.result }, 'deferred items expired');
  }

  @Interval('double-opt-in', 60_000)
  async doubleOptIn(): Promise<void> {
    const run = await withAdvisoryLock(this.db, 'tactful:job:double-opt-in', async () => ({
      reminded: await this.confirmation.sendReminders(),
      expired: await this.confirmation.expirePending(),
    }));
    if (run.ran && (run.result.reminded > 0 || run.result.expired > 0)) {
      this.logger.log({ job: 'double-opt-in', ...run.result }, 'double opt-in housekeeping');
    }
  }
}
