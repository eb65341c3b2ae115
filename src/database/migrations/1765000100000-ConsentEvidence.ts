import { MigrationInterface, QueryRunner } from 'typeorm';

// Who changed a consent record: the person on their own page (source `preferences_page`, with the
// IP address and user agent of their browser) or an API key (source `api`, with the key's id), and
// the same for a revocation (`revocation_source`: the preferences page, the one-click unsubscribe
// link, the "drop this topic?" answer, or an API key). Older rows keep what they had: `form` on a
// record written by the preferences page before this migration, no revocation source.
// Keys are revoked, never deleted, so an id here always still names its key; no foreign key, so
// an import's insert does not probe api_keys per row.
export class ConsentEvidence1765000100000 implements MigrationInterface {
  name = 'ConsentEvidence1765000100000';

  async up(db: QueryRunner): Promise<void> {
    await db.query(`ALTER TABLE topic_subscriptions DROP CONSTRAINT topic_subscriptions_consent_source_check`);
    await db.query(`
      ALTER TABLE topic_subscriptions
        ADD CONSTRAINT topic_subscriptions_consent_source_check
          CHECK (consent_source IN ('api', 'import', 'form', 'webinar', 'preferences_page')) NOT VALID,
        ADD COLUMN consent_api_key_id uuid,
        ADD COLUMN revocation_source  text CHECK (revocation_source IN ('preferences_page', 'unsubscribe_link', 'feedback', 'api')),
        ADD COLUMN revoked_api_key_id uuid`);
    // The new list holds every value of the old one: validating only reads.
    await db.query(`ALTER TABLE topic_subscriptions VALIDATE CONSTRAINT topic_subscriptions_consent_source_check`);
  }

  async down(db: QueryRunner): Promise<void> {
    await db.query(`UPDATE topic_subscriptions SET consent_source = 'form' WHERE consent_source = 'preferences_page'`);
    await db.query(`ALTER TABLE topic_subscriptions DROP CONSTRAINT topic_subscriptions_consent_source_check`);
    await db.query(`
      ALTER TABLE topic_subscriptions
        DROP COLUMN consent_api_key_id, DROP COLUMN revocation_source, DROP COLUMN revoked_api_key_id,
        ADD CONSTRAINT topic_subscriptions_consent_source_check CHECK (consent_source IN ('api', 'import', 'form', 'webinar'))`);
  }
}
