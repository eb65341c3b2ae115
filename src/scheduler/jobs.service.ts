// Cron ticks only: each job takes an advisory lock and calls into the domain that owns the logic.
import { Injectable, Logger } from '@nestjs/common';
import { Interval } from '@nestjs/schedule';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';
import { withAdvisoryLock } from '../database/advisory-lock';
import { ConfirmationService } from '../subscribers/confirmation.service';

@Injectable()
export class JobsService {
  private readonly logger = new Logger(JobsService.name);

  constructor(
    @InjectDataSource() private readonly db: DataSource,
    private readonly confirmation: ConfirmationService,
  ) {}

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
