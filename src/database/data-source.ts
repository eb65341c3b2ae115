// TypeORM connection options, shared by the app and the migration runner.
import { DataSource, DataSourceOptions, EntitySchema } from 'typeorm';
import { budgetedDriver, PoolBudgets } from './connection-budgets';
import { DatabaseQueries as Q } from './database.queries';
import { MIGRATIONS } from './migration-list';

/**
 * `pools`: one pool of that size, or the app's connection budgets (one pool per class of work).
 * `entities`: the app's entity list (src/entity-list.ts), passed in so that database/ imports no
 * domain module; the migration runner needs none.
 */
// eslint-disable-next-line @typescript-eslint/no-unsafe-function-type -- TypeORM's own type for an entity class
export function dataSourceOptions(url: string, pools: number | PoolBudgets = 10, entities: (Function | EntitySchema)[] = []): DataSourceOptions {
  const budgeted = typeof pools === 'number' ? {} : { driver: budgetedDriver(pools) };
  return {
    type: 'postgres',
    url,
    entities,
    migrations: MIGRATIONS,
    migrationsTableName: 'migrations',
    synchronize: false,
    migrationsRun: false,
    extra: typeof pools === 'number' ? { max: pools, application_name: 'tactful' } : {},
    ...budgeted,
  };
}

const MIGRATION_LOCK = 'tactful:migrations';
const MIGRATION_LOCK_POLL_MS = 200;

/** Migrations run under a PostgreSQL advisory lock, so several instances may start at once. */
export async function runMigrations(url: string): Promise<string[]> {
  const dataSource = new DataSource({ ...dataSourceOptions(url, 2), logging: false });
  await dataSource.initialize();
  const runner = dataSource.createQueryRunner();
  try {
    // Waits by asking again rather than blocking in pg_advisory_lock(): a session blocked in a
    // statement holds a snapshot, and CREATE INDEX CONCURRENTLY (a migration outside a
    // transaction) waits until every older snapshot is gone, a waiting instance's included, while
    // that instance waits for this one: both would hang. Between tries nothing is held.
    while (!(await runner.query(Q.tryAdvisoryLock.text, [MIGRATION_LOCK]))[0].locked) {
      await new Promise((resolve) => setTimeout(resolve, MIGRATION_LOCK_POLL_MS));
    }
    const applied = await dataSource.runMigrations({ transaction: 'each' });
    return applied.map((m) => m.name);
  } finally {
    await runner.query(Q.advisoryUnlock.text, [MIGRATION_LOCK]).catch(() => undefined);
    await runner.release();
    await dataSource.destroy();
  }
}
