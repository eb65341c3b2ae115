import { MigrationInterface, QueryRunner } from 'typeorm';

// The mail loop's inbound half. `mail_events` is the evidence of every bounce, complaint and
// unsubscribe that came back (a DSN over SMTP, an ARF report, a mail to the List-Unsubscribe
// mailto, a provider's webhook): which mail it was about, who sent word, what status code and
// diagnostic, and what Tactful did about it. The timeline reads it per subscriber; the soft-bounce
// policy counts it per address (by hash, like bounced_addresses: no address is kept here).
// `deliveries.message_id` gets an index: a DSN or a provider event that names only the
// Message-ID finds its delivery without scanning the decision log.
export class InboundMailEvents1766000300000 implements MigrationInterface {
  name = 'InboundMailEvents1766000300000';

  async up(db: QueryRunner): Promise<void> {
    await db.query(`CREATE INDEX deliveries_message_id_idx ON deliveries (message_id) WHERE message_id IS NOT NULL`);
    await db.query(`
      CREATE TABLE mail_events (
        id                bigserial PRIMARY KEY,
        subscriber_id     uuid REFERENCES subscribers (id) ON DELETE CASCADE,
        email_hash        bytea,
        kind              text NOT NULL CHECK (kind IN ('hard_bounce', 'soft_bounce', 'delayed', 'complaint', 'unsubscribe')),
        source            text NOT NULL CHECK (source IN ('smtp-dsn', 'arf', 'mailto', 'ses', 'sendgrid', 'postmark', 'mailgun', 'webhook')),
        outcome           text NOT NULL CHECK (outcome IN ('bounced', 'complained', 'unsubscribed', 'counted', 'noted', 'none')),
        delivery_id       bigint,
        message_id        text,
        status_code       text,
        diagnostic        text,
        provider_event_id text,
        occurred_at       timestamptz NOT NULL,
        received_at       timestamptz NOT NULL
      )`);
    await db.query(`CREATE INDEX mail_events_subscriber_idx ON mail_events (subscriber_id, id DESC) WHERE subscriber_id IS NOT NULL`);
    await db.query(`CREATE INDEX mail_events_soft_bounce_idx ON mail_events (email_hash, occurred_at) WHERE kind = 'soft_bounce'`);
    // Replay protection keeps provider event ids and tokens for a while, then prunes them by age.
    await db.query(`CREATE INDEX webhook_events_received_idx ON webhook_events (received_at)`);
    // Unsubscribes by mail: the person's mail client wrote to the List-Unsubscribe mailto
    // (`mail`), or the person unsubscribed through the sending provider (`mail_provider`).
    await db.query(`ALTER TABLE topic_subscriptions DROP CONSTRAINT topic_subscriptions_revocation_source_check`);
    await db.query(`
      ALTER TABLE topic_subscriptions ADD CONSTRAINT topic_subscriptions_revocation_source_check
        CHECK (revocation_source IN ('preferences_page', 'unsubscribe_link', 'feedback', 'api', 'mail', 'mail_provider'))`);
  }

  async down(db: QueryRunner): Promise<void> {
    await db.query(`UPDATE topic_subscriptions SET revocation_source = 'unsubscribe_link' WHERE revocation_source IN ('mail', 'mail_provider')`);
    await db.query(`ALTER TABLE topic_subscriptions DROP CONSTRAINT topic_subscriptions_revocation_source_check`);
    await db.query(`
      ALTER TABLE topic_subscriptions ADD CONSTRAINT topic_subscriptions_revocation_source_check
        CHECK (revocation_source IN ('preferences_page', 'unsubscribe_link', 'feedback', 'api'))`);
    await db.query(`DROP INDEX webhook_events_received_idx`);
    await db.query(`DROP TABLE mail_events`);
    await db.query(`DROP INDEX deliveries_message_id_idx`);
  }
}
