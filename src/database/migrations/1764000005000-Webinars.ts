import { MigrationInterface, QueryRunner } from 'typeorm';

// Webinars, their series and registrations.
// - A registration is the customer's consent to that one webinar's service mails (confirmation,
//   update, cancellation, at most two reminders); it implies no topic consent. Its id is the
//   calendar UID, and `sequence` is the RFC 5545 SEQUENCE of the last change sent for it.
// - Reminders are bounded by construction: a registration walks its reminder slots (at most two)
//   forwards only, and each slot has one idempotency key in the outbox.
// - Invitations and follow-ups are campaigns (the cadence cap applies unchanged); the webinar
//   keeps their ids. campaigns.digest_url lets a campaign folded into a digest link somewhere
//   (the registration page).
export class Webinars1764000005000 implements MigrationInterface {
  name = 'Webinars1764000005000';

  async up(db: QueryRunner): Promise<void> {
    await db.query(`
      CREATE TABLE webinar_series (
        id         uuid PRIMARY KEY DEFAULT gen_random_uuid(),
        key        text NOT NULL UNIQUE CHECK (key ~ '^[a-z0-9][a-z0-9-]{0,62}$'),
        title_de   text,
        title_en   text,
        created_at timestamptz NOT NULL,
        updated_at timestamptz NOT NULL,
        CHECK (title_de IS NOT NULL OR title_en IS NOT NULL)
      )`);

    await db.query(`
      CREATE TABLE webinars (
        id                   uuid PRIMARY KEY DEFAULT gen_random_uuid(),
        slug                 text NOT NULL UNIQUE CHECK (slug ~ '^[a-z0-9][a-z0-9-]{0,79}$'),
        topic_id             uuid NOT NULL REFERENCES topics (id),
        series_id            uuid REFERENCES webinar_series (id),
        series_part          smallint CHECK (series_part > 0),
        title_de             text,
        title_en             text,
        description_de       text,
        description_en       text,
        starts_at            timestamptz NOT NULL,
        ends_at              timestamptz NOT NULL,
        time_zone            text NOT NULL,             -- the zone invitations show; service mails use the customer's
        join_url             text NOT NULL CHECK (join_url ~ '^https?://'),
        capacity             int CHECK (capacity > 0),  -- NULL: unlimited
        reminder_minutes     int[] NOT NULL CHECK (cardinality(reminder_minutes) <= 2),
        status               text NOT NULL CHECK (status IN ('scheduled', 'cancelled')),
        recording_url        text CHECK (recording_url ~ '^https?://'),
        invitation_campaign_id uuid REFERENCES campaigns (id),
        attended_campaign_id uuid REFERENCES campaigns (id),
        missed_campaign_id   uuid REFERENCES campaigns (id),
        attendance_imported_at timestamptz,
        created_at           timestamptz NOT NULL,
        updated_at           timestamptz NOT NULL,
        cancelled_at         timestamptz,
        CHECK (ends_at > starts_at),
        CHECK (title_de IS NOT NULL OR title_en IS NOT NULL),
        CHECK ((series_id IS NULL) = (series_part IS NULL)),
        UNIQUE (series_id, series_part)
      )`);
    await db.query(`CREATE INDEX webinars_starts_idx ON webinars (starts_at)`);

    await db.query(`
      CREATE TABLE webinar_registrations (
        id                 uuid PRIMARY KEY DEFAULT gen_random_uuid(),
        subscriber_id      uuid NOT NULL REFERENCES subscribers (id) ON DELETE CASCADE,
        webinar_id         uuid NOT NULL REFERENCES webinars (id) ON DELETE CASCADE,
        status             text NOT NULL CHECK (status IN ('registered', 'unregistered', 'cancelled')),
        source             text NOT NULL CHECK (source IN ('page', 'api', 'series')),
        sequence           int NOT NULL DEFAULT 0,
        attended           boolean,
        next_reminder_slot smallint NOT NULL DEFAULT 0,
        next_reminder_at   timestamptz,
        registered_at      timestamptz NOT NULL,
        unregistered_at    timestamptz,
        updated_at         timestamptz NOT NULL,
        UNIQUE (webinar_id, subscriber_id)
      )`);
    await db.query(`CREATE INDEX webinar_registrations_subscriber_idx ON webinar_registrations (subscriber_id)`);
    // The reminder job walks only what is still to remind.
    await db.query(`CREATE INDEX webinar_registrations_reminder_idx ON webinar_registrations (next_reminder_at) WHERE next_reminder_at IS NOT NULL`);

    // "Register me for the whole series": each part published later registers these people.
    await db.query(`
      CREATE TABLE webinar_series_registrations (
        subscriber_id uuid NOT NULL REFERENCES subscribers (id) ON DELETE CASCADE,
        series_id     uuid NOT NULL REFERENCES webinar_series (id) ON DELETE CASCADE,
        registered_at timestamptz NOT NULL,
        PRIMARY KEY (subscriber_id, series_id)
      )`);
    await db.query(`CREATE INDEX webinar_series_registrations_series_idx ON webinar_series_registrations (series_id)`);

    await db.query(`ALTER TABLE campaigns ADD COLUMN digest_url text CHECK (digest_url ~ '^https?://')`);
  }

  async down(db: QueryRunner): Promise<void> {
    await db.query(`ALTER TABLE campaigns DROP COLUMN digest_url`);
    await db.query(`DROP TABLE webinar_series_registrations, webinar_registrations, webinars, webinar_series`);
  }
}
