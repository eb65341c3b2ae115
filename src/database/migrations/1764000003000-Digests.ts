import { MigrationInterface, QueryRunner } from 'typeorm';

// Digests: items that exist only to go into digests, what each subscriber has received of them,
// each subscriber's next digest instant (kept current by a trigger), the link from a folded
// campaign delivery to the digest that carried it, and a log of scheduler runs.
export class Digests1764000003000 implements MigrationInterface {
  name = 'Digests1764000003000';

  async up(db: QueryRunner): Promise<void> {
    await db.query(`
      CREATE TABLE digest_items (
        id         uuid PRIMARY KEY DEFAULT gen_random_uuid(),
        topic_id   uuid NOT NULL REFERENCES topics (id),
        sender     text NOT NULL,
        priority   smallint NOT NULL DEFAULT 0,
        title_de   text,
        title_en   text,
        summary_de text,
        summary_en text,
        url        text,
        publish_at timestamptz NOT NULL,
        expires_at timestamptz,
        created_at timestamptz NOT NULL,
        CHECK (title_de IS NOT NULL OR title_en IS NOT NULL),
        CHECK (expires_at IS NULL OR expires_at > publish_at)
      )`);
    await db.query(`CREATE INDEX digest_items_topic_idx ON digest_items (topic_id, publish_at)`);

    // One row per (subscriber, item) that went into a digest: "has not received it before".
    await db.query(`
      CREATE TABLE digest_entries (
        subscriber_id uuid NOT NULL REFERENCES subscribers (id) ON DELETE CASCADE,
        item_id       uuid NOT NULL REFERENCES digest_items (id) ON DELETE CASCADE,
        delivery_id   bigint NOT NULL REFERENCES deliveries (id) ON DELETE CASCADE,
        PRIMARY KEY (subscriber_id, item_id)
      )`);
    await db.query(`CREATE INDEX digest_entries_delivery_idx ON digest_entries (delivery_id)`);

    await db.query(`ALTER TABLE deliveries ADD COLUMN digest_delivery_id bigint REFERENCES deliveries (id) ON DELETE SET NULL`);
    await db.query(`CREATE INDEX deliveries_digest_idx ON deliveries (digest_delivery_id) WHERE digest_delivery_id IS NOT NULL`);

    await db.query(`ALTER TABLE subscribers ADD COLUMN next_digest_at timestamptz`);
    await db.query(`CREATE INDEX subscribers_next_digest_idx ON subscribers (next_digest_at) WHERE status = 'active'`);
    // The next digest follows the slot, the time zone and the cadence. "Now" is the row's own
    // created_at / updated_at, which the application sets from its clock (virtual time in tests).
    await db.query(`
      CREATE FUNCTION tactful_subscriber_next_digest() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        NEW.next_digest_at := tactful_next_digest(
          (SELECT tactful_window_end(w.last_marketing_at, NEW.time_zone, tactful_window_days(NEW.cadence))
             FROM cadence_windows w WHERE w.subscriber_id = NEW.id AND w.last_marketing_at > '-infinity'),
          CASE WHEN TG_OP = 'INSERT' THEN NEW.created_at ELSE NEW.updated_at END,
          NEW.time_zone, NEW.digest_weekday, NEW.digest_hour);
        RETURN NEW;
      END $$`);
    await db.query(`
      CREATE TRIGGER subscribers_next_digest BEFORE INSERT OR UPDATE OF time_zone, digest_weekday, digest_hour, cadence ON subscribers
      FOR EACH ROW EXECUTE FUNCTION tactful_subscriber_next_digest()`);
    await db.query(`UPDATE subscribers SET next_digest_at = tactful_next_slot(now(), time_zone, digest_weekday, digest_hour)`);

    await db.query(`
      CREATE TABLE scheduler_runs (
        id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        job         text NOT NULL,
        instance    text NOT NULL,
        started_at  timestamptz NOT NULL,
        finished_at timestamptz NOT NULL,
        counts      jsonb NOT NULL DEFAULT '{}'::jsonb,
        error       text
      )`);
    await db.query(`CREATE INDEX scheduler_runs_recent_idx ON scheduler_runs (started_at DESC)`);
  }

  async down(db: QueryRunner): Promise<void> {
    await db.query(`DROP TABLE scheduler_runs`);
    await db.query(`DROP TRIGGER subscribers_next_digest ON subscribers`);
    await db.query(`DROP FUNCTION tactful_subscriber_next_digest`);
    await db.query(`ALTER TABLE subscribers DROP COLUMN next_digest_at`);
    await db.query(`ALTER TABLE deliveries DROP COLUMN digest_delivery_id`);
    await db.query(`DROP TABLE digest_entries, digest_items`);
  }
}
