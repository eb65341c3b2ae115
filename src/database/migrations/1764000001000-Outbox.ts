import { MigrationInterface, QueryRunner } from 'typeorm';

// The outbox and decision log in one table (`deliveries`), paused recipient domains, processed
// webhook events (replay protection), and the double opt-in bookkeeping on subscribers.
export class Outbox1764000001000 implements MigrationInterface {
  name = 'Outbox1764000001000';

  async up(db: QueryRunner): Promise<void> {
    await db.query(`
      CREATE TABLE deliveries (
        id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        subscriber_id   uuid REFERENCES subscribers (id) ON DELETE CASCADE,
        to_address      text,                          -- only for sends to non-subscribers (test sends)
        class           text NOT NULL CHECK (class IN ('marketing', 'service', 'transactional')),
        kind            text NOT NULL,                 -- which message: confirm_subscription, campaign, digest, ...
        topic_id        uuid REFERENCES topics (id),
        ref_id          text,                          -- the campaign, shipment or registration it belongs to
        locale          text NOT NULL CHECK (locale IN ('de', 'en')),
        status          text NOT NULL CHECK (status IN ('queued', 'sending', 'sent', 'deferred', 'suppressed', 'expired', 'failed', 'unknown')),
        reason          text NOT NULL,
        idempotency_key text NOT NULL UNIQUE,
        payload         jsonb NOT NULL DEFAULT '{}'::jsonb,
        priority        smallint NOT NULL DEFAULT 0,
        attempts        int NOT NULL DEFAULT 0,
        unknown_outcomes int NOT NULL DEFAULT 0,       -- hand-overs whose SMTP reply never arrived
        next_attempt_at timestamptz NOT NULL,
        lease_owner     text,
        lease_until     timestamptz,
        message_id      text,
        smtp_response   text,
        created_at      timestamptz NOT NULL,
        updated_at      timestamptz NOT NULL,
        sent_at         timestamptz,
        CHECK (subscriber_id IS NOT NULL OR to_address IS NOT NULL)
      )`);
    // Work to claim, in order; partial so that the index holds only what is still to do.
    await db.query(`CREATE INDEX deliveries_due_idx ON deliveries (next_attempt_at) WHERE status = 'queued'`);
    await db.query(`CREATE INDEX deliveries_lease_idx ON deliveries (lease_until) WHERE status = 'sending'`);
    await db.query(`CREATE INDEX deliveries_subscriber_idx ON deliveries (subscriber_id, created_at DESC)`);
    await db.query(`CREATE INDEX deliveries_ref_idx ON deliveries (ref_id, status) WHERE ref_id IS NOT NULL`);

    await db.query(`
      CREATE TABLE domain_pauses (
        domain       text PRIMARY KEY,
        paused_until timestamptz NOT NULL,
        reason       text NOT NULL,
        created_at   timestamptz NOT NULL
      )`);

    await db.query(`
      CREATE TABLE webhook_events (
        source      text NOT NULL,
        event_id    text NOT NULL,
        received_at timestamptz NOT NULL,
        PRIMARY KEY (source, event_id)
      )`);

    await db.query(`
      ALTER TABLE subscribers
        ADD COLUMN confirmation_ip inet,
        ADD COLUMN confirmation_user_agent text,
        ADD COLUMN confirmation_reminded_at timestamptz`);
  }

  async down(db: QueryRunner): Promise<void> {
    await db.query(`ALTER TABLE subscribers DROP COLUMN confirmation_ip, DROP COLUMN confirmation_user_agent, DROP COLUMN confirmation_reminded_at`);
    await db.query(`DROP TABLE webhook_events, domain_pauses, deliveries`);
  }
}
