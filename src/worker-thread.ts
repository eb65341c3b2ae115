// The delivery worker thread (WORKER_ISOLATION=thread; started and supervised by
// delivery/worker-thread.ts): a Nest application context with only what the worker needs (the
// config, PostgreSQL's clock, the logger, its own pools, the outbox with its SMTP relays, and the
// domains that register delivery kinds), on an event loop of its own. No HTTP server, no scheduler,
// no inbound receiver: those stay on the main thread.
import 'reflect-metadata';
import { DynamicModule, Module } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { TypeOrmModule } from '@nestjs/typeorm';
import { Logger } from 'nestjs-pino';
import { readlinkSync } from 'node:fs';
import { setPriority } from 'node:os';
import { parentPort, threadId, workerData } from 'node:worker_threads';
import { CadenceModule } from './cadence/cadence.module';
import { CampaignsModule } from './campaigns/campaigns.module';
import { Clock } from './common/clock';
import { ClockModule } from './common/clock.module';
import { tactfulLoggerModule } from './common/logging';
import { AppConfig } from './config/config';
import { configFromEnv } from './config/config-from-env';
import { ConfigModule } from './config/config.module';
import { PoolBudgets, poolBudgets, WORK_CLASSES } from './database/connection-budgets';
import { databaseClock, keepClockSynced } from './common/database-clock';
import { DatabaseModule } from './database/database.module';
import { dataSourceOptions } from './database/data-source';
import { Db } from './database/sql';
import { DeliveryModule } from './delivery/delivery.module';
import { DeliveryWorker } from './delivery/delivery-worker';
import type { FromWorkerThread, ToWorkerThread, WorkerThreadSource } from './delivery/worker-thread';
import { DigestsModule } from './digests/digests.module';
import { ENTITIES } from './entity-list';
import { MetricsModule } from './metrics/metrics.module';
import { MetricsService } from './metrics/metrics.service';
import { ShipmentsModule } from './shipments/shipments.module';
import { SubscribersModule } from './subscribers/subscribers.module';
import { WebinarsModule } from './webinars/webinars.module';

/**
 * The worker's budget (DB_WORKER_POOL_SIZE) moves here with the worker; the main thread's worker
 * pool then stays empty (pools connect on demand). Every other class gets one connection: only
 * the start-up check and the clock sync run outside the worker's class here.
 */
function threadBudgets(config: AppConfig): PoolBudgets {
  const budgets = poolBudgets(config);
  for (const workClass of WORK_CLASSES) if (workClass !== 'worker') budgets[workClass] = { ...budgets[workClass], max: 1 };
  return budgets;
}

@Module({})
class DeliveryWorkerThreadModule {
  static register(config: AppConfig, databaseUrl: string, clock: Clock): DynamicModule {
    return {
      module: DeliveryWorkerThreadModule,
      imports: [
        ConfigModule.register(config),
        ClockModule.register(clock),
        // Every line says it came from this thread.
        tactfulLoggerModule(config, { thread: 'delivery-worker', threadId }),
        TypeOrmModule.forRoot(dataSourceOptions(databaseUrl, threadBudgets(config), ENTITIES)),
        DatabaseModule,
        MetricsModule,
        DeliveryModule,
        CadenceModule,
        // The domains whose services register delivery kinds (compose and gate) with DeliveryKinds.
        SubscribersModule,
        CampaignsModule,
        DigestsModule,
        ShipmentsModule,
        WebinarsModule,
      ],
    };
  }
}

/** How much lower than the HTTP thread this thread is scheduled (a nice value; 19 is the lowest). */
const WORKER_THREAD_NICE = 10;

/**
 * The worker's CPU yields to the API's: on Linux this thread is a task of its own
 * (/proc/thread-self names it) and takes a lower scheduling priority, so while both want the CPU a
 * customer's page comes first and the worker sends with what is left. Elsewhere nothing changes.
 */
function lowerThreadPriority(): string | null {
  try {
    const task = Number(readlinkSync('/proc/thread-self').split('/').pop());
    setPriority(task, WORKER_THREAD_NICE);
    return null;
  } catch (error) {
    return (error as Error).message;
  }
}

async function run(port: NonNullable<typeof parentPort>): Promise<void> {
  const priorityProblem = lowerThreadPriority();
  const { env, databaseUrl } = workerData as WorkerThreadSource;
  // Inside the thread the worker runs inline, on this thread's loop (WORKER_ENABLED holds, or the thread would not run).
  const config: AppConfig = { ...configFromEnv(env), workerIsolation: 'inline' };
  const clock = await databaseClock(databaseUrl);
  const app = await NestFactory.createApplicationContext(DeliveryWorkerThreadModule.register(config, databaseUrl, clock), {
    bufferLogs: true,
    abortOnError: false,
  });
  const logger = app.get(Logger);
  app.useLogger(logger);
  keepClockSynced(app.get(Db), logger, clock, false);
  if (priorityProblem) logger.warn({ reason: priorityProblem }, "the worker thread runs at the HTTP thread's priority");
  const metrics = app.get(MetricsService);
  let stopping = false;
  port.on('message', (message: ToWorkerThread) => {
    if (message.type === 'metrics') {
      void metrics.workerMetrics().then((values) => port.postMessage({ type: 'metrics', id: message.id, metrics: values } satisfies FromWorkerThread));
    } else if (message.type === 'stop' && !stopping) {
      stopping = true;
      clock.stop();
      // The worker stops claiming and finishes its batches in hand, then the relays and pools close.
      logger.log('stopping: the batches in hand finish first', 'DeliveryWorker');
      const worker = app.get(DeliveryWorker);
      void app.close().then(() => {
        logger.log({ ...worker.totals }, 'delivery worker thread closed', 'DeliveryWorker');
        port.postMessage({ type: 'stopped' } satisfies FromWorkerThread);
        port.close();
      });
    }
  });
  port.postMessage({ type: 'ready', workerId: app.get(DeliveryWorker).workerId, threadId } satisfies FromWorkerThread);
}

if (!parentPort) throw new Error('src/worker-thread.ts runs as a worker thread (delivery/worker-thread.ts starts it)');
// A failed start is thrown: the thread ends with it, and its supervisor logs it and starts it again.
run(parentPort).catch((error: unknown) => {
  throw error;
});
