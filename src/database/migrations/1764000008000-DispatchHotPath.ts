import { MigrationInterface, QueryRunner } from 'typeorm';

// The campaign dispatch hot path (issue 10, bench/enqueue.js). Measured on 1,000,000 subscribers
// (BENCHMARKS.md, bench/plans/enqueue-1m.txt):
// 1. Candidates are read in subscriber id order, but uuid v4 ids put the subscribers heap in
//    random order: one random heap page per candidate (13 s per 1M). A covering index lets the
//    dispatch read them index-only, in order (1.5 s).
// 2. Two foreign-key checks per decision that guard nothing the schema does not hold otherwise:
//    - cadence_windows.subscriber_id: every insert into cadence_windows happens in a transaction
//      that also inserts a row whose own foreign key locks the subscriber (deliveries at dispatch
//      and at digest composition, marketing_sends at hand-over), so an erasure racing it either
//      waits for it or fails it, and a window never outlives its subscriber; the erasure cascade
//      becomes a statement trigger on subscribers, for every path that deletes them.
//    - deliveries.topic_id: a topic is deleted only while nothing refers to it (topics.service),
//      and every delivery with a topic belongs to a campaign, digest item or webinar that holds
//      the topic by its own foreign key.
// 3. The calendar functions with a FROM clause are not inlined by the planner: ≈ 5 µs per call,
//    per row. Same formulas as single expressions (inlined; the property tests in
//    test/integration/calendar-sql.spec.ts hold them equal to the TypeScript policy).
export class DispatchHotPath1764000008000 implements MigrationInterface {
  name = 'DispatchHotPath1764000008000';

  async up(db: QueryRunner): Promise<void> {
    await db.query(`CREATE INDEX subscribers_dispatch_idx ON subscribers (id) INCLUDE (status, cadence, locale, time_zone, digest_weekday, digest_hour)`);

    await db.query(`ALTER TABLE cadence_windows DROP CONSTRAINT cadence_windows_subscriber_id_fkey`);
    await db.query(`ALTER TABLE deliveries DROP CONSTRAINT deliveries_topic_id_fkey`);
    await db.query(`
      CREATE FUNCTION tactful_subscribers_erase_windows() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        DELETE FROM cadence_windows w USING gone g WHERE w.subscriber_id = g.id;
        RETURN NULL;
      END $$`);
    await db.query(`
      CREATE TRIGGER subscribers_erase_windows AFTER DELETE ON subscribers
      REFERENCING OLD TABLE AS gone FOR EACH STATEMENT EXECUTE FUNCTION tactful_subscribers_erase_windows()`);

    await db.query(`
      CREATE OR REPLACE FUNCTION tactful_next_slot(after timestamptz, tz text, weekday int, hour int) RETURNS timestamptz
      LANGUAGE sql STABLE PARALLEL SAFE AS $$
        SELECT CASE
          WHEN (date_trunc('day', after AT TIME ZONE tz)
                + make_interval(days => (weekday - extract(isodow FROM after AT TIME ZONE tz)::int + 7) % 7, hours => hour)) AT TIME ZONE tz >= after
            THEN (date_trunc('day', after AT TIME ZONE tz)
                  + make_interval(days => (weekday - extract(isodow FROM after AT TIME ZONE tz)::int + 7) % 7, hours => hour)) AT TIME ZONE tz
          ELSE (date_trunc('day', after AT TIME ZONE tz)
                + make_interval(days => (weekday - extract(isodow FROM after AT TIME ZONE tz)::int + 7) % 7, hours => hour)
                + interval '7 days') AT TIME ZONE tz END
      $$`);
    await db.query(`
      CREATE OR REPLACE FUNCTION tactful_next_daily_slot(after timestamptz, tz text, hour int) RETURNS timestamptz
      LANGUAGE sql STABLE PARALLEL SAFE AS $$
        SELECT CASE
          WHEN (date_trunc('day', after AT TIME ZONE tz) + make_interval(hours => hour)) AT TIME ZONE tz >= after
            THEN (date_trunc('day', after AT TIME ZONE tz) + make_interval(hours => hour)) AT TIME ZONE tz
          ELSE (date_trunc('day', after AT TIME ZONE tz) + make_interval(hours => hour) + interval '1 day') AT TIME ZONE tz END
      $$`);
    await db.query(`
      CREATE OR REPLACE FUNCTION tactful_outside_quiet(at timestamptz, tz text, quiet_start int, quiet_end int) RETURNS timestamptz
      LANGUAGE sql STABLE PARALLEL SAFE AS $$
        SELECT CASE
          WHEN NOT (CASE WHEN quiet_start > quiet_end
                         THEN extract(hour FROM at AT TIME ZONE tz)::int >= quiet_start OR extract(hour FROM at AT TIME ZONE tz)::int < quiet_end
                         ELSE extract(hour FROM at AT TIME ZONE tz)::int >= quiet_start AND extract(hour FROM at AT TIME ZONE tz)::int < quiet_end END)
            THEN at
          WHEN (date_trunc('day', at AT TIME ZONE tz) + make_interval(hours => quiet_end)) AT TIME ZONE tz > at
            THEN (date_trunc('day', at AT TIME ZONE tz) + make_interval(hours => quiet_end)) AT TIME ZONE tz
          ELSE (date_trunc('day', at AT TIME ZONE tz) + interval '1 day' + make_interval(hours => quiet_end)) AT TIME ZONE tz END
      $$`);
  }

  async down(db: QueryRunner): Promise<void> {
    // The bodies of 1764000002000-CadenceAndCampaigns.
    await db.query(`
      CREATE OR REPLACE FUNCTION tactful_next_slot(after timestamptz, tz text, weekday int, hour int) RETURNS timestamptz
      LANGUAGE sql STABLE PARALLEL SAFE AS $$
        SELECT CASE WHEN (l AT TIME ZONE tz) >= after THEN l AT TIME ZONE tz ELSE (l + interval '7 days') AT TIME ZONE tz END
        FROM (SELECT date_trunc('day', after AT TIME ZONE tz)
                     + make_interval(days => (weekday - extract(isodow FROM after AT TIME ZONE tz)::int + 7) % 7, hours => hour) AS l) x
      $$`);
    await db.query(`
      CREATE OR REPLACE FUNCTION tactful_next_daily_slot(after timestamptz, tz text, hour int) RETURNS timestamptz
      LANGUAGE sql STABLE PARALLEL SAFE AS $$
        SELECT CASE WHEN (l AT TIME ZONE tz) >= after THEN l AT TIME ZONE tz ELSE (l + interval '1 day') AT TIME ZONE tz END
        FROM (SELECT date_trunc('day', after AT TIME ZONE tz) + make_interval(hours => hour) AS l) x
      $$`);
    await db.query(`
      CREATE OR REPLACE FUNCTION tactful_outside_quiet(at timestamptz, tz text, quiet_start int, quiet_end int) RETURNS timestamptz
      LANGUAGE sql STABLE PARALLEL SAFE AS $$
        SELECT CASE
          WHEN NOT (CASE WHEN quiet_start > quiet_end THEN h >= quiet_start OR h < quiet_end ELSE h >= quiet_start AND h < quiet_end END) THEN at
          WHEN (date_trunc('day', l) + make_interval(hours => quiet_end)) AT TIME ZONE tz > at
            THEN (date_trunc('day', l) + make_interval(hours => quiet_end)) AT TIME ZONE tz
          ELSE (date_trunc('day', l) + interval '1 day' + make_interval(hours => quiet_end)) AT TIME ZONE tz END
        FROM (SELECT at AT TIME ZONE tz AS l, extract(hour FROM at AT TIME ZONE tz)::int AS h) x
      $$`);
    await db.query(`DROP TRIGGER subscribers_erase_windows ON subscribers`);
    await db.query(`DROP FUNCTION tactful_subscribers_erase_windows`);
    await db.query(`DELETE FROM cadence_windows w WHERE NOT EXISTS (SELECT 1 FROM subscribers s WHERE s.id = w.subscriber_id)`);
    await db.query(`ALTER TABLE deliveries ADD CONSTRAINT deliveries_topic_id_fkey FOREIGN KEY (topic_id) REFERENCES topics (id)`);
    await db.query(
      `ALTER TABLE cadence_windows ADD CONSTRAINT cadence_windows_subscriber_id_fkey FOREIGN KEY (subscriber_id) REFERENCES subscribers (id) ON DELETE CASCADE`,
    );
    await db.query(`DROP INDEX subscribers_dispatch_idx`);
  }
}
