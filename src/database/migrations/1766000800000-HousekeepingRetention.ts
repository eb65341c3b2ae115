import { MigrationInterface, QueryRunner } from 'typeorm';

// Every housekeeping table has a retention (docs/SCALING.md); the scheduler's prune-housekeeping
// job deletes what is past it in short batches, each found through one of these indexes.
export class HousekeepingRetention1766000800000 implements MigrationInterface {
  name = 'HousekeepingRetention1766000800000';

  async up(db: QueryRunner): Promise<void> {
    await db.query(`CREATE INDEX webhook_events_received_at_idx ON webhook_events (received_at)`);
    // A cadence record is read only while its window can still overlap a new mail's.
    await db.query(`CREATE INDEX marketing_sends_ends_idx ON marketing_sends (upper(during))`);
    // The newest run of each job is kept whatever its age (when did it last run?).
    await db.query(`CREATE INDEX scheduler_runs_job_idx ON scheduler_runs (job, id)`);
  }

  async down(db: QueryRunner): Promise<void> {
    await db.query(`DROP INDEX scheduler_runs_job_idx, marketing_sends_ends_idx, webhook_events_received_at_idx`);
  }
}
