// Prometheus metrics: counters and histograms the worker and the HTTP layer update as they go,
// plus gauges read from PostgreSQL at scrape time (outbox depth, oldest due age, decisions by
// reason, digest lag) so every instance reports the same truth about the shared database. The
// decision counts come from a rollup (delivery-counts.ts): a scrape never reads the decision log.
import { Injectable } from '@nestjs/common';
import { AggregatorRegistry, Counter, Gauge, Histogram, MetricObjectWithValues, MetricValue, Registry, collectDefaultMetrics } from 'prom-client';
import { Clock, DatabaseClock } from '../common/clock';
import { readReason } from '../reasons/reason-codes';
import { Db } from '../database/sql';
import { readDecisionCounts, readOldestDue } from './delivery-counts';
import { MetricsQueries as Q } from './metrics.queries';

/** What the delivery worker counts: in thread isolation these come from the worker thread's registry. */
const WORKER_METRICS = ['tactful_deliveries_total', 'tactful_smtp_duration_seconds', 'tactful_domain_pauses_total'] as const;
const POOL_METRIC = 'tactful_db_pool_connections';

type MetricJson = MetricObjectWithValues<MetricValue<string>>;

@Injectable()
export class MetricsService {
  /** Registries of other threads of this instance (the delivery worker thread), merged into each scrape. */
  private readonly sources: (() => Promise<MetricJson[]>)[] = [];

  // Its own registry: several app instances in one process (tests) must not collide.
  readonly registry = new Registry();

  readonly deliveries = new Counter({
    name: 'tactful_deliveries_total',
    help: 'Delivery attempts and send-time decisions by this instance, by outcome',
    labelNames: ['class', 'kind', 'status', 'reason'] as const,
    registers: [this.registry],
  });

  readonly smtpDuration = new Histogram({
    name: 'tactful_smtp_duration_seconds',
    help: 'Time to hand one mail to SMTP, by outcome class',
    labelNames: ['outcome'] as const,
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
    registers: [this.registry],
  });

  readonly httpDuration = new Histogram({
    name: 'tactful_http_request_duration_seconds',
    help: 'HTTP request duration by route pattern and status',
    labelNames: ['method', 'route', 'status'] as const,
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
    registers: [this.registry],
  });

  readonly schedulerRuns = new Counter({
    name: 'tactful_scheduler_runs_total',
    help: 'Scheduler job runs that did work or failed, by job and result',
    labelNames: ['job', 'result'] as const,
    registers: [this.registry],
  });

  readonly importUploads = new Gauge({
    name: 'tactful_import_uploads_reading',
    help: 'Import uploads being received and checked now (they hold no database connection)',
    registers: [this.registry],
  });

  readonly domainPauses = new Counter({
    name: 'tactful_domain_pauses_total',
    help: 'Recipient domains paused after an SMTP policy block (alert on any increase)',
    registers: [this.registry],
  });

  readonly mailEvents = new Counter({
    name: 'tactful_mail_events_total',
    help: 'Bounces, complaints and unsubscribes that came back, by source, kind and what was done (duplicate: a replay, ignored)',
    labelNames: ['source', 'kind', 'outcome'],
    registers: [this.registry],
  });

  readonly mailEventsRefused = new Counter({
    name: 'tactful_mail_events_refused_total',
    help: 'Provider webhooks and inbound mails refused: unverifiable signature, stale or replayed, unknown recipient',
    labelNames: ['source', 'reason'],
    registers: [this.registry],
  });

  constructor(
    private readonly db: Db,
    private readonly clock: Clock,
  ) {
    collectDefaultMetrics({ register: this.registry, prefix: 'tactful_process_' });
    const outbox = new Gauge({
      name: 'tactful_outbox_rows',
      help: 'Outbox rows by status (whole database)',
      labelNames: ['status'] as const,
      registers: [this.registry],
    });
    const oldest = new Gauge({
      name: 'tactful_outbox_oldest_due_seconds',
      help: 'Age of the oldest queued row that is due, as measured by the last fold-delivery-counts run',
      registers: [this.registry],
    });
    const decisions = new Gauge({
      name: 'tactful_decisions',
      help: 'Deliveries by class, status and reason (whole database)',
      labelNames: ['class', 'status', 'reason'] as const,
      registers: [this.registry],
    });
    const digestLag = new Gauge({ name: 'tactful_digest_lag_seconds', help: 'How late the most overdue digest is', registers: [this.registry] });
    const paused = new Gauge({ name: 'tactful_domains_paused', help: 'Recipient domains paused right now', registers: [this.registry] });
    // One collect for all database gauges, so a scrape costs three small queries.
    let collecting: Promise<void> | null = null;
    const collectDatabase = () =>
      (collecting ??= (async () => {
        const now = this.clock.now();
        // The rollup, not the log (delivery-counts.ts): the same cost whatever the history size.
        const rows = await readDecisionCounts(this.db);
        outbox.reset();
        decisions.reset();
        const byStatus = new Map<string, number>();
        for (const r of rows) {
          // A stored legacy reason counts under the name it has now (readReason()).
          decisions.inc({ class: r.class, status: r.status, reason: readReason(r.reason) }, r.n);
          byStatus.set(r.status, (byStatus.get(r.status) ?? 0) + r.n);
        }
        for (const [status, n] of byStatus) outbox.set({ status }, n);
        // As the last fold-delivery-counts run measured it: a scrape does not read deliveries.
        const due = await readOldestDue(this.db);
        oldest.set(due && due <= now ? (now.getTime() - due.getTime()) / 1000 : 0);
        const lag = await this.db.row(Q.digestLag, [now]);
        digestLag.set(lag?.at ? (now.getTime() - lag.at.getTime()) / 1000 : 0);
        const { n } = (await this.db.row(Q.pausedDomains, [now]))!;
        paused.set(n);
      })().finally(() => (collecting = null)));
    for (const gauge of [outbox, oldest, decisions, digestLag, paused]) {
      (gauge as unknown as { collect?: () => Promise<void> }).collect = collectDatabase;
    }
    const pools = this.db.budgetedPool();
    if (pools) {
      new Gauge({
        name: 'tactful_db_pool_connections',
        help: "Connections of each work class's pool: max, open (total), idle, and callers waiting for one (alert on waiting > 0 for long)",
        labelNames: ['pool', 'state'] as const,
        registers: [this.registry],
        collect() {
          for (const [pool, stats] of Object.entries(pools.stats())) {
            for (const [state, n] of Object.entries(stats)) this.set({ pool, state }, n);
          }
        },
      });
    }
    if (this.clock instanceof DatabaseClock) {
      const clock = this.clock;
      new Gauge({
        name: 'tactful_clock_offset_seconds',
        help: "How far PostgreSQL's clock is ahead of this host's; Tactful runs on PostgreSQL's time (alert when large: NTP is off)",
        registers: [this.registry],
        collect() {
          this.set(clock.offset / 1000);
        },
      });
    }
  }

  /**
   * Merges `read`'s metrics into every scrape (counters and histograms summed with this registry's;
   * its pool values replace this registry's values of the same pool). `read` answers [] while
   * its thread is down.
   */
  addSource(read: () => Promise<MetricJson[]>): void {
    this.sources.push(read);
  }

  /** The worker's own metrics, for the main thread's scrape: its counters and its worker pool only. */
  async workerMetrics(): Promise<MetricJson[]> {
    const out: MetricJson[] = [];
    for (const name of WORKER_METRICS) {
      const metric = this.registry.getSingleMetric(name);
      if (metric) out.push((await metric.get()) as MetricJson);
    }
    const pool = this.registry.getSingleMetric(POOL_METRIC);
    if (pool) {
      const json = (await pool.get()) as MetricJson;
      out.push({ ...json, values: json.values.filter((v) => v.labels.pool === 'worker') });
    }
    return out;
  }

  async render(): Promise<string> {
    if (this.sources.length === 0) return this.registry.metrics();
    const remote = (await Promise.all(this.sources.map((read) => read()))).flat();
    const remotePools = new Set(remote.filter((m) => m.name === POOL_METRIC).flatMap((m) => m.values.map((v) => v.labels.pool)));
    // This thread's own pool of a class another thread runs (the unused worker pool) would only confuse.
    const remoteNames = new Set(remote.map((m) => m.name));
    const own = ((await this.registry.getMetricsAsJSON()) as MetricJson[]).map((m) =>
      m.name === POOL_METRIC
        ? { ...m, values: m.values.filter((v) => !remotePools.has(v.labels.pool)) }
        : // Only this registry has it: kept as it is (its own aggregator may be 'omit', meant for clusters).
          remoteNames.has(m.name)
          ? m
          : { ...m, aggregator: 'first' as const },
    );
    return AggregatorRegistry.aggregate([own, remote]).metrics();
  }
}
