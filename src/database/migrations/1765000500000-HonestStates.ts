import { MigrationInterface, QueryRunner } from 'typeorm';

// States named for what they are (src/campaigns/campaign-state.policy.ts).
//
// Campaigns: `sending` used to mean "deciding" and `sent` "every customer decided", while most of
// the mails could still be queued. Now: dispatching (deciding), sending (decided, mails queued or
// being handed over), completed (nothing of it left in the outbox). Stored rows move over:
// sending -> dispatching; sent -> sending while any of its mails still waits, else completed
// (completed_at: when its dispatch finished; the moment of the last hand-over was not recorded).
// finished_at keeps its meaning, the end of the dispatch (the API's dispatchedAt). `progress`
// holds the final counts, stored by the campaign-progress job once a campaign settles; the
// campaigns without them yet are few and found through campaigns_open_idx.
//
// Deliveries: a mail waiting for the end of quiet hours is queued, not suppressed:
// suppressed_quiet_hours -> queued_quiet_hours. Only rows still waiting carry it (sending and the
// gate give every row a new reason), so only queued and sending rows are rewritten, through their
// partial indexes; anything else with the old value reads as the new one (readReason()).
export class HonestStates1765000500000 implements MigrationInterface {
  name = 'HonestStates1765000500000';

  async up(db: QueryRunner): Promise<void> {
    await db.query(`ALTER TABLE campaigns DROP CONSTRAINT campaigns_status_check`);
    await db.query(`ALTER TABLE campaigns ADD COLUMN completed_at timestamptz, ADD COLUMN progress jsonb`);
    await db.query(`UPDATE campaigns SET status = 'dispatching' WHERE status = 'sending'`);
    await db.query(`
      UPDATE campaigns c SET status = 'sending' WHERE c.status = 'sent'
        AND EXISTS (SELECT 1 FROM deliveries d WHERE d.ref_id = c.id::text AND d.status IN ('queued', 'sending') AND d.kind = 'campaign')`);
    await db.query(`UPDATE campaigns SET status = 'completed', completed_at = coalesce(finished_at, updated_at) WHERE status = 'sent'`);
    await db.query(`
      ALTER TABLE campaigns ADD CONSTRAINT campaigns_status_check
        CHECK (status IN ('draft', 'scheduled', 'dispatching', 'sending', 'completed', 'cancelled'))`);
    await db.query(`DROP INDEX campaigns_due_idx`);
    await db.query(`CREATE INDEX campaigns_due_idx ON campaigns (send_at) WHERE status IN ('scheduled', 'dispatching')`);
    await db.query(
      `CREATE INDEX campaigns_open_idx ON campaigns (id) WHERE progress IS NULL AND status IN ('dispatching', 'sending', 'completed', 'cancelled')`,
    );

    await db.query(`UPDATE deliveries SET reason = 'queued_quiet_hours' WHERE status IN ('queued', 'sending') AND reason = 'suppressed_quiet_hours'`);
  }

  async down(db: QueryRunner): Promise<void> {
    await db.query(`UPDATE deliveries SET reason = 'suppressed_quiet_hours' WHERE status IN ('queued', 'sending') AND reason = 'queued_quiet_hours'`);
    await db.query(`DROP INDEX campaigns_open_idx`);
    await db.query(`DROP INDEX campaigns_due_idx`);
    await db.query(`ALTER TABLE campaigns DROP CONSTRAINT campaigns_status_check`);
    await db.query(`UPDATE campaigns SET status = 'sent' WHERE status IN ('sending', 'completed')`);
    await db.query(`UPDATE campaigns SET status = 'sending' WHERE status = 'dispatching'`);
    await db.query(`ALTER TABLE campaigns ADD CONSTRAINT campaigns_status_check CHECK (status IN ('draft', 'scheduled', 'sending', 'sent', 'cancelled'))`);
    await db.query(`CREATE INDEX campaigns_due_idx ON campaigns (send_at) WHERE status IN ('scheduled', 'sending')`);
    await db.query(`ALTER TABLE campaigns DROP COLUMN completed_at, DROP COLUMN progress`);
  }
}
