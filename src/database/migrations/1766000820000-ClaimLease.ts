import { MigrationInterface, QueryRunner } from 'typeorm';

// Crash recovery in seconds (issue 21, item 5): a claimed mail holds a short claim lease, renewed
// by its worker's heartbeat while it waits in the batch; right before its hand-over the worker
// stamps sending_started_at and takes the full lease (WORKER_LEASE_SECONDS). A dead worker's
// waiting mails are free again once the claim lease runs out, and go back to the queue as never
// sent; only the stamped ones count as an unknown outcome.
export class ClaimLease1766000820000 implements MigrationInterface {
  name = 'ClaimLease1766000820000';

  async up(db: QueryRunner): Promise<void> {
    await db.query(`ALTER TABLE deliveries ADD COLUMN sending_started_at timestamptz`);
  }

  async down(db: QueryRunner): Promise<void> {
    await db.query(`ALTER TABLE deliveries DROP COLUMN sending_started_at`);
  }
}
