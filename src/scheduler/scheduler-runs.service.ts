// A log of what each scheduler job did, on which instance: GET /v1/scheduler/runs.
import { Inject, Injectable, Logger } from '@nestjs/common';
import { hostname } from 'node:os';
import pLimit from 'p-limit';
import { Clock } from '../common/clock';
import { APP_CONFIG, AppConfig } from '../config/config';
import { runAs } from '../database/connection-budgets';
import { Db } from '../database/sql';
import { MetricsService } from '../metrics/metrics.service';
import { SchedulerQueries as Q } from './scheduler.queries';

export type JobCounts = Record<string, number>;

export interface SchedulerRun {
  id: string;
  job: string;
  instance: string;
  startedAt: string;
  finishedAt: string;
  counts: JobCounts;
  error: string | null;
}

/**
 * How many jobs run at once on one instance. A job holds at most two scheduler connections: the
 * session of its advisory lock (database/advisory-lock.ts) and the one its work runs on. With
 * more jobs than half the pool running, every connection can end up a lock session waiting for a
 * work connection that never comes free (at a minute's boundary most jobs tick together).
 */
export function schedulerSlots(schedulerPoolSize: number): number {
  return Math.max(1, Math.floor(schedulerPoolSize / 2));
}

@Injectable()
export class SchedulerRunsService {
  private readonly logger = new Logger('Scheduler');
  readonly instance = `${hostname()}:${process.pid}`;
  /** The scheduler's slots: a job waits here, not inside the pool with a connection in hand. */
  private readonly slots: pLimit.Limit;

  constructor(
    private readonly db: Db,
    private readonly clock: Clock,
    private readonly metrics: MetricsService,
    @Inject(APP_CONFIG) config: AppConfig,
  ) {
    this.slots = pLimit(schedulerSlots(config.dbSchedulerPoolSize));
  }

  /**
   * Runs a job on the scheduler's connection budget once one of the scheduler's slots is free; a
   * run that did something (or failed) is logged and stored, an idle tick is not. The work must
   * not call record() itself (it would wait for a slot its caller holds).
   */
  record(job: string, work: () => Promise<JobCounts | null>): Promise<JobCounts | null> {
    return this.slots(() => runAs('scheduler', () => this.run(job, work)));
  }

  /** Jobs running and jobs waiting for a slot now. */
  load(): { running: number; waiting: number } {
    return { running: this.slots.activeCount, waiting: this.slots.pendingCount };
  }

  private async run(job: string, work: () => Promise<JobCounts | null>): Promise<JobCounts | null> {
    const startedAt = this.clock.now();
    try {
      const counts = await work();
      if (counts && Object.values(counts).some((n) => n > 0)) {
        this.logger.log({ job, ...counts }, `${job} ran`);
        this.metrics.schedulerRuns.inc({ job, result: 'ok' });
        await this.store(job, startedAt, counts, null);
      }
      return counts;
    } catch (error) {
      this.logger.error({ job, err: error }, `${job} failed`);
      this.metrics.schedulerRuns.inc({ job, result: 'error' });
      await this.store(job, startedAt, {}, error instanceof Error ? error.message : String(error)).catch(() => undefined);
      return null;
    }
  }

  private async store(job: string, startedAt: Date, counts: JobCounts, error: string | null): Promise<void> {
    await this.db.run(Q.recordRun, [job, this.instance, startedAt, this.clock.now(), JSON.stringify(counts), error]);
  }

  async recent(job: string | undefined, limit: number): Promise<SchedulerRun[]> {
    const rows = await this.db.rows(Q.recentRuns, [job ?? null, limit]);
    return rows.map((r) => ({
      id: r.id,
      job: r.job,
      instance: r.instance,
      startedAt: r.started_at.toISOString(),
      finishedAt: r.finished_at.toISOString(),
      counts: r.counts,
      error: r.error,
    }));
  }
}
