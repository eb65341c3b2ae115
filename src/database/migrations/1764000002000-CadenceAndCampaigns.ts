import { MigrationInterface, QueryRunner } from 'typeorm';

// The cadence cap, enforced twice by the database:
// 1. cadence_windows: one row per subscriber, reserved by compare-and-set in the set-based
//    dispatch (a racing transaction blocks on the row lock and re-checks, so one wins).
// 2. marketing_sends: one row per marketing mail at the moment it is handed to SMTP, with an
//    exclusion constraint so two sends of one subscriber can never lie inside one window.
// Plus campaigns, idempotency keys for POSTs, and the calendar functions the SQL needs.
export class CadenceAndCampaigns1764000002000 implements MigrationInterface {
  name = 'CadenceAndCampaigns1764000002000';

  async up(db: QueryRunner): Promise<void> {
    await db.query(`CREATE EXTENSION IF NOT EXISTS btree_gist`);
    // Dispatch walks every subscription of a topic (each gets a decision, also the unconfirmed).
    await db.query(`DROP INDEX topic_subscriptions_audience_idx`);
    await db.query(`CREATE INDEX topic_subscriptions_topic_idx ON topic_subscriptions (topic_id, subscriber_id) INCLUDE (status)`);

    await db.query(`
      CREATE TABLE cadence_windows (
        subscriber_id         uuid PRIMARY KEY REFERENCES subscribers (id) ON DELETE CASCADE,
        last_marketing_at     timestamptz NOT NULL,    -- sent, or reserved by a mail not yet handed over
        window_days           smallint NOT NULL CHECK (window_days IN (7, 14)),
        time_zone             text NOT NULL,           -- the window counts calendar days where the customer lives
        reserved_key          text,                    -- idempotency key of the delivery holding the reservation
        previous_marketing_at timestamptz              -- restored when that delivery does not go after all
      )`);

    await db.query(`
      CREATE TABLE marketing_sends (
        subscriber_id uuid NOT NULL REFERENCES subscribers (id) ON DELETE CASCADE,
        delivery_id   bigint NOT NULL UNIQUE REFERENCES deliveries (id) ON DELETE CASCADE,
        during        tstzrange NOT NULL,
        CONSTRAINT marketing_sends_cadence EXCLUDE USING gist (subscriber_id WITH =, during WITH &&)
      )`);

    await db.query(`
      CREATE TABLE campaigns (
        id                uuid PRIMARY KEY DEFAULT gen_random_uuid(),
        name              text NOT NULL,
        topic_id          uuid NOT NULL REFERENCES topics (id),
        sender            text NOT NULL,
        priority          smallint NOT NULL DEFAULT 0,
        status            text NOT NULL CHECK (status IN ('draft', 'scheduled', 'sending', 'sent', 'cancelled')),
        subject_de        text,
        subject_en        text,
        body_de           text,
        body_en           text,
        digest_summary_de text,
        digest_summary_en text,
        locale_fallback   boolean NOT NULL DEFAULT false,
        audience          jsonb,
        send_at           timestamptz,
        expires_at        timestamptz,
        dispatch_cursor   uuid,                         -- the last subscriber decided: dispatch resumes here
        created_at        timestamptz NOT NULL,
        updated_at        timestamptz NOT NULL,
        started_at        timestamptz,
        finished_at       timestamptz,
        cancelled_at      timestamptz
      )`);
    await db.query(`CREATE INDEX campaigns_due_idx ON campaigns (send_at) WHERE status IN ('scheduled', 'sending')`);
    await db.query(`ALTER TABLE deliveries ADD COLUMN sender text, ADD COLUMN expires_at timestamptz`);
    // Deferred items wait for the digest; the digest job and the expiry job find them here.
    await db.query(`CREATE INDEX deliveries_deferred_idx ON deliveries (subscriber_id, next_attempt_at) WHERE status = 'deferred'`);

    await db.query(`
      CREATE TABLE idempotency_keys (
        api_key_id   uuid NOT NULL,
        key          text NOT NULL,
        request_hash text NOT NULL,
        status_code  int,
        response     jsonb,
        created_at   timestamptz NOT NULL,
        PRIMARY KEY (api_key_id, key)
      )`);

    // The end of a cadence window: N calendar days later in the customer's zone, so "once a week"
    // stays on the same weekday and hour across daylight-saving changes. Mirrors windowOpensAt().
    await db.query(`
      CREATE FUNCTION tactful_window_end(at timestamptz, tz text, days int) RETURNS timestamptz
      LANGUAGE sql STABLE PARALLEL SAFE AS $$
        SELECT ((at AT TIME ZONE tz) + make_interval(days => days)) AT TIME ZONE tz
      $$`);
    await db.query(`
      CREATE FUNCTION tactful_window_days(cadence text) RETURNS int
      LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$ SELECT CASE cadence WHEN 'biweekly' THEN 14 ELSE 7 END $$`);
    // The first instant at or after "after" on the weekday (ISO) and hour, local to tz.
    await db.query(`
      CREATE FUNCTION tactful_next_slot(after timestamptz, tz text, weekday int, hour int) RETURNS timestamptz
      LANGUAGE sql STABLE PARALLEL SAFE AS $$
        SELECT CASE WHEN (l AT TIME ZONE tz) >= after THEN l AT TIME ZONE tz ELSE (l + interval '7 days') AT TIME ZONE tz END
        FROM (SELECT date_trunc('day', after AT TIME ZONE tz)
                     + make_interval(days => (weekday - extract(isodow FROM after AT TIME ZONE tz)::int + 7) % 7, hours => hour) AS l) x
      $$`);
    await db.query(`
      CREATE FUNCTION tactful_next_daily_slot(after timestamptz, tz text, hour int) RETURNS timestamptz
      LANGUAGE sql STABLE PARALLEL SAFE AS $$
        SELECT CASE WHEN (l AT TIME ZONE tz) >= after THEN l AT TIME ZONE tz ELSE (l + interval '1 day') AT TIME ZONE tz END
        FROM (SELECT date_trunc('day', after AT TIME ZONE tz) + make_interval(hours => hour) AS l) x
      $$`);
    // Mirrors nextDigestAt() in src/cadence/cadence.policy.ts.
    await db.query(`
      CREATE FUNCTION tactful_next_digest(opens timestamptz, now timestamptz, tz text, weekday int, hour int) RETURNS timestamptz
      LANGUAGE sql STABLE PARALLEL SAFE AS $$
        SELECT CASE WHEN opens IS NULL OR opens <= now THEN tactful_next_slot(now, tz, weekday, hour)
                    ELSE greatest(opens, tactful_next_daily_slot(opens - interval '1 hour' + interval '1 millisecond', tz, hour)) END
      $$`);
    // Mirrors outsideQuietHours() in src/cadence/slots.ts.
    await db.query(`
      CREATE FUNCTION tactful_outside_quiet(at timestamptz, tz text, quiet_start int, quiet_end int) RETURNS timestamptz
      LANGUAGE sql STABLE PARALLEL SAFE AS $$
        SELECT CASE
          WHEN NOT (CASE WHEN quiet_start > quiet_end THEN h >= quiet_start OR h < quiet_end ELSE h >= quiet_start AND h < quiet_end END) THEN at
          WHEN (date_trunc('day', l) + make_interval(hours => quiet_end)) AT TIME ZONE tz > at
            THEN (date_trunc('day', l) + make_interval(hours => quiet_end)) AT TIME ZONE tz
          ELSE (date_trunc('day', l) + interval '1 day' + make_interval(hours => quiet_end)) AT TIME ZONE tz END
        FROM (SELECT at AT TIME ZONE tz AS l, extract(hour FROM at AT TIME ZONE tz)::int AS h) x
      $$`);
  }

  async down(db: QueryRunner): Promise<void> {
    await db.query(
      `DROP FUNCTION tactful_outside_quiet, tactful_next_digest, tactful_next_daily_slot, tactful_next_slot, tactful_window_days, tactful_window_end`,
    );
    await db.query(`ALTER TABLE deliveries DROP COLUMN sender, DROP COLUMN expires_at`);
    await db.query(`DROP TABLE idempotency_keys, campaigns, marketing_sends, cadence_windows`);
    await db.query(`DROP INDEX topic_subscriptions_topic_idx`);
    await db.query(`CREATE INDEX topic_subscriptions_audience_idx ON topic_subscriptions (topic_id, subscriber_id) WHERE status = 'confirmed'`);
  }
}
