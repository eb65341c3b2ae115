// Runs the delivery worker off the HTTP event loop (WORKER_ISOLATION=thread): a worker thread of
// this process boots a Nest context of its own (src/worker-thread.ts) with the worker's pools and
// SMTP transport, so rendering, MIME and the parsing of the worker's results never queue in front
// of an HTTP request. A thread rather than a child process: one process to deploy, signal and
// watch (SIGTERM, the container's memory limit, stdout), the same pid in the logs, and a
// message port for the metrics; the isolation needed is of the event loop, not of memory.
// This side supervises it: starts it, restarts a crashed thread with backoff, stops it first
// on shutdown (its batches in hand finish; what is cut off is left to the lease).
import { BeforeApplicationShutdown, Inject, Injectable, Logger, OnApplicationBootstrap } from '@nestjs/common';
import { extname, join } from 'node:path';
import { Worker } from 'node:worker_threads';
import { Counter, Gauge } from 'prom-client';
import { APP_CONFIG, AppConfig } from '../config/config';
import { MetricsService } from '../metrics/metrics.service';

/** What the worker thread needs to build its own config: the instance's environment and its database (maybe the embedded one). */
export interface WorkerThreadSource {
  env: NodeJS.ProcessEnv;
  databaseUrl: string;
}
export const WORKER_THREAD_SOURCE = Symbol('WORKER_THREAD_SOURCE');

/** The first restart waits this long, each further one twice as long, up to the maximum. */
export const RESTART_BASE_MS = 1_000;
export const RESTART_MAX_MS = 60_000;
/** A thread that ran this long before it died counts as healthy: its restart starts at the base again. */
const STABLE_MS = 60_000;
/** A scrape waits this long for the thread's metrics, then reports without them. */
const METRICS_TIMEOUT_MS = 2_000;
/** After its context closed, the thread is given this long to end by itself before it is terminated. */
const STOPPED_EXIT_MS = 5_000;

/** Messages between the two threads. */
export type ToWorkerThread = { type: 'stop' } | { type: 'metrics'; id: number };
export type FromWorkerThread =
  | { type: 'ready'; workerId: string; threadId: number }
  | { type: 'metrics'; id: number; metrics: Awaited<ReturnType<MetricsService['workerMetrics']>> }
  | { type: 'stopped' };

/** Delay before restart number `failures` (1-based) of a thread that keeps dying. */
export function restartDelayMs(failures: number): number {
  return Math.min(RESTART_MAX_MS, RESTART_BASE_MS * 2 ** Math.max(0, failures - 1));
}

@Injectable()
export class DeliveryWorkerThread implements OnApplicationBootstrap, BeforeApplicationShutdown {
  private readonly logger = new Logger(DeliveryWorkerThread.name);
  private worker: Worker | undefined;
  private startedAt = 0;
  private failures = 0;
  private stopping = false;
  private restartTimer: NodeJS.Timeout | undefined;
  private exited: Promise<void> = Promise.resolve();
  private nextRequest = 0;
  private readonly pending = new Map<number, (metrics: Awaited<ReturnType<MetricsService['workerMetrics']>>) => void>();
  private readonly up: Gauge | undefined;
  private readonly restarts: Counter | undefined;

  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    @Inject(WORKER_THREAD_SOURCE) private readonly source: WorkerThreadSource,
    metrics: MetricsService,
  ) {
    if (!this.enabled) return;
    this.up = new Gauge({
      name: 'tactful_delivery_worker_up',
      help: 'Whether the delivery worker thread of this instance runs (1) or is down, being restarted (0); WORKER_ISOLATION=thread only',
      registers: [metrics.registry],
    });
    this.restarts = new Counter({
      name: 'tactful_delivery_worker_restarts_total',
      help: 'Restarts of the delivery worker thread after it crashed or exited on its own (alert on any increase)',
      registers: [metrics.registry],
    });
    metrics.addSource(() => this.threadMetrics());
  }

  get enabled(): boolean {
    return this.config.workerEnabled && this.config.workerIsolation === 'thread';
  }

  onApplicationBootstrap(): void {
    if (!this.enabled) return;
    // From src/ (ts-jest) there is no JavaScript for the thread to load: such tests run the worker inline.
    if (extname(__filename) !== '.js') throw new Error('WORKER_ISOLATION=thread runs the built app (dist/); run from src/ with WORKER_ISOLATION=inline');
    this.spawn();
  }

  /** Stops the thread before the app closes: it stops claiming and finishes the batches in hand. */
  async beforeApplicationShutdown(): Promise<void> {
    this.stopping = true;
    clearTimeout(this.restartTimer);
    const worker = this.worker;
    if (!worker) return;
    worker.postMessage({ type: 'stop' } satisfies ToWorkerThread);
    await this.exited;
  }

  private spawn(): void {
    const worker = new Worker(join(__dirname, '..', 'worker-thread.js'), {
      workerData: this.source,
      // Its logs go through its own pino (the same redaction) to this process's stdout.
      stdout: false,
      stderr: false,
    });
    // (worker.threadId reads -1 once it has exited.)
    const threadId = worker.threadId;
    this.worker = worker;
    this.startedAt = Date.now();
    worker.on('message', (message: FromWorkerThread) => {
      if (message.type === 'ready') {
        this.up?.set(1);
        this.logger.log({ threadId: message.threadId, workerId: message.workerId }, 'delivery worker thread started');
      } else if (message.type === 'metrics') {
        this.pending.get(message.id)?.(message.metrics);
        this.pending.delete(message.id);
      } else if (message.type === 'stopped') {
        // Closed: only a handle someone forgot could keep it alive now.
        setTimeout(() => void worker.terminate(), STOPPED_EXIT_MS).unref();
      }
    });
    worker.on('error', (error) => this.logger.error({ err: error, threadId }, 'delivery worker thread crashed'));
    this.exited = new Promise((done) =>
      worker.once('exit', (code) => {
        this.up?.set(0);
        this.worker = undefined;
        for (const answer of this.pending.values()) answer([]);
        this.pending.clear();
        done();
        if (this.stopping) {
          this.logger.log({ exitCode: code, threadId }, 'delivery worker thread stopped');
          return;
        }
        // Never a silent stop: whatever ended the thread, it is logged and started again.
        this.failures = Date.now() - this.startedAt >= STABLE_MS ? 1 : this.failures + 1;
        const delayMs = restartDelayMs(this.failures);
        this.restarts?.inc();
        this.logger.error({ exitCode: code, threadId, restartInMs: delayMs }, 'delivery worker thread stopped; restarting it');
        this.restartTimer = setTimeout(() => {
          if (!this.stopping) this.spawn();
        }, delayMs);
      }),
    );
  }

  private threadMetrics(): Promise<Awaited<ReturnType<MetricsService['workerMetrics']>>> {
    const worker = this.worker;
    if (!worker) return Promise.resolve([]);
    const id = ++this.nextRequest;
    return new Promise((answer) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        answer([]);
      }, METRICS_TIMEOUT_MS);
      this.pending.set(id, (metrics) => {
        clearTimeout(timer);
        answer(metrics);
      });
      worker.postMessage({ type: 'metrics', id } satisfies ToWorkerThread);
    });
  }
}
