import { MigrationInterface, QueryRunner } from 'typeorm';

// Stored Idempotency-Key responses are kept IDEMPOTENCY_RETENTION_HOURS (24 by default); the
// scheduler's prune job deletes older ones in batches by creation time.
export class IdempotencyRetention1765000300000 implements MigrationInterface {
  name = 'IdempotencyRetention1765000300000';

  async up(db: QueryRunner): Promise<void> {
    await db.query(`CREATE INDEX idempotency_keys_created_at_idx ON idempotency_keys (created_at)`);
  }

  async down(db: QueryRunner): Promise<void> {
    await db.query(`DROP INDEX idempotency_keys_created_at_idx`);
  }
}
