import { MigrationInterface, QueryRunner } from 'typeorm';

// The decision log, partitioned (issue 21 item 1, docs/SCALING.md "The decision log by month").
//
// `deliveries` becomes a table PARTITION BY RANGE (id), one partition per calendar month: a month's
// ids start at tactful_month_base(month) (months since 2000-01, times 2^40), and the
// rotate-decision-log job moves the id sequence to the new month's base once its partition exists.
// So the primary key stays `id` (every statement that finds a row by id reads one partition, and
// the foreign keys onto deliveries stay as they are), a month's rows sit together, and a month
// past the retention goes by dropping its partition: seconds and no dead rows, where a DELETE of
// its millions of rows took minutes (bench/history.js).
//
// The one global rule a partitioned table cannot hold itself, idempotency_key's uniqueness, moves
// to `delivery_keys` (the key's md5 as a uuid, the delivery id): a BEFORE INSERT trigger claims the
// key, and a row whose key is taken is not inserted (what ON CONFLICT DO NOTHING did). A campaign's
// rows have none: its dispatch writes each subscriber once by its cursor, checkpointed in the
// batch's transaction (campaign-dispatch.service.ts), so its million keys would guard nothing.
//
// The existing table is attached whole as the first partition (deliveries_p0, every id below the
// current month's base): no row is copied. Its indexes are attached to the parent's equivalents;
// its checks, foreign keys and triggers move to the parent. Everything happens under one ACCESS
// EXCLUSIVE lock: the attach validates the old rows once (a scan, seconds per million rows).
const MONTH_BITS = 40;

export class PartitionedDecisionLog1767000300000 implements MigrationInterface {
  name = 'PartitionedDecisionLog1767000300000';

  async up(db: QueryRunner): Promise<void> {
    await db.query(`LOCK TABLE deliveries IN ACCESS EXCLUSIVE MODE`);

    await db.query(`
      CREATE FUNCTION tactful_month_base(month date) RETURNS bigint LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
        SELECT ((extract(year FROM month)::bigint - 2000) * 12 + extract(month FROM month)::bigint - 1) << ${MONTH_BITS}
      $$`);

    // Foreign keys from and onto the old table, as they read now (then dropped, and made again on the parent).
    const outgoing: { name: string; def: string }[] = await db.query(
      `SELECT conname AS name, pg_get_constraintdef(oid) AS def FROM pg_constraint WHERE conrelid = 'deliveries'::regclass AND contype = 'f'`,
    );
    const incoming: { name: string; table: string; def: string }[] = await db.query(
      `SELECT conname AS name, conrelid::regclass::text AS table, pg_get_constraintdef(oid) AS def
       FROM pg_constraint WHERE confrelid = 'deliveries'::regclass AND contype = 'f' AND conrelid <> 'deliveries'::regclass`,
    );
    for (const fk of incoming) await db.query(`ALTER TABLE ${fk.table} DROP CONSTRAINT ${fk.name}`);
    for (const fk of outgoing) await db.query(`ALTER TABLE deliveries DROP CONSTRAINT ${fk.name}`);
    const triggers: { name: string; def: string }[] = await db.query(
      `SELECT tgname AS name, pg_get_triggerdef(oid) AS def FROM pg_trigger WHERE tgrelid = 'deliveries'::regclass AND NOT tgisinternal`,
    );
    for (const t of triggers) await db.query(`DROP TRIGGER ${t.name} ON deliveries`);

    // The keys, from the old rows (a campaign's rows have none, as from now on).
    await db.query(`
      CREATE TABLE delivery_keys (
        key_hash    uuid PRIMARY KEY,
        delivery_id bigint NOT NULL,
        created_at  timestamptz NOT NULL
      )`);
    await db.query(`
      INSERT INTO delivery_keys (key_hash, delivery_id, created_at)
      SELECT md5(idempotency_key)::uuid, id, created_at FROM deliveries WHERE kind <> 'campaign'
      ON CONFLICT DO NOTHING`);
    await db.query(`CREATE INDEX delivery_keys_created_idx ON delivery_keys (created_at)`);
    await db.query(`ALTER TABLE deliveries DROP CONSTRAINT deliveries_idempotency_key_key`);

    // The old table becomes deliveries_p0; the parent takes its name, columns, defaults and checks.
    const [{ max_id: maxId }] = await db.query(`SELECT coalesce(max(id), 0)::text AS max_id FROM deliveries`);
    await db.query(`ALTER TABLE deliveries ALTER COLUMN id DROP IDENTITY`);
    await db.query(`ALTER TABLE deliveries RENAME TO deliveries_p0`);
    const indexes: { name: string; def: string }[] = await db.query(
      `SELECT c.relname AS name, pg_get_indexdef(i.indexrelid) AS def
       FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid WHERE i.indrelid = 'deliveries_p0'::regclass AND NOT i.indisprimary`,
    );
    await db.query(`ALTER INDEX deliveries_pkey RENAME TO deliveries_p0_pkey`);
    for (const index of indexes) await db.query(`ALTER INDEX ${index.name} RENAME TO ${index.name.replace(/^deliveries_/, 'deliveries_p0_')}`);
    await db.query(`CREATE TABLE deliveries (LIKE deliveries_p0 INCLUDING DEFAULTS INCLUDING CONSTRAINTS) PARTITION BY RANGE (id)`);
    // The old table's checks are merged with the parent's on attach (and, a partition's, marked inherited: a later
    // ALTER of the parent's check reaches every partition).
    await db.query(`CREATE SEQUENCE deliveries_id_seq AS bigint OWNED BY deliveries.id`);
    await db.query(`SELECT setval('deliveries_id_seq', $1::bigint + 1, false)`, [maxId]);
    await db.query(`ALTER TABLE deliveries ALTER COLUMN id SET DEFAULT nextval('deliveries_id_seq')`);
    await db.query(`ALTER TABLE deliveries ADD PRIMARY KEY (id)`);
    for (const index of indexes) await db.query(index.def.replace(' ON public.deliveries_p0 ', ' ON deliveries '));

    // Every id so far is below this month's base (ids count from 1; a month's base is 2^40 or more).
    const [{ base }] = await db.query(`SELECT tactful_month_base(date_trunc('month', now() AT TIME ZONE 'UTC')::date)::text AS base`);
    if (BigInt(maxId) >= BigInt(base)) throw new Error(`deliveries ids reach ${maxId}, past the first month's base ${base}`);
    await db.query(`ALTER TABLE deliveries ATTACH PARTITION deliveries_p0 FOR VALUES FROM (MINVALUE) TO (${base})`);

    // Not the self-reference digest_delivery_id (the digest that carried an item): a month could not be detached
    // while its own rows referenced each other, and the two rows, one subscriber's, are only ever deleted together.
    for (const fk of outgoing.filter((fk) => fk.name !== 'deliveries_digest_delivery_id_fkey')) {
      await db.query(`ALTER TABLE deliveries ADD CONSTRAINT ${fk.name} ${fk.def}`);
    }
    for (const fk of incoming) await db.query(`ALTER TABLE ${fk.table} ADD CONSTRAINT ${fk.name} ${fk.def}`);
    for (const t of triggers) await db.query(t.def);

    await db.query(`
      CREATE FUNCTION tactful_claim_delivery_key() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        INSERT INTO delivery_keys (key_hash, delivery_id, created_at)
        VALUES (md5(NEW.idempotency_key)::uuid, NEW.id, NEW.created_at) ON CONFLICT DO NOTHING;
        IF NOT FOUND THEN RETURN NULL; END IF;
        RETURN NEW;
      END $$`);
    await db.query(`
      CREATE TRIGGER deliveries_claim_key BEFORE INSERT ON deliveries
      FOR EACH ROW WHEN (NEW.kind <> 'campaign') EXECUTE FUNCTION tactful_claim_delivery_key()`);

    // Which partition holds which ids, for the rotate-decision-log job (month NULL: the rows from before).
    await db.query(`
      CREATE TABLE decision_log_partitions (
        partition  text PRIMARY KEY,
        month      date UNIQUE,
        lo         bigint,
        hi         bigint NOT NULL,
        created_at timestamptz NOT NULL
      )`);
    await db.query(`INSERT INTO decision_log_partitions (partition, month, lo, hi, created_at) VALUES ('deliveries_p0', NULL, NULL, $1, now())`, [base]);

    // Per-customer counts of the months dropped: the timeline's "earlier" line.
    await db.query(`
      CREATE TABLE subscriber_history (
        subscriber_id uuid NOT NULL REFERENCES subscribers (id) ON DELETE CASCADE,
        class         text NOT NULL,
        status        text NOT NULL,
        n             bigint NOT NULL,
        first_at      timestamptz NOT NULL,
        last_at       timestamptz NOT NULL,
        PRIMARY KEY (subscriber_id, class, status)
      )`);

    await db.query(ROTATE_FUNCTION);
    // This month and the next two; new ids start at this month's base (in this transaction, with the partition).
    await db.query(`SELECT * FROM tactful_rotate_decision_log(now(), 1200)`);
    await db.query(`SELECT setval('deliveries_id_seq', $1::bigint, false)`, [base]);
    await db.query(`ANALYZE deliveries`);
  }

  async down(): Promise<void> {
    throw new Error('PartitionedDecisionLog1767000300000 cannot be reverted: restore a backup taken before it');
  }
}

// One run of the rotate-decision-log job, in one transaction; the log's lock, which making or dropping
// a month takes, is waited for at most p_lock_wait (a month that could not have it is `busy` and
// tried again next run):
// 1. the partitions of this month and the next two exist;
// 2. the id sequence stands in this month's partition (it only ever moves forward, and only into a
//    partition made by an earlier transaction: setval is not undone by a rollback, and a sequence
//    pointing past every partition would fail every insert);
// 3. every older partition whose newest row (by id: ids are handed out in time order) is older than
//    the retention, that holds nothing pending and no unsettled campaign's mail, is rolled up into
//    subscriber_history, loses what still references it (digest entries, drop-topic prompts,
//    cadence records), and is detached and dropped. An empty month goes once it is past too.
// Answers one row per action.
const ROTATE_FUNCTION = `
CREATE FUNCTION tactful_rotate_decision_log(p_now timestamptz, p_retention_months int, p_lock_wait text DEFAULT '200ms')
RETURNS TABLE (action text, partition text, rows bigint) LANGUAGE plpgsql AS $fn$
DECLARE
  this_month date := date_trunc('month', p_now AT TIME ZONE 'UTC')::date;
  cutoff timestamptz := (date_trunc('month', p_now AT TIME ZONE 'UTC') - make_interval(months => p_retention_months)) AT TIME ZONE 'UTC';
  m date;
  name text;
  top bigint;
  seq bigint;
  p record;
  newest timestamptz;
  n bigint;
  made_before boolean;
BEGIN
  -- Making or dropping a month takes the log's ACCESS EXCLUSIVE lock: wait for it only briefly,
  -- so requests queued behind the wait stall at most that long; a busy month is tried next run.
  PERFORM set_config('lock_timeout', p_lock_wait, true);
  -- A month's per-customer sums are one hash aggregate over its rows (a group per customer, class
  -- and status): in memory rather than spilled to disk in batches.
  PERFORM set_config('work_mem', '256MB', true);
  made_before := EXISTS (SELECT 1 FROM decision_log_partitions d WHERE d.month = this_month);
  SELECT max(d.hi) INTO top FROM decision_log_partitions d;
  FOR m IN SELECT generate_series(this_month, (this_month + interval '2 months')::date, interval '1 month')::date LOOP
    CONTINUE WHEN tactful_month_base(m) < top OR EXISTS (SELECT 1 FROM decision_log_partitions d WHERE d.month = m);
    name := format('deliveries_%s', to_char(m, 'YYYY_MM'));
    BEGIN
      EXECUTE format('CREATE TABLE %I PARTITION OF deliveries FOR VALUES FROM (%s) TO (%s)',
                     name, tactful_month_base(m), tactful_month_base((m + interval '1 month')::date));
    EXCEPTION WHEN lock_not_available THEN
      action := 'busy'; partition := name; rows := 0; RETURN NEXT;
      EXIT; -- the months stay contiguous: the later ones wait for this one
    END;
    INSERT INTO decision_log_partitions (partition, month, lo, hi, created_at)
    VALUES (name, m, tactful_month_base(m), tactful_month_base((m + interval '1 month')::date), p_now);
    top := tactful_month_base((m + interval '1 month')::date);
    action := 'created'; partition := name; rows := 0; RETURN NEXT;
  END LOOP;

  SELECT CASE WHEN s.is_called THEN s.last_value ELSE s.last_value - 1 END INTO seq FROM deliveries_id_seq s;
  IF seq < tactful_month_base(this_month) AND made_before THEN
    PERFORM setval('deliveries_id_seq', tactful_month_base(this_month), false);
    seq := tactful_month_base(this_month) - 1;
    action := 'moved'; partition := format('deliveries_%s', to_char(this_month, 'YYYY_MM')); rows := 0; RETURN NEXT;
  END IF;

  FOR p IN SELECT * FROM decision_log_partitions d WHERE d.hi <= seq + 1 ORDER BY d.hi LOOP
    EXECUTE format('SELECT created_at FROM ONLY %I ORDER BY id DESC LIMIT 1', p.partition) INTO newest;
    CONTINUE WHEN newest >= cutoff OR (newest IS NULL AND p.month >= cutoff);
    EXECUTE format($q$SELECT count(*) FROM (SELECT 1 FROM ONLY %I WHERE status IN ('queued', 'sending', 'deferred') LIMIT 1) x$q$, p.partition) INTO n;
    IF n > 0 THEN
      action := 'kept_pending'; partition := p.partition; rows := n; RETURN NEXT;
      CONTINUE;
    END IF;
    EXECUTE format('SELECT count(*) FROM campaigns c WHERE c.progress IS NULL AND EXISTS (SELECT 1 FROM ONLY %I x WHERE x.ref_id = c.id::text)', p.partition) INTO n;
    IF n > 0 THEN
      action := 'kept_unsettled'; partition := p.partition; rows := n; RETURN NEXT;
      CONTINUE;
    END IF;
    -- One month in a subtransaction: a lock not had in time undoes its sums and deletes too.
    BEGIN
      EXECUTE format($q$
        INSERT INTO subscriber_history AS h (subscriber_id, class, status, n, first_at, last_at)
        SELECT x.subscriber_id, x.class, x.status, count(*), min(x.created_at), max(x.created_at)
        FROM ONLY %I x WHERE x.subscriber_id IS NOT NULL GROUP BY 1, 2, 3
        ON CONFLICT (subscriber_id, class, status) DO UPDATE SET n = h.n + EXCLUDED.n,
          first_at = least(h.first_at, EXCLUDED.first_at), last_at = greatest(h.last_at, EXCLUDED.last_at)$q$, p.partition);
      DELETE FROM digest_entries e WHERE e.delivery_id >= coalesce(p.lo, -9223372036854775808) AND e.delivery_id < p.hi;
      DELETE FROM drop_topic_prompts t WHERE t.digest_delivery_id >= coalesce(p.lo, -9223372036854775808) AND t.digest_delivery_id < p.hi;
      DELETE FROM marketing_sends s WHERE s.delivery_id >= coalesce(p.lo, -9223372036854775808) AND s.delivery_id < p.hi;
      EXECUTE format('SELECT count(*) FROM ONLY %I', p.partition) INTO n;
      EXECUTE format('ALTER TABLE deliveries DETACH PARTITION %I', p.partition);
      EXECUTE format('DROP TABLE %I', p.partition);
      DELETE FROM decision_log_partitions d WHERE d.partition = p.partition;
      action := 'dropped'; partition := p.partition; rows := n; RETURN NEXT;
    EXCEPTION WHEN lock_not_available THEN
      action := 'kept_busy'; partition := p.partition; rows := 0; RETURN NEXT;
    END;
  END LOOP;
END $fn$`;
