// Cron ticks only: each job takes an advisory lock (or claims rows with SKIP LOCKED) and calls
// into the domain that owns the logic. Every instance ticks; the work is never done twice.
// Each job ticks at its own configured interval (SCHEDULER_<JOB>_SECONDS), registered with
// @nestjs/schedule's registry at start-up (its @Interval decorator takes only constants).
// A job never overlaps itself: a tick that comes while the same job still runs (or waits for one
// of the scheduler's slots, SchedulerRunsService.record) is skipped, so slow ticks never pile up.
import { Inject, Injectable, Logger, OnApplicationBootstrap } from '@nestjs/common';
import { SchedulerRegistry } from '@nestjs/schedule';
import { DeferralService } from '../cadence/deferral.service';
import { CampaignDispatchService } from '../campaigns/campaign-dispatch.service';
import { CampaignProgressService } from '../campaigns/campaign-progress.service';
import { Clock } from '../common/clock';
import { pruneIdempotencyKeys } from '../common/idempotency.interceptor';
import { APP_CONFIG, AppConfig, SCHEDULER_JOBS, SchedulerJob } from '../config/config';
import { withAdvisoryLock } from '../database/advisory-lock';
import { Db } from '../database/sql';
import { DigestsService } from '../digests/digests.service';
import { PreferencesService } from '../preferences/preferences.service';
import { ConfirmationService } from '../subscribers/confirmation.service';
import { WebinarRegistrationsService } from '../webinars/webinar-registrations.service';
import { rotateDecisionLog } from '../delivery/decision-log';
import { foldDeliveryCounts } from '../metrics/delivery-counts';
import { pruneHousekeeping } from './housekeeping';
import { SchedulerRunsService } from './scheduler-runs.service';

@Injectable()
export class JobsService implements OnApplicationBootstrap {
  private readonly logger = new Logger(JobsService.name);

  constructor(
    private readonly db: Db,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly registry: SchedulerRegistry,
    private readonly runs: SchedulerRunsService,
    private readonly confirmation: ConfirmationService,
    private readonly dispatch: CampaignDispatchService,
    private readonly progress: CampaignProgressService,
    private readonly digests: DigestsService,
    private readonly deferrals: DeferralService,
    private readonly preferences: PreferencesService,
    private readonly webinarRegistrations: WebinarRegistrationsService,
    private readonly clock: Clock,
  ) {}

  /** What each job runs. */
  private readonly jobs: Record<SchedulerJob, () => Promise<unknown>> = {
    'dispatch-campaigns': () => this.dispatchCampaigns(),
    'campaign-progress': () => this.campaignProgress(),
    'compose-digests': () => this.composeDigests(),
    'expire-deferred': () => this.expireDeferred(),
    'double-opt-in': () => this.doubleOptIn(),
    'webinar-reminders': () => this.webinarReminders(),
    'resume-paused': () => this.resumePaused(),
    'prune-idempotency-keys': () => this.pruneIdempotencyKeys(),
    'prune-housekeeping': () => this.pruneHousekeeping(),
    'fold-delivery-counts': () => this.foldDeliveryCounts(),
    'rotate-decision-log': () => this.rotateDecisionLog(),
  };

  /** The jobs whose last tick has not finished yet. */
  private readonly ticking = new Set<SchedulerJob>();

  /** Starts every job's interval; @nestjs/schedule clears them before the application shuts down. */
  onApplicationBootstrap(): void {
    for (const job of SCHEDULER_JOBS) {
      const timer = setInterval(() => void this.tick(job), this.config.schedulerIntervals[job] * 1000);
      this.registry.addInterval(job, timer);
    }
  }

  /**
   * One timer tick of `job`: false when it was skipped because the job's previous tick has not
   * finished. record() never rejects: a failing run is logged and stored there.
   */
  async tick(job: SchedulerJob): Promise<boolean> {
    if (this.ticking.has(job)) return false;
    this.ticking.add(job);
    try {
      await this.jobs[job]();
      return true;
    } finally {
      this.ticking.delete(job);
    }
  }

  resumePaused() {
    return this.runs.record('resume-paused', async () => {
      const run = await withAdvisoryLock(this.db, 'tactful:job:resume-paused', () => this.preferences.resumeEndedPauses());
      return run.ran ? { resumed: run.result } : null;
    });
  }

  /** Advisory lock inside: one instance dispatches, highest priority first. */
  dispatchCampaigns() {
    return this.runs.record('dispatch-campaigns', async () => ({ ...(await this.dispatch.dispatchDue()) }));
  }

  /** Advisory lock inside: progress lines for the campaigns being sent; the finished ones complete. */
  campaignProgress() {
    return this.runs.record('campaign-progress', async () => {
      const tick = await this.progress.tick();
      return tick ? { completed: tick.completed, settled: tick.settled } : null;
    });
  }

  /** SKIP LOCKED batches inside: every instance composes, each a different set of subscribers. */
  composeDigests() {
    return this.runs.record('compose-digests', async () => ({ ...(await this.digests.composeDue()) }));
  }

  expireDeferred() {
    return this.runs.record('expire-deferred', async () => {
      const run = await withAdvisoryLock(this.db, 'tactful:job:expire-deferred', async () => ({
        expired: await this.deferrals.expireStale(),
        suppressed: await this.deferrals.suppressUnreachable(),
      }));
      return run.ran ? run.result : null;
    });
  }

  doubleOptIn() {
    return this.runs.record('double-opt-in', async () => {
      const run = await withAdvisoryLock(this.db, 'tactful:job:double-opt-in', async () => ({
        reminded: await this.confirmation.sendReminders(),
        expired: await this.confirmation.expirePending(),
      }));
      return run.ran ? run.result : null;
    });
  }

  /**
   * SKIP LOCKED claims inside: every instance reminds a different set of registrations. Then the
   * public form's registration requests that are no longer needed are forgotten (a DELETE any
   * instance may run at once).
   */
  webinarReminders() {
    return this.runs.record('webinar-reminders', async () => ({
      queued: await this.webinarRegistrations.sendDueReminders(),
      forgottenRequests: await this.webinarRegistrations.pruneRequests(),
    }));
  }

  /** Stored Idempotency-Key responses older than IDEMPOTENCY_RETENTION_HOURS go. */
  pruneIdempotencyKeys() {
    return this.runs.record('prune-idempotency-keys', async () => {
      const cutoff = new Date(this.clock.now().getTime() - this.config.idempotencyRetentionHours * 3_600_000);
      const run = await withAdvisoryLock(this.db, 'tactful:job:prune-idempotency-keys', () => pruneIdempotencyKeys(this.db, cutoff));
      return run.ran ? { pruned: run.result } : null;
    });
  }

  /** webhook_events, scheduler_runs and marketing_sends rows past their retention go (docs/SCALING.md). */
  pruneHousekeeping() {
    return this.runs.record('prune-housekeeping', async () => {
      const run = await withAdvisoryLock(this.db, 'tactful:job:prune-housekeeping', () => pruneHousekeeping(this.db, this.clock.now(), this.config.retention));
      return run.ran ? run.result : null;
    });
  }

  /** The decision log's coming months are made, and its months past DECISION_LOG_RETENTION_MONTHS dropped (docs/SCALING.md). */
  rotateDecisionLog() {
    return this.runs.record('rotate-decision-log', async () => {
      const run = await withAdvisoryLock(this.db, 'tactful:job:rotate-decision-log', () =>
        rotateDecisionLog(this.db, this.clock.now(), this.config.retention.decisionLogMonths),
      );
      if (!run.ran) return null;
      const { created, dropped, kept, busy } = run.result;
      for (const month of dropped) this.logger.log(`decision log: dropped ${month.partition} (${month.rows} rows, past the retention)`);
      for (const month of kept) {
        if (month.why === 'busy') this.logger.log(`decision log: ${month.partition} is past the retention; its lock was busy, tried again next run`);
        else this.logger.warn(`decision log: kept ${month.partition} past the retention: it still holds ${month.why} mail`);
      }
      for (const month of busy) this.logger.warn(`decision log: could not make ${month} yet (its lock was busy); tried again next run`);
      return {
        created: created.length,
        dropped: dropped.length,
        droppedRows: dropped.reduce((n, m) => n + m.rows, 0),
        kept: kept.length,
        busy: busy.length,
      };
    });
  }

  /** The decision counts' deltas go into the rollup /metrics reads; the oldest due row is measured. */
  foldDeliveryCounts() {
    return this.runs.record('fold-delivery-counts', async () => {
      const run = await withAdvisoryLock(this.db, 'tactful:job:fold-delivery-counts', () => foldDeliveryCounts(this.db, this.clock.now()));
      return run.ran ? run.result : null;
    });
  }
}
