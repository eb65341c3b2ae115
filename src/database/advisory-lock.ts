// Runs a job only where this instance wins a PostgreSQL advisory lock: with N instances ticking
// the same cron, exactly one does the work and the others skip at once (no waiting).
import { DataSource } from 'typeorm';
import { DatabaseQueries as Q } from './database.queries';
import { Db } from './sql';

export async function withAdvisoryLock<T>(db: Db | DataSource, name: string, job: () => Promise<T>): Promise<{ ran: true; result: T } | { ran: false }> {
  const sql = db instanceof Db ? db : new Db(db);
  return sql.session(async (session) => {
    const { locked } = (await session.row(Q.tryAdvisoryLock, [name]))!;
    if (!locked) return { ran: false };
    try {
      return { ran: true, result: await job() };
    } finally {
      await session.run(Q.advisoryUnlock, [name]);
    }
  });
}
