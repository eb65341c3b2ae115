import { MigrationInterface, QueryRunner } from 'typeorm';

// The operations page and /health read "mails sent in the last minute" and "hard bounces per day"
// (delivery-health.queries.ts): without an index each was a scan of the whole decision log, whose
// cost grows with the history (issue 21: every page as fast after a year as on day one). Two
// partial indexes make each a range read of what it counts: sent rows by sent_at (appended at the
// right edge as mails go), failed-on-bounce rows by updated_at (few).
//
// Built CONCURRENTLY, outside a transaction, so a large log keeps taking writes meanwhile; an
// earlier attempt that failed halfway left an invalid index, dropped first.
const INDEXES = [
  { name: 'deliveries_sent_at_idx', def: `ON deliveries (sent_at) WHERE status = 'sent'` },
  { name: 'deliveries_failed_bounced_idx', def: `ON deliveries (updated_at) WHERE status = 'failed' AND reason = 'failed_bounced'` },
];

export class HealthIndexes1767000200000 implements MigrationInterface {
  name = 'HealthIndexes1767000200000';
  transaction = false as const;

  async up(db: QueryRunner): Promise<void> {
    for (const { name, def } of INDEXES) {
      const [invalid] = await db.query(`SELECT 1 FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid WHERE c.relname = $1 AND NOT i.indisvalid`, [name]);
      if (invalid) await db.query(`DROP INDEX CONCURRENTLY ${name}`);
      await db.query(`CREATE INDEX CONCURRENTLY IF NOT EXISTS ${name} ${def}`);
    }
  }

  async down(db: QueryRunner): Promise<void> {
    for (const { name } of INDEXES) await db.query(`DROP INDEX CONCURRENTLY IF EXISTS ${name}`);
  }
}
