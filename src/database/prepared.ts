// Bridge for code not converted yet (docs/SQL.md): the old helper that ran a text as a named
// prepared statement, now through the one executor (sql.ts) as an ad-hoc prepared `Statement`.
// Such a text is not registered, so the start-up check does not see it: its only callers left are
// in delivery/delivery-worker.ts, and it goes when they move into a queries file.
import { createHash } from 'node:crypto';
import { EntityManager } from 'typeorm';
import { sqlOf } from './sql';
import type { Statement } from './statements';

/** One statement per text: pg refuses a second text under a name it has prepared on a connection. */
const statements = new Map<string, Statement<unknown[], unknown>>();

/** Runs `text` as a named prepared statement on the manager's transaction (on the pool outside one). */
export async function runPrepared<T = Record<string, any>>(manager: EntityManager, text: string, values: unknown[]): Promise<T[]> {
  let statement = statements.get(text);
  if (!statement) {
    const name = `unconverted_${createHash('sha1').update(text).digest('hex').slice(0, 20)}`;
    statement = Object.freeze({ name, why: 'Not converted yet (docs/SQL.md).', text, prepared: true });
    statements.set(text, statement);
  }
  return (await sqlOf(manager).rows(statement, values)) as T[];
}
