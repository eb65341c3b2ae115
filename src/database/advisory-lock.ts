// Runs a job only where this instance wins a PostgreSQL advisory lock: with N instances ticking
// the same cron, exactly one does the work and the others skip at once (no waiting).
import { DataSource } from 'typeorm';

export async function withAdvisoryLock<T>(db: DataSource, name: string, job: () => Promise<T>): Promise<{ ran: true; result: T } | { ran: false }> {
  const runner = db.createQueryRunner();
  await runner.connect();
  try {
    const [{ locked }] = await runner.query(`SELECT pg_try_advisory_lock(hashtext($1)) AS locked`, [name]);
    if (!locked) return { ran: false };
    try {
      return { ran: true, result: await job() };
    } finally {
      await runner.query(`SELECT pg_advisory_unlock(hashtext($1))`, [name]);
    }
  } finally {
    await runner.release();
  }
}
