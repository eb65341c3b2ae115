import { MigrationInterface, QueryRunner } from 'typeorm';

// Mail streams (src/delivery/mail-relays.ts). The service stream (service and transactional mail)
// is claimed apart from marketing: its own partial index finds a due order confirmation at once,
// however many marketing rows are due before it in deliveries_due_idx. Only service rows are
// written to it, so a campaign's enqueue pays nothing for it.
//
// relay_paces: one row per relay, the next free send slot. Every instance reserves its slots
// there (relay-pacer.ts), so a relay's rate limit holds across all of them.
export class MailStreams1766000400000 implements MigrationInterface {
  name = 'MailStreams1766000400000';

  async up(db: QueryRunner): Promise<void> {
    await db.query(`CREATE INDEX deliveries_due_service_idx ON deliveries (next_attempt_at) WHERE status = 'queued' AND class <> 'marketing'`);
    await db.query(`
      CREATE TABLE relay_paces (
        relay text PRIMARY KEY,
        next_slot_at timestamptz NOT NULL
      )`);
  }

  async down(db: QueryRunner): Promise<void> {
    await db.query(`DROP TABLE relay_paces`);
    await db.query(`DROP INDEX deliveries_due_service_idx`);
  }
}
