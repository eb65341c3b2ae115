import { MigrationInterface, QueryRunner } from 'typeorm';

// A campaign's decisions by status and reason over time, at the cost of a handful of rows (issue
// 23: the page of a campaign of a million does not aggregate the decision log). The same design
// as delivery_counts (1766000810000-DeliveryCounts), per campaign:
// - campaign_counts holds, per campaign, hour, status, reason and whether a digest carried the
//   mail, how many of its deliveries stand so now; the hour is that of the row's updated_at (its
//   latest decision), binned in UTC whatever the session's time zone (date_bin).
// - The deliveries triggers (the same statement-level functions, extended) append each
//   statement's net change to campaign_count_deltas in the statement's own transaction; the
//   fold-delivery-counts job folds them in. Readers add the deltas since the last fold, so the
//   figures are exact as of their snapshot, whatever the fold's lag.
// - A test send (kind campaign_test) is not the campaign's decision and is not counted.
const HOUR = `date_bin('1 hour', updated_at, timestamptz '2000-01-01 00:00:00+00')`;
const CAMPAIGN_KEY = `ref_id, ${HOUR}, status, reason, digest_delivery_id IS NOT NULL`;
const CAMPAIGN_ROWS = `kind = 'campaign' AND ref_id IS NOT NULL`;

export class CampaignCounts1767000100000 implements MigrationInterface {
  name = 'CampaignCounts1767000100000';

  async up(db: QueryRunner): Promise<void> {
    await db.query(`
      CREATE TABLE campaign_counts (
        campaign_id text NOT NULL,
        hour        timestamptz NOT NULL,
        status      text NOT NULL,
        reason      text NOT NULL,
        via_digest  boolean NOT NULL,
        n           bigint NOT NULL,
        PRIMARY KEY (campaign_id, hour, status, reason, via_digest)
      )`);
    await db.query(`
      CREATE TABLE campaign_count_deltas (
        campaign_id text NOT NULL,
        hour        timestamptz NOT NULL,
        status      text NOT NULL,
        reason      text NOT NULL,
        via_digest  boolean NOT NULL,
        n           bigint NOT NULL
      )`);
    // A page reads one campaign's deltas: a lagging fold must not make it scan everyone's.
    await db.query(`CREATE INDEX campaign_count_deltas_campaign_idx ON campaign_count_deltas (campaign_id)`);
    await db.query(`
      CREATE OR REPLACE FUNCTION tactful_delivery_counts_insert() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        INSERT INTO delivery_count_deltas (class, status, reason, n)
        SELECT class, status, reason, count(*) FROM added GROUP BY 1, 2, 3;
        INSERT INTO campaign_count_deltas (campaign_id, hour, status, reason, via_digest, n)
        SELECT ${CAMPAIGN_KEY}, count(*) FROM added WHERE ${CAMPAIGN_ROWS} GROUP BY 1, 2, 3, 4, 5;
        RETURN NULL;
      END $$`);
    await db.query(`
      CREATE OR REPLACE FUNCTION tactful_delivery_counts_delete() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        INSERT INTO delivery_count_deltas (class, status, reason, n)
        SELECT class, status, reason, -count(*) FROM removed GROUP BY 1, 2, 3;
        INSERT INTO campaign_count_deltas (campaign_id, hour, status, reason, via_digest, n)
        SELECT ${CAMPAIGN_KEY}, -count(*) FROM removed WHERE ${CAMPAIGN_ROWS} GROUP BY 1, 2, 3, 4, 5;
        RETURN NULL;
      END $$`);
    // An update that changes no counted column (a lease, an attempt count within the hour) appends nothing.
    await db.query(`
      CREATE OR REPLACE FUNCTION tactful_delivery_counts_update() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        INSERT INTO delivery_count_deltas (class, status, reason, n)
        SELECT class, status, reason, sum(n) FROM (
          SELECT class, status, reason, 1 AS n FROM added
          UNION ALL SELECT class, status, reason, -1 FROM removed) c
        GROUP BY 1, 2, 3 HAVING sum(n) <> 0;
        INSERT INTO campaign_count_deltas (campaign_id, hour, status, reason, via_digest, n)
        SELECT campaign_id, hour, status, reason, via_digest, sum(n) FROM (
          SELECT ${CAMPAIGN_KEY}, 1 AS n FROM added WHERE ${CAMPAIGN_ROWS}
          UNION ALL SELECT ${CAMPAIGN_KEY}, -1 FROM removed WHERE ${CAMPAIGN_ROWS}) c (campaign_id, hour, status, reason, via_digest, n)
        GROUP BY 1, 2, 3, 4, 5 HAVING sum(n) <> 0;
        RETURN NULL;
      END $$`);
    // The history so far, counted once; writers wait meanwhile, so nothing is counted twice or missed.
    await db.query(`LOCK TABLE deliveries IN SHARE MODE`);
    await db.query(`
      INSERT INTO campaign_counts (campaign_id, hour, status, reason, via_digest, n)
      SELECT ${CAMPAIGN_KEY}, count(*) FROM deliveries WHERE ${CAMPAIGN_ROWS} GROUP BY 1, 2, 3, 4, 5`);
  }

  async down(db: QueryRunner): Promise<void> {
    // The functions as 1766000810000-DeliveryCounts made them.
    await db.query(`
      CREATE OR REPLACE FUNCTION tactful_delivery_counts_insert() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        INSERT INTO delivery_count_deltas (class, status, reason, n)
        SELECT class, status, reason, count(*) FROM added GROUP BY 1, 2, 3;
        RETURN NULL;
      END $$`);
    await db.query(`
      CREATE OR REPLACE FUNCTION tactful_delivery_counts_delete() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        INSERT INTO delivery_count_deltas (class, status, reason, n)
        SELECT class, status, reason, -count(*) FROM removed GROUP BY 1, 2, 3;
        RETURN NULL;
      END $$`);
    await db.query(`
      CREATE OR REPLACE FUNCTION tactful_delivery_counts_update() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        INSERT INTO delivery_count_deltas (class, status, reason, n)
        SELECT class, status, reason, sum(n) FROM (
          SELECT class, status, reason, 1 AS n FROM added
          UNION ALL SELECT class, status, reason, -1 FROM removed) c
        GROUP BY 1, 2, 3 HAVING sum(n) <> 0;
        RETURN NULL;
      END $$`);
    await db.query(`DROP TABLE campaign_count_deltas, campaign_counts`);
  }
}
