import { MigrationInterface, QueryRunner } from 'typeorm';

// The foundation: API keys, the topic taxonomy, subscribers with per-topic consent, and the
// suppression list that keeps erased people from being re-imported without new consent.
export class Foundation1764000000000 implements MigrationInterface {
  name = 'Foundation1764000000000';

  async up(db: QueryRunner): Promise<void> {
    await db.query(`
      CREATE TABLE api_keys (
        id           uuid PRIMARY KEY DEFAULT gen_random_uuid(),
        name         text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
        prefix       text NOT NULL,
        key_hash     bytea NOT NULL UNIQUE,              -- sha256 of the whole key; the key itself is never stored
        scopes       text[] NOT NULL CHECK (cardinality(scopes) > 0),
        created_at   timestamptz NOT NULL DEFAULT now(),
        last_used_at timestamptz,
        revoked_at   timestamptz
      )`);

    await db.query(`
      CREATE TABLE topics (
        id             uuid PRIMARY KEY DEFAULT gen_random_uuid(),
        key            text NOT NULL UNIQUE CHECK (key ~ '^[a-z0-9][a-z0-9-]{0,62}$'),
        name_de        text NOT NULL,
        name_en        text NOT NULL,
        description_de text NOT NULL DEFAULT '',
        description_en text NOT NULL DEFAULT '',
        audience_hint  text NOT NULL DEFAULT '',
        archived       boolean NOT NULL DEFAULT false,
        created_at     timestamptz NOT NULL DEFAULT now(),
        updated_at     timestamptz NOT NULL DEFAULT now()
      )`);

    await db.query(`
      CREATE TABLE subscribers (
        id                uuid PRIMARY KEY DEFAULT gen_random_uuid(),
        email             text NOT NULL UNIQUE CHECK (email = lower(email) AND position('@' in email) > 1),
        locale            text NOT NULL CHECK (locale IN ('de', 'en')),
        time_zone         text NOT NULL,
        cadence           text NOT NULL CHECK (cadence IN ('weekly', 'biweekly')),
        status            text NOT NULL CHECK (status IN ('pending', 'active', 'paused', 'unsubscribed', 'bounced', 'complained')),
        attributes        jsonb NOT NULL DEFAULT '{}'::jsonb CHECK (jsonb_typeof(attributes) = 'object'),
        digest_weekday    smallint NOT NULL DEFAULT 1 CHECK (digest_weekday BETWEEN 1 AND 7),  -- ISO: 1 = Monday
        digest_hour       smallint NOT NULL DEFAULT 9 CHECK (digest_hour BETWEEN 0 AND 23),
        paused_until      timestamptz,
        source            text NOT NULL CHECK (source IN ('api', 'import', 'form', 'webinar')),
        confirmed_at      timestamptz,                  -- double opt-in completed
        status_changed_at timestamptz NOT NULL DEFAULT now(),
        created_at        timestamptz NOT NULL DEFAULT now(),
        updated_at        timestamptz NOT NULL DEFAULT now()
      )`);
    await db.query(`CREATE INDEX subscribers_status_idx ON subscribers (status, id)`);

    // One row per (subscriber, topic): the consent record for that topic.
    await db.query(`
      CREATE TABLE topic_subscriptions (
        subscriber_id        uuid NOT NULL REFERENCES subscribers (id) ON DELETE CASCADE,
        topic_id             uuid NOT NULL REFERENCES topics (id) ON DELETE RESTRICT,
        status               text NOT NULL CHECK (status IN ('pending', 'confirmed', 'revoked')),
        consented_at         timestamptz NOT NULL,
        consent_source       text NOT NULL CHECK (consent_source IN ('api', 'import', 'form', 'webinar')),
        consent_ip           inet,
        consent_user_agent   text,
        consent_text_version text,
        confirmed_at         timestamptz,
        revoked_at           timestamptz,
        PRIMARY KEY (subscriber_id, topic_id),
        CHECK (status <> 'confirmed' OR confirmed_at IS NOT NULL)
      )`);
    // Audience resolution walks a topic's confirmed subscribers.
    await db.query(`CREATE INDEX topic_subscriptions_audience_idx ON topic_subscriptions (topic_id, subscriber_id) WHERE status = 'confirmed'`);

    // Erased people: only a hash of the address is kept, so a later import cannot re-add them silently.
    await db.query(`
      CREATE TABLE suppressions (
        email_hash bytea PRIMARY KEY,
        reason     text NOT NULL CHECK (reason IN ('erased')),
        created_at timestamptz NOT NULL DEFAULT now()
      )`);
  }

  async down(db: QueryRunner): Promise<void> {
    await db.query(`DROP TABLE suppressions, topic_subscriptions, subscribers, topics, api_keys`);
  }
}
