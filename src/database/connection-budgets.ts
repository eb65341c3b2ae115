// Each class of work has a PostgreSQL pool of its own, so no class can take the connections
// another needs: twenty heavy dry runs, a dozen stalled imports or a slow scheduler job never
// leave /health, the delivery worker or ordinary API requests without a connection. Every session
// gets a statement_timeout and an idle_in_transaction_session_timeout, so nothing holds a
// connection (or the locks of a transaction) forever.
//
// The class travels with the work in AsyncLocalStorage: an HTTP request's is set by its route
// (common/work-classes.ts), the worker's and the scheduler's by runAs() around each tick; work
// outside any class (start-up, the clock sync) counts as 'api'. TypeORM sees one pg-compatible
// Pool (its `driver` option) that hands each connect() and query() to the pool of the current
// class, so no service needs to know which pool it runs on.
import { AsyncLocalStorage } from 'node:async_hooks';
import { EventEmitter } from 'node:events';
import pg from 'pg';
import type { AppConfig } from '../config/config';

export const WORK_CLASSES = ['api', 'reports', 'import', 'worker', 'scheduler', 'health', 'inbound'] as const;
/**
 * api: ordinary requests; reports: the costly read-only aggregates (audience dry run, stats);
 * import: subscriber imports; worker: the outbox worker; scheduler: cron jobs; health: /health only;
 * inbound: bounces, complaints and unsubscribes coming back (provider webhooks, the inbound SMTP
 * receiver), so a burst of them after a large campaign never takes the API's connections.
 */
export type WorkClass = (typeof WORK_CLASSES)[number];

export interface PoolBudget {
  /** Most connections the class holds at once. */
  max: number;
  /** statement_timeout of the class's sessions. */
  statementTimeoutMs: number;
  /** idle_in_transaction_session_timeout of the class's sessions: PostgreSQL ends a transaction left waiting this long. */
  idleInTransactionTimeoutMs: number;
  /** How long a caller waits for a free connection before it gets an error (see isPoolExhausted). */
  waitMs: number;
  /** More session settings (`name = value`), set when each connection opens. */
  settings?: readonly string[];
}

/**
 * The worker's sessions plan without sorts where another plan exists. Its claim takes the earliest
 * due rows of the decision log, whose months are partitions: the ordered way is a Merge Append of
 * each month's due index, which stops after the batch. Right after a bulk insert (a dispatch, a
 * digest run) the month's statistics still say hardly any row is queued, and the planner then
 * prefers to collect every due row and sort them for the LIMIT: a claim of 500 sorted a million
 * rows (bench/history.js: 1,100 instead of 30,000 rows/s). The worker's other statements find
 * rows by key; none needs a sort to be fast. And no JIT: a sort the plan cannot avoid (the claim's
 * ORDER BY id over its 500 rows) now carries the planner's penalty cost, which passes
 * jit_above_cost, and compiling the expressions of every month's scans took 1.2 s a claim, for
 * statements that run in milliseconds.
 */
export const WORKER_SESSION_SETTINGS = ['enable_sort = off', 'jit = off'] as const;

export type PoolBudgets = Record<WorkClass, PoolBudget>;

/** /health gets two connections of its own and a short leash: a probe must answer, not queue. */
const HEALTH_POOL_SIZE = 2;
const HEALTH_TIMEOUT_MS = 5_000;
/** The worker, the scheduler and imports queue rather than fail fast, but not forever. */
const BACKGROUND_WAIT_MS = 60_000;

export function poolBudgets(
  config: Pick<
    AppConfig,
    | 'dbPoolSize'
    | 'dbReportsPoolSize'
    | 'dbImportPoolSize'
    | 'dbWorkerPoolSize'
    | 'dbSchedulerPoolSize'
    | 'dbInboundPoolSize'
    | 'dbStatementTimeoutMs'
    | 'dbJobStatementTimeoutMs'
    | 'dbIdleInTransactionTimeoutMs'
    | 'dbPoolWaitMs'
    | 'workerLeaseSeconds'
  >,
): PoolBudgets {
  const request = {
    statementTimeoutMs: config.dbStatementTimeoutMs,
    idleInTransactionTimeoutMs: config.dbIdleInTransactionTimeoutMs,
    waitMs: config.dbPoolWaitMs,
  };
  // A hand-over keeps its transaction open while SMTP answers and may wait for a subscriber's
  // hand-over turn behind another one: up to a lease, after which lease recovery takes over anyway.
  const leaseMs = config.workerLeaseSeconds * 1000;
  return {
    api: { max: config.dbPoolSize, ...request },
    reports: { max: config.dbReportsPoolSize, ...request },
    inbound: { max: config.dbInboundPoolSize, ...request },
    // An import has received its whole upload by the time it wants its transaction: rather wait a
    // while for one of the few import connections than fail after the client sent it all.
    import: { max: config.dbImportPoolSize, ...request, waitMs: Math.max(config.dbPoolWaitMs, BACKGROUND_WAIT_MS) },
    health: {
      max: HEALTH_POOL_SIZE,
      statementTimeoutMs: Math.min(HEALTH_TIMEOUT_MS, config.dbStatementTimeoutMs),
      idleInTransactionTimeoutMs: Math.min(HEALTH_TIMEOUT_MS, config.dbIdleInTransactionTimeoutMs),
      waitMs: Math.min(HEALTH_TIMEOUT_MS, config.dbPoolWaitMs),
    },
    worker: {
      max: config.dbWorkerPoolSize,
      statementTimeoutMs: Math.max(config.dbStatementTimeoutMs, leaseMs),
      idleInTransactionTimeoutMs: Math.max(config.dbIdleInTransactionTimeoutMs, leaseMs),
      waitMs: BACKGROUND_WAIT_MS,
      settings: WORKER_SESSION_SETTINGS,
    },
    // Dispatching a campaign to a million subscribers is one long statement per batch.
    scheduler: {
      max: config.dbSchedulerPoolSize,
      statementTimeoutMs: config.dbJobStatementTimeoutMs,
      idleInTransactionTimeoutMs: config.dbIdleInTransactionTimeoutMs,
      waitMs: BACKGROUND_WAIT_MS,
    },
  };
}

const current = new AsyncLocalStorage<WorkClass>();

/** Runs `work` (and everything it starts) on the connection budget of `workClass`. */
export function runAs<T>(workClass: WorkClass, work: () => T): T {
  return current.run(workClass, work);
}

export function currentWorkClass(): WorkClass {
  return current.getStore() ?? 'api';
}

export interface PoolStats {
  max: number;
  /** Connections open (idle or in use). */
  total: number;
  idle: number;
  /** Callers waiting for a connection. */
  waiting: number;
}

/** The session settings every connection of a budget starts with. */
export function sessionSettings(budget: PoolBudget): string {
  return (
    `SET statement_timeout = ${Math.trunc(budget.statementTimeoutMs)}; ` +
    `SET idle_in_transaction_session_timeout = ${Math.trunc(budget.idleInTransactionTimeoutMs)}` +
    (budget.settings ?? []).map((setting) => `; SET ${setting}`).join('')
  );
}

/**
 * One pg Pool per work class behind the subset of pg.Pool that TypeORM and the named statements
 * (database/sql.ts) use: connect(), query(), end(), 'error'.
 */
export class BudgetedPool extends EventEmitter {
  private readonly pools = new Map<WorkClass, pg.Pool>();

  constructor(options: pg.PoolConfig, budgets: PoolBudgets) {
    super();
    for (const workClass of WORK_CLASSES) {
      const budget = budgets[workClass];
      const pool = new pg.Pool({
        ...options,
        // Visible in pg_stat_activity; an application_name in DATABASE_URL still wins (pg prefers the URL's).
        application_name: options.application_name ?? `tactful:${workClass}`,
        max: budget.max,
        connectionTimeoutMillis: budget.waitMs,
        // SET rather than startup parameters: a pooler in session mode (PgBouncer) refuses unknown
        // startup parameters. pg-pool hands the client out once this has finished (a failure ends
        // the client and fails the connect), so the caller's first query never runs without them.
        onConnect: async (client: pg.ClientBase) => {
          await client.query(sessionSettings(budget));
        },
      });
      pool.on('error', (error) => this.emit('error', error));
      this.pools.set(workClass, pool);
    }
  }

  /** The pool of the work running now. */
  pool(workClass: WorkClass = currentWorkClass()): pg.Pool {
    return this.pools.get(workClass)!;
  }

  connect(...args: unknown[]): unknown {
    return (this.pool().connect as (...a: unknown[]) => unknown)(...args);
  }

  query(...args: unknown[]): unknown {
    return (this.pool().query as (...a: unknown[]) => unknown)(...args);
  }

  end(callback?: (error?: Error) => void): Promise<void> {
    const ended = Promise.all([...this.pools.values()].map((pool) => pool.end())).then(() => undefined);
    if (callback) ended.then(() => callback(), callback);
    return ended;
  }

  stats(): Record<WorkClass, PoolStats> {
    const out = {} as Record<WorkClass, PoolStats>;
    for (const [workClass, pool] of this.pools) {
      out[workClass] = { max: pool.options.max, total: pool.totalCount, idle: pool.idleCount, waiting: pool.waitingCount };
    }
    return out;
  }
}

/** The `pg` module as TypeORM's `driver` option, with its Pool replaced by a BudgetedPool. */
export function budgetedDriver(budgets: PoolBudgets): typeof pg {
  class Pool extends BudgetedPool {
    constructor(options: pg.PoolConfig) {
      super(options, budgets);
    }
  }
  return Object.create(pg, { Pool: { value: Pool, enumerable: true } }) as typeof pg;
}

/** The BudgetedPool behind a TypeORM DataSource (undefined when it was built without budgets). */
export function budgetedPoolOf(dataSource: { driver: unknown }): BudgetedPool | undefined {
  const master = (dataSource.driver as { master?: unknown }).master;
  return master instanceof BudgetedPool ? master : undefined;
}
