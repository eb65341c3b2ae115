import { MigrationInterface, QueryRunner } from 'typeorm';

// A /metrics scrape costs the same whatever the history size (issue 21, item 3): the decision log's
// counts by class, status and reason are kept as a rollup, not counted per scrape.
// - Statement-level triggers with transition tables append each statement's net change to
//   delivery_count_deltas, in the statement's own transaction (so a rolled-back decision never
//   counts, and every instance and every restart sees the same figures). Appending, never
//   updating, keeps concurrent transactions from queueing on one counter row.
// - The scrape (and the fold-delivery-counts job) folds the deltas into delivery_counts and reads
//   that: a handful of rows, plus the deltas since the last fold.
// - outbox_watermarks holds the oldest due queued row, measured by that job from the due index.
export class DeliveryCounts1766000810000 implements MigrationInterface {
  name = 'DeliveryCounts1766000810000';

  async up(db: QueryRunner): Promise<void> {
    await db.query(`
      CREATE TABLE delivery_counts (
        class  text NOT NULL,
        status text NOT NULL,
        reason text NOT NULL,
        n      bigint NOT NULL,
        PRIMARY KEY (class, status, reason)
      )`);
    await db.query(`
      CREATE TABLE delivery_count_deltas (
        class  text NOT NULL,
        status text NOT NULL,
        reason text NOT NULL,
        n      bigint NOT NULL
      )`);
    await db.query(`
      CREATE TABLE outbox_watermarks (
        one           boolean PRIMARY KEY DEFAULT true CHECK (one),
        oldest_due_at timestamptz,
        measured_at   timestamptz NOT NULL
      )`);
    await db.query(`
      CREATE FUNCTION tactful_delivery_counts_insert() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        INSERT INTO delivery_count_deltas (class, status, reason, n)
        SELECT class, status, reason, count(*) FROM added GROUP BY 1, 2, 3;
        RETURN NULL;
      END $$`);
    await db.query(`
      CREATE FUNCTION tactful_delivery_counts_delete() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        INSERT INTO delivery_count_deltas (class, status, reason, n)
        SELECT class, status, reason, -count(*) FROM removed GROUP BY 1, 2, 3;
        RETURN NULL;
      END $$`);
    // An update that changes no counted column (a lease, an attempt count) appends nothing.
    await db.query(`
      CREATE FUNCTION tactful_delivery_counts_update() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        INSERT INTO delivery_count_deltas (class, status, reason, n)
        SELECT class, status, reason, sum(n) FROM (
          SELECT class, status, reason, 1 AS n FROM added
          UNION ALL SELECT class, status, reason, -1 FROM removed) c
        GROUP BY 1, 2, 3 HAVING sum(n) <> 0;
        RETURN NULL;
      END $$`);
    await db.query(`
      CREATE TRIGGER deliveries_count_insert AFTER INSERT ON deliveries
      REFERENCING NEW TABLE AS added FOR EACH STATEMENT EXECUTE FUNCTION tactful_delivery_counts_insert()`);
    await db.query(`
      CREATE TRIGGER deliveries_count_delete AFTER DELETE ON deliveries
      REFERENCING OLD TABLE AS removed FOR EACH STATEMENT EXECUTE FUNCTION tactful_delivery_counts_delete()`);
    await db.query(`
      CREATE TRIGGER deliveries_count_update AFTER UPDATE ON deliveries
      REFERENCING NEW TABLE AS added OLD TABLE AS removed FOR EACH STATEMENT EXECUTE FUNCTION tactful_delivery_counts_update()`);
    // The history so far, counted once; writers wait meanwhile, so nothing is counted twice or missed.
    await db.query(`LOCK TABLE deliveries IN SHARE MODE`);
    await db.query(`INSERT INTO delivery_counts (class, status, reason, n) SELECT class, status, reason, count(*) FROM deliveries GROUP BY 1, 2, 3`);
  }

  async down(db: QueryRunner): Promise<void> {
    await db.query(`DROP TRIGGER deliveries_count_insert ON deliveries`);
    await db.query(`DROP TRIGGER deliveries_count_delete ON deliveries`);
    await db.query(`DROP TRIGGER deliveries_count_update ON deliveries`);
    await db.query(`DROP FUNCTION tactful_delivery_counts_insert, tactful_delivery_counts_delete, tactful_delivery_counts_update`);
    await db.query(`DROP TABLE outbox_watermarks, delivery_count_deltas, delivery_counts`);
  }
}
