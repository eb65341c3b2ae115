import { MigrationInterface, QueryRunner } from 'typeorm';

// Mail streams (src/delivery/mail-relays.ts). The service stream (service and transactional mail)
// is claimed apart from marketing: its own partial index finds a due order confirmation at once,
// however many marketing rows are due before it in deliveries_due_idx. Only service rows are
// written to it, so a campaign's enqueue pays nothing for it.
//
// relay_paces: one row per relay, the next free send slot. Every instance reserves its slots
// there (relay-pacer.ts), so a relay's rate limit holds across all of them. The reservation is a
// function so that "now" is read after the row lock is granted (clock_timestamp(), not the
// statement's start): a reservation that waited for the lock must not start its slots in the past.
export class MailStreams1766000400000 implements MigrationInterface {
  name = 'MailStreams1766000400000';

  async up(db: QueryRunner): Promise<void> {
    await db.query(`CREATE INDEX deliveries_due_service_idx ON deliveries (next_attempt_at) WHERE status = 'queued' AND class <> 'marketing'`);
    await db.query(`
      CREATE TABLE relay_paces (
        relay text PRIMARY KEY,
        next_slot_at timestamptz NOT NULL
      )`);
    // Up to `wanted` slots 1/rate seconds apart, starting at the relay's next free slot but not
    // before now, and none later than now + horizon. Returns how many, the first one and now.
    await db.query(`
      CREATE FUNCTION reserve_relay_slots(p_relay text, p_wanted int, p_rate float8, p_horizon_seconds float8,
                                          OUT granted int, OUT first_slot_at timestamptz, OUT reserved_at timestamptz)
      LANGUAGE plpgsql AS $$
      DECLARE
        next_free timestamptz;
      BEGIN
        INSERT INTO relay_paces (relay, next_slot_at) VALUES (p_relay, '-infinity') ON CONFLICT (relay) DO NOTHING;
        SELECT next_slot_at INTO next_free FROM relay_paces WHERE relay = p_relay FOR UPDATE;
        reserved_at := clock_timestamp();
        first_slot_at := GREATEST(next_free, reserved_at);
        granted := LEAST(p_wanted, GREATEST(0, floor(
          extract(epoch FROM (reserved_at - first_slot_at)) * p_rate + p_horizon_seconds * p_rate + 1e-9)::int));
        UPDATE relay_paces SET next_slot_at = first_slot_at + make_interval(secs => granted / p_rate) WHERE relay = p_relay;
      END $$`);
  }

  async down(db: QueryRunner): Promise<void> {
    await db.query(`DROP FUNCTION reserve_relay_slots(text, int, float8, float8)`);
    await db.query(`DROP TABLE relay_paces`);
    await db.query(`DROP INDEX deliveries_due_service_idx`);
  }
}
