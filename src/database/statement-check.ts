// The start-up check: every registered statement (database/sql.ts) is parsed, analysed and
// type-checked by PostgreSQL against the schema the migrations left — PREPARE, then DEALLOCATE —
// without running it, so a broken statement stops the start instead of failing the first time a
// rare path runs it. All of them go in one simple-query message on one connection: one round trip.
import { Injectable, Logger, OnApplicationBootstrap } from '@nestjs/common';
import type { Pool, PoolClient } from 'pg';
import { runAs } from './connection-budgets';
import { Db } from './sql';
import { registeredStatements, Statement } from './statements';

export class BrokenStatementError extends Error {
  constructor(
    readonly statement: string,
    override readonly cause: Error,
  ) {
    super(`statement ${statement} does not fit the database schema: ${cause.message.split('\n')[0]}`);
    this.name = 'BrokenStatementError';
  }
}

type Checked = Pick<Statement<readonly unknown[], unknown>, 'name' | 'text'>;

/** `PREPARE tactful_check_<i> AS <text>` for each, then their DEALLOCATEs; the offset where each starts. */
function batch(statements: readonly Checked[]): { text: string; starts: number[] } {
  const parts: string[] = [];
  const starts: number[] = [];
  let length = 0;
  statements.forEach((statement, i) => {
    const part = `PREPARE tactful_check_${i} AS ${statement.text.replace(/;\s*$/, '')};\n`;
    starts.push(length);
    parts.push(part);
    length += part.length;
  });
  parts.push(statements.map((_, i) => `DEALLOCATE tactful_check_${i}`).join(';\n'));
  return { text: parts.join(''), starts };
}

/** Which statement of the batch a PostgreSQL error position (1-based, in characters) falls into. */
function at(starts: number[], position: number): number {
  let index = 0;
  while (index + 1 < starts.length && starts[index + 1] < position) index++;
  return index;
}

/**
 * Checks `statements` on one connection taken from `pool`; throws a BrokenStatementError naming
 * the first broken one. Returns how many were checked and how long it took.
 */
export async function checkStatements(
  pool: Pick<Pool, 'connect'>,
  statements: readonly Checked[] = registeredStatements(),
): Promise<{ count: number; ms: number }> {
  const started = performance.now();
  if (statements.length === 0) return { count: 0, ms: 0 };
  const client: PoolClient = await pool.connect();
  let failure: Error | undefined;
  try {
    const { text, starts } = batch(statements);
    try {
      await client.query(text);
    } catch (error) {
      failure = error as Error;
      const position = Number((error as { position?: string }).position);
      // Errors found by the parser or the analyser carry a position; a few (an undeterminable
      // parameter type) do not: then each statement again, alone, to find the one.
      if (Number.isFinite(position) && position > 0) throw new BrokenStatementError(statements[at(starts, position)].name, failure);
      for (const statement of statements) {
        try {
          await client.query(`PREPARE tactful_check_alone AS ${statement.text.replace(/;\s*$/, '')}`);
          await client.query(`DEALLOCATE tactful_check_alone`);
        } catch (alone) {
          throw new BrokenStatementError(statement.name, alone as Error);
        }
      }
      throw failure;
    }
  } finally {
    // After a failure some check statements may still be prepared on the connection: drop it.
    client.release(failure);
  }
  return { count: statements.length, ms: performance.now() - started };
}

/** Runs the check when the app starts (after the migrations, before it listens). */
@Injectable()
export class StatementCheck implements OnApplicationBootstrap {
  private readonly logger = new Logger('Sql');

  constructor(private readonly db: Db) {}

  async onApplicationBootstrap(): Promise<void> {
    const { count, ms } = await runAs('api', () => checkStatements(this.db.pool()));
    this.logger.log(`checked ${count} statements against the schema in ${ms.toFixed(1)} ms`);
  }
}
