// Cron ticks only: each job takes an advisory lock (or claims rows with SKIP LOCKED) and calls
// into the domain that owns the logic. Every instance ticks; the work is never done twice.
import { Inject, Injectable } from '@nestjs/common';
import { Interval } from '@nestjs/schedule';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';
import { DeferralService } from '../cadence/deferral.service';
import { CampaignDispatchService } from '../campaigns/campaign-dispatch.service';
import { Clock } from '../common/clock';
import { pruneIdempotencyKeys } from '../common/idempotency.interceptor';
import { APP_CONFIG, AppConfig } from '../config/config';
import { withAdvisoryLock } from '../database/advisory-lock';
import { DigestsService } from '../digests/digests.service';
import { PreferencesService } from '../preferences/preferences.service';
import { ConfirmationService } from '../subscribers/confirmation.service';
import { WebinarRegistrationsService } from '../webinars/webinar-registrations.service';
import { SchedulerRunsService } from './scheduler-runs.service';

@Injectable()
export class JobsService {
  constructor(
    @InjectDataSource() private readonly db: DataSource,
    private readonly runs: SchedulerRunsService,
    private readonly confirmation: ConfirmationService,
    private readonly dispatch: CampaignDispatchService,
    private readonly digests: DigestsService,
    private readonly deferrals: DeferralService,
    private readonly preferences: PreferencesService,
    private readonly webinarRegistrations: WebinarRegistrationsService,
    private readonly clock: Clock,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {}

  @Interval('resume-paused', 60_000)
  resumePaused() {
    return this.runs.record('resume-paused', async () => {
      const run = await withAdvisoryLock(this.db, 'tactful:job:resume-paused', () => this.preferences.resumeEndedPauses());
      return run.ran ? { resumed: run.result } : null;
    });
  }

  /** Advisory lock inside: one instance dispatches, highest priority first. */
  @Interval('dispatch-campaigns', 5_000)
  dispatchCampaigns() {
    return this.runs.record('dispatch-campaigns', async () => ({ ...(await this.dispatch.dispatchDue()) }));
  }

  /** SKIP LOCKED batches inside: every instance composes, each a different set of subscribers. */
  @Interval('compose-digests', 30_000)
  composeDigests() {
    return this.runs.record('compose-digests', async () => ({ ...(await this.digests.composeDue()) }));
  }

  @Interval('expire-deferred', 60_000)
  expireDeferred() {
    return this.runs.record('expire-deferred', async () => {
      const run = await withAdvisoryLock(this.db, 'tactful:job:expire-deferred', async () => ({
        expired: await this.deferrals.expireStale(),
        suppressed: await this.deferrals.suppressUnreachable(),
      }));
      return run.ran ? run.result : null;
    });
  }

  @Interval('double-opt-in', 60_000)
  doubleOptIn() {
    return this.runs.record('double-opt-in', async () => {
      const run = await withAdvisoryLock(this.db, 'tactful:job:double-opt-in', async () => ({
        reminded: await this.confirmation.sendReminders(),
        expired: await this.confirmation.expirePending(),
      }));
      return run.ran ? run.result : null;
    });
  }

  /** SKIP LOCKED claims inside: every instance reminds a different set of registrations. */
  @Interval('webinar-reminders', 60_000)
  webinarReminders() {
    return this.runs.record('webinar-reminders', async () => ({ queued: await this.webinarRegistrations.sendDueReminders() }));
  }

  /** Stored Idempotency-Key responses older than IDEMPOTENCY_RETENTION_HOURS go. */
  @Interval('prune-idempotency-keys', 15 * 60_000)
  pruneIdempotencyKeys() {
    return this.runs.record('prune-idempotency-keys', async () => {
      const cutoff = new Date(this.clock.now().getTime() - this.config.idempotencyRetentionHours * 3_600_000);
      const run = await withAdvisoryLock(this.db, 'tactful:job:prune-idempotency-keys', () => pruneIdempotencyKeys(this.db, cutoff));
      return run.ran ? { pruned: run.result } : null;
    });
  }
}
