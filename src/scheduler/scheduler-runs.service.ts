// A log of what each scheduler job did, on which instance: GET /v1/scheduler/runs.
import { Injectable, Logger } from '@nestjs/common';
import { hostname } from 'node:os';
import { Clock } from '../common/clock';
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

@Injectable()
export class SchedulerRunsService {
  private readonly logger = new Logger('Scheduler');
  readonly instance = `${hostname()}:${process.pid}`;

  constructor(
    private readonly db: Db,
    private readonly clock: Clock,
    private readonly metrics: MetricsService,
  ) {}

  /**
   * Runs a job on the scheduler's connection budget; a run that did something (or failed) is
   * logged and stored, an idle tick is not.
   */
  record(job: string, work: () => Promise<JobCounts | null>): Promise<JobCounts | null> {
    return runAs('scheduler', () => this.run(job, work));
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
