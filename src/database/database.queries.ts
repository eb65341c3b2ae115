// Statements of the database layer itself: reachability, PostgreSQL's clock, advisory locks
// (docs/SQL.md). Migrations' own DDL lives in database/migrations.
import { queries, sql } from './statements';

export const DatabaseQueries = queries('database', {
  ping: sql<[]>('/health: PostgreSQL answers at all (no table, so a locked or bloated one cannot slow the probe).', `SELECT 1`),
  clock: sql<[], { ms: number }>(
    "Every instance runs on PostgreSQL's time (common/clock.ts DatabaseClock): clock_timestamp(), not now(), so a long transaction does not hold it back.",
    `SELECT (extract(epoch FROM clock_timestamp()) * 1000)::float8 AS ms`,
  ),
  tryAdvisoryLock: sql<[name: string], { locked: boolean }>(
    'A job runs only where this instance wins the lock; the others skip at once rather than wait (session lock, released below). Migrations ask again until they win it (data-source.ts).',
    `SELECT pg_try_advisory_lock(hashtext($1)) AS locked`,
  ),
  advisoryUnlock: sql<[name: string]>('Releases a session advisory lock taken above.', `SELECT pg_advisory_unlock(hashtext($1))`),
  readOnly: sql<[], { set_config: string }>(
    "Makes the transaction read only (Db.transaction's readOnly), before its work: set_config() because SET TRANSACTION is not a statement PostgreSQL can prepare (nor check at start-up).",
    `SELECT set_config('transaction_read_only', 'on', true)`,
  ),
  timeZoneNames: sql<[], { name: string }>(
    "The IANA zones PostgreSQL knows: a subscriber's zone must be one both Node and PostgreSQL can compute with (common/time-zones.ts).",
    `SELECT name FROM pg_timezone_names`,
  ),
});

/**
 * Transaction control for Db.transaction's beginWithFirstStatement (sql.ts), which prepares it on
 * the wire and binds it ahead of the first statement. Not a `Statement`: PREPARE takes no BEGIN,
 * so the start-up check has nothing to check.
 */
export const BEGIN_TEXT = 'BEGIN';

/**
 * The COMMIT that `Tx.rowThenCommit`/`runThenCommit` (sql.ts) binds behind a transaction's last
 * statement, prepared on the wire as BEGIN_TEXT is; not a `Statement` for the same reason.
 */
export const COMMIT_TEXT = 'COMMIT';
