// Every thread of an instance runs on PostgreSQL's time (see DatabaseClock): synced before it
// starts work, then every minute.
import { Client } from 'pg';
import { DatabaseClock } from './clock';
import { DatabaseQueries } from '../database/database.queries';
import { Db } from '../database/sql';

const CLOCK_SYNC_MS = 60_000;

export async function databaseClock(databaseUrl: string): Promise<DatabaseClock> {
  const clock = new DatabaseClock();
  const client = new Client({ connectionString: databaseUrl });
  await client.connect();
  try {
    await clock.sync(async () => Number((await client.query(DatabaseQueries.clock.text)).rows[0].ms));
  } finally {
    await client.end();
  }
  return clock;
}

interface ClockLogger {
  warn(fields: Record<string, unknown>, message: string): void;
}

/** `reportOffset`: warn about a large offset (once per instance: the worker thread leaves it to the main thread). */
export function keepClockSynced(db: Db, logger: ClockLogger, clock: DatabaseClock, reportOffset = true): void {
  const report = (offsetMs: number) => {
    if (reportOffset && Math.abs(offsetMs) >= 1_000)
      logger.warn({ offsetMs }, "this host's clock differs from PostgreSQL's; Tactful runs on PostgreSQL's time");
  };
  report(clock.offset);
  clock.keepSynced(async () => Number((await db.row(DatabaseQueries.clock, []))!.ms), CLOCK_SYNC_MS, {
    synced: report,
    failed: (error) => logger.warn({ err: error }, 'clock sync with PostgreSQL failed; keeping the last offset'),
  });
}
