#!/usr/bin/env node
// bench/history: does a year of decision history slow Tactful down? (issue 21, item 6)
//
// Two databases on one server, with the same 1,000,000 subscribers (the same ids), the same
// topics, campaigns and a week of recent sent mail: `empty` has no other history, `full` has
// --rows decisions (default 50,000,000) spread over the year before, in the mix of the simulated
// quarter (8 % sent, 52 % expired, 20 % not in the campaign's audience, 20 % other suppressions),
// written by INSERT … SELECT through the real triggers (the decision-count rollups) into the
// decision log's monthly partitions (each row's id in its month's range, as the rotate job hands
// them out), the secondary indexes built afterwards, then VACUUM ANALYZE. `empty` is a fresh
// install: this month's partitions only. The same statements run against both,
// interleaved in blocks (A B A B …) so the machine's load falls on both alike:
//
// - dispatch of a campaign to all 1,000,000 subscribers (the real CampaignDispatchService), and
//   in the same database a plain INSERT … SELECT of the same rows into `deliveries` (rolled back):
//   the dispatch's ratio to it;
// - the claim rate (DeliveryWorker's marketing claim, batches of 500, one worker);
// - GET /v1/subscribers/:id/timeline and GET /p/:token (the preferences page) for 1,000 random
//   customers, one request at a time, over HTTP against the built app (a process per database);
// - a bounce lookup by Message-ID (the inbound mail path's statement) for 1,000 recent mails;
// - a /metrics scrape (50);
// - retention: the rotate-decision-log job dropping the oldest month (its partition: counted per
//   customer, detached, dropped), against a DELETE of the same month's rows; both rolled back.
// Goal (issue 21): each within 1.2× of the empty log; the dispatch within 2× of the plain insert.
// Reports table and index sizes of both.
//
//   npm run build
//   DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres node bench/history.js
//   DATABASE_URL=… node bench/history.js --rows 5000000 --subscribers 200000   # a smaller year
//   DATABASE_URL=… node bench/history.js --reuse                              # keep and reuse the seeded `full`
//
// Without DATABASE_URL an embedded PostgreSQL in a temp folder serves (no --reuse). With it, the
// databases `tactful_bench_history_empty` and `tactful_bench_history_full` are made on that
// server (and dropped at the end unless --reuse, which keeps `full` with its history and seeds
// it only when its recorded size differs). Writes bench/results/history.json.
'use strict';
const c = require('./lib/common');

c.requireBuild('history');
const os = require('node:os');
const { mkdtempSync, chmodSync } = require('node:fs');
const { join } = require('node:path');
const http = require('node:http');
const { Client } = require('pg');
const { freePort, startApp, TOKEN_SECRET } = require('./lib/http-load');
const { createApp } = c.dist('bootstrap');
const { loadConfig } = c.dist('config/config');
const { FakeClock } = c.dist('common/clock');
const { CampaignDispatchService, campaignKeyPrefix } = c.dist('campaigns/campaign-dispatch.service');
const { DeliveryWorker } = c.dist('delivery/delivery-worker');
const { MailEventQueries } = c.dist('mail-events/mail-events.queries');
const { foldDeliveryCounts } = c.dist('metrics/delivery-counts');
const { TokenSigner } = c.dist('links/tokens');

const ROWS = Number(c.option('rows', '50000000'));
const SUBSCRIBERS = Number(c.option('subscribers', '1000000'));
const SAMPLES = Number(c.option('samples', '1000'));
const SCRAPES = Number(c.option('scrapes', '50'));
const CLAIM_ROWS = Number(c.option('claim-rows', '100000'));
const REUSE = c.flag('reuse');
const CHUNK = 1_000_000;
const CAMPAIGNS = 100; // two a week over the year
const RECENT_SENT = 20_000; // the last week's sent mail, in both databases: what a bounce names
const ADMIN_KEY = 'bench-history-admin-key-0123456789abcdef';
// A Tuesday, 10:00 in Berlin (as bench/enqueue.js): the dispatch sends now to most subscribers.
const NOW = new Date('2026-12-01T09:00:00Z');
const ZONES = ['Europe/Berlin', 'Europe/Vienna', 'Europe/London', 'America/New_York'];
const GOAL = { ratio: 1.2, dispatchToPlain: 2 };
const log = c.log;
const s = (ms) => c.round(ms / 1000, 2);

/** The same subscriber id in both databases: subscriber n is md5('bench' || n). */
const SUBSCRIBER_ID = (n) => `md5('bench' || ${n})::uuid`;

const { statementsOn } = c;

async function servers() {
  const names = { empty: 'tactful_bench_history_empty', full: 'tactful_bench_history_full' };
  if (process.env.DATABASE_URL) {
    const server = process.env.DATABASE_URL;
    const at = (name) => c.withDatabase(server, name);
    return {
      kind: 'DATABASE_URL',
      names,
      url: { empty: at(names.empty), full: at(names.full) },
      admin: (fn) => c.withClient(server, fn),
      close: async () => {
        await c.withClient(server, async (sql) => {
          await sql.query(`DROP DATABASE IF EXISTS ${names.empty} WITH (FORCE)`);
          if (!REUSE) await sql.query(`DROP DATABASE IF EXISTS ${names.full} WITH (FORCE)`);
        });
      },
    };
  }
  if (REUSE) throw new Error('--reuse needs DATABASE_URL (an embedded server goes away with the bench)');
  const { startEmbeddedPostgres } = c.dist('database/embedded-postgres');
  const parent = mkdtempSync(join(os.tmpdir(), 'tactful-bench-history-'));
  chmodSync(parent, 0o755);
  const embedded = await startEmbeddedPostgres({
    dataDir: join(parent, 'data'),
    port: 20000 + Math.floor(Math.random() * 20000),
    database: 'postgres',
    persistent: false,
  });
  const at = (name) => c.withDatabase(embedded.url, name);
  return {
    kind: 'embedded (fsync off)',
    names,
    url: { empty: at(names.empty), full: at(names.full) },
    admin: (fn) => c.withClient(embedded.url, fn),
    close: () => embedded.stop(),
  };
}

/** The months of the year before NOW as partitions of the decision log (the rotate job makes them one by one, ahead). */
async function ensureMonths(sql) {
  // A fresh install's first rotation: the empty partition of the rows from before the migration goes.
  await sql.query(`SELECT * FROM tactful_rotate_decision_log(now(), 1200)`);
  // Below the months the install made (its first one onwards exists).
  const {
    rows: [{ first }],
  } = await sql.query(`SELECT min(lo)::text AS first FROM decision_log_partitions`);
  for (let back = 12; back >= 1; back--) {
    const month = new Date(Date.UTC(NOW.getUTCFullYear(), NOW.getUTCMonth() - back, 1)).toISOString().slice(0, 10);
    const name = `deliveries_${month.slice(0, 4)}_${month.slice(5, 7)}`;
    const {
      rows: [range],
    } = await sql.query(
      `SELECT tactful_month_base($1::date)::text AS lo, tactful_month_base(($1::date + interval '1 month')::date)::text AS hi,
              EXISTS (SELECT 1 FROM decision_log_partitions WHERE month = $1::date) AS made,
              tactful_month_base($1::date) >= $2::bigint AS ahead`,
      [month, first],
    );
    if (range.made || range.ahead) continue;
    await sql.query(`CREATE TABLE ${name} PARTITION OF deliveries FOR VALUES FROM (${range.lo}) TO (${range.hi})`);
    await sql.query(`INSERT INTO decision_log_partitions (partition, month, lo, hi, created_at) VALUES ($1, $2, $3, $4, now())`, [
      name,
      month,
      range.lo,
      range.hi,
    ]);
  }
}

/** A decision's id in its month's range, as the rotate job hands them out (n unique within the month). */
const MONTH_ID = (at, n) => `tactful_month_base(date_trunc('month', ${at} AT TIME ZONE 'UTC')::date) + ${n}`;

/** Subscribers, topics, campaigns and the recent week: the same in both databases. */
async function seedCommon(sql, { months }) {
  await sql.query(`SET session_replication_role = replica`); // the next-digest trigger: set below for all at once
  const {
    rows: [topic],
  } = await sql.query(`INSERT INTO topics (key, name_de, name_en) VALUES ('bench', 'Neuigkeiten', 'News') RETURNING id`);
  await sql.query(`INSERT INTO topics (key, name_de, name_en) SELECT 'topic-' || t, 'Thema ' || t, 'Topic ' || t FROM generate_series(1, 3) t`);
  await sql.query(
    `INSERT INTO subscribers (id, email, locale, time_zone, cadence, status, digest_weekday, digest_hour, source, confirmed_at, created_at, updated_at, status_changed_at)
     SELECT ${SUBSCRIBER_ID('i')}, 'bench' || i || '@example.com', CASE WHEN i % 4 = 0 THEN 'en' ELSE 'de' END, ($2::text[])[1 + i % 4],
            CASE WHEN i % 3 = 0 THEN 'biweekly' ELSE 'weekly' END, 'active', 1 + i % 7, 8 + i % 10, 'import',
            $3::timestamptz - interval '400 days', $3::timestamptz - interval '400 days', $3, $3
     FROM generate_series(1, $1::int) i`,
    [SUBSCRIBERS, ZONES, NOW],
  );
  await sql.query(
    `INSERT INTO topic_subscriptions (subscriber_id, topic_id, status, consented_at, consent_source, confirmed_at)
     SELECT id, $1, 'confirmed', created_at, 'import', created_at FROM subscribers`,
    [topic.id],
  );
  await sql.query(`RESET session_replication_role`);
  const { rows: campaigns } = await sql.query(
    `INSERT INTO campaigns (name, topic_id, sender, priority, status, subject_de, subject_en, body_de, body_en, send_at, completed_at, created_at, updated_at)
     SELECT 'Rückblick ' || k, $1, 'marketing', 0, 'completed', 'Neuigkeiten ' || k, 'News ' || k, '<p>Hallo</p>', '<p>Hello</p>', at, at, at, at
     FROM generate_series(1, $2::int) k, LATERAL (SELECT $3::timestamptz - interval '365 days' + (k - 1) * interval '1 day' * 357 / $2 AS at) t
     ORDER BY k RETURNING id`,
    [topic.id, CAMPAIGNS, NOW],
  );
  // The last week's mail, sent: what bounces and complaints name by Message-ID. In `full` in its
  // month's partition (ids above the history's); in `empty` where a fresh install puts it.
  if (months) await ensureMonths(sql);
  await sql.query(
    `INSERT INTO deliveries (${months ? 'id, ' : ''}subscriber_id, class, kind, topic_id, ref_id, sender, locale, status, reason, idempotency_key, attempts,
                             next_attempt_at, message_id, created_at, updated_at, sent_at)
     SELECT ${months ? `${MONTH_ID('at', '1000000000 + i')}, ` : ''}${SUBSCRIBER_ID('1 + (i * 7919) % $2')}, 'marketing', 'campaign', $3, $4, 'marketing', 'de', 'sent', 'sent', 'recent:' || i, 1,
            at, '<r' || i || '@recent.bench>', at, at, at
     FROM generate_series(1, $1::int) i, LATERAL (SELECT $5::timestamptz - interval '7 days' + i * interval '6 days' / $1 AS at) t`,
    [RECENT_SENT, SUBSCRIBERS, topic.id, campaigns[campaigns.length - 1].id, NOW],
  );
  return { topicId: topic.id, campaignIds: campaigns.map((r) => r.id) };
}

/** --rows decisions over the year before the recent week, in id (= time) order, a million per statement. */
async function seedHistory(sql, { topicId, campaignIds }) {
  // Secondary indexes are built once afterwards (as a restore would), not row by row.
  const { rows: indexes } = await sql.query(
    `SELECT i.indexrelid::regclass::text AS name, pg_get_indexdef(i.indexrelid) AS def, c.conname AS constraint_name, pg_get_constraintdef(c.oid) AS constraint_def
     FROM pg_index i LEFT JOIN pg_constraint c ON c.conindid = i.indexrelid AND c.conrelid = i.indrelid
     WHERE i.indrelid = 'deliveries'::regclass AND NOT i.indisprimary`,
  );
  for (const ix of indexes) {
    if (ix.constraint_name) await sql.query(`ALTER TABLE deliveries DROP CONSTRAINT ${ix.constraint_name}`);
    else await sql.query(`DROP INDEX ${ix.name}`);
  }
  const span = 358 * 24 * 3600; // seconds: from a year ago to the recent week
  const started = Date.now();
  for (let from = 1; from <= ROWS; from += CHUNK) {
    const to = Math.min(ROWS, from + CHUNK - 1);
    await sql.query(
      `INSERT INTO deliveries (id, subscriber_id, class, kind, topic_id, ref_id, sender, locale, status, reason, idempotency_key, attempts,
                               next_attempt_at, message_id, created_at, updated_at, sent_at)
       SELECT ${MONTH_ID('at', 'i')}, ${SUBSCRIBER_ID('1 + (i * 7919) % $4::bigint')}, 'marketing', 'campaign', $3, ($5::text[])[1 + ((i - 1) * $6::bigint / $1::bigint)], 'marketing',
              CASE WHEN i % 4 = 0 THEN 'en' ELSE 'de' END,
              CASE WHEN i % 100 < 8 THEN 'sent' WHEN i % 100 < 60 THEN 'expired' ELSE 'suppressed' END,
              CASE WHEN i % 100 < 8 THEN 'sent' WHEN i % 100 < 60 THEN 'expired' WHEN i % 100 < 80 THEN 'suppressed_audience'
                   WHEN i % 100 < 90 THEN 'superseded' WHEN i % 100 < 94 THEN 'suppressed_unsubscribed'
                   WHEN i % 100 < 97 THEN 'suppressed_paused' ELSE 'suppressed_unconfirmed' END,
              'history:' || i, CASE WHEN i % 100 < 8 THEN 1 ELSE 0 END,
              at, CASE WHEN i % 100 < 8 THEN '<h' || i || '@history.bench>' END, at, at, CASE WHEN i % 100 < 8 THEN at END
       FROM generate_series($7::bigint, $8::bigint) i,
            LATERAL (SELECT $2::timestamptz + (i::float8 / $1::float8) * $9::float8 * interval '1 second' AS at) t`,
      [ROWS, new Date(NOW.getTime() - 365 * 86_400_000), topicId, SUBSCRIBERS, campaignIds, CAMPAIGNS, from, to, span],
    );
    const done = to / ROWS;
    const eta = ((Date.now() - started) / done) * (1 - done);
    log(`  history: ${c.fmt(to)} of ${c.fmt(ROWS)} rows (${Math.round(done * 100)} %, ${s(Date.now() - started)} s, about ${s(eta)} s to go)`);
  }
  await sql.query(`SET maintenance_work_mem = '1GB'`);
  await sql.query(`SET max_parallel_maintenance_workers = 2`);
  for (const ix of indexes) {
    const t = Date.now();
    if (ix.constraint_name) await sql.query(`ALTER TABLE deliveries ADD CONSTRAINT ${ix.constraint_name} ${ix.constraint_def}`);
    else await sql.query(ix.def.replace(' ON ONLY ', ' ON ')); // a partitioned index, built on every month
    log(`  index ${ix.name}: ${s(Date.now() - t)} s`);
  }
}

async function sizes(sql) {
  // The decision log's months are summed under `deliveries` (a partitioned table has no storage of its own).
  const { rows } = await sql.query(
    `WITH tables AS (
       SELECT coalesce(parent.relname, c.relname) AS name, c.oid
       FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
       LEFT JOIN pg_inherits i ON i.inhrelid = c.oid LEFT JOIN pg_class parent ON parent.oid = i.inhparent
       WHERE n.nspname = 'public' AND c.relkind = 'r')
     SELECT name, count(*)::int AS parts, sum(pg_total_relation_size(oid)) AS total, sum(pg_relation_size(oid)) AS heap,
            sum(pg_indexes_size(oid)) AS indexes, sum((SELECT greatest(reltuples, 0) FROM pg_class WHERE oid = t.oid))::bigint AS rows
     FROM tables t GROUP BY name ORDER BY 3 DESC LIMIT 8`,
  );
  const { rows: indexes } = await sql.query(
    `SELECT p.indexrelid::regclass::text AS name, sum(pg_relation_size(coalesce(i.inhrelid, p.indexrelid))) AS bytes
     FROM pg_index p LEFT JOIN pg_inherits i ON i.inhparent = p.indexrelid
     WHERE p.indrelid = 'deliveries'::regclass GROUP BY 1 ORDER BY 2 DESC`,
  );
  const mb = (b) => c.round(Number(b) / 2 ** 20, 1);
  return {
    tables: rows.map((r) => ({
      table: r.parts > 1 ? `${r.name} (${r.parts} partitions)` : r.name,
      rows: Number(r.rows),
      totalMiB: mb(r.total),
      heapMiB: mb(r.heap),
      indexesMiB: mb(r.indexes),
    })),
    deliveriesIndexesMiB: Object.fromEntries(indexes.map((r) => [r.name, mb(r.bytes)])),
  };
}

/** One side: its database, the dispatching app (in-process, a fake clock at NOW) and the HTTP app (a process). */
async function openSide(name, url) {
  const sql = new Client({ connectionString: url, application_name: `tactful-bench-history-${name}` });
  await sql.connect();
  const config = loadConfig({
    NODE_ENV: 'development',
    LOG_LEVEL: 'warn',
    DATABASE_URL: url,
    TOKEN_SECRET: 'bench-token-secret-0123456789abcdef0123456789',
    WEBHOOK_SECRET: 'bench-webhook-secret-0123456789abcdef01234567',
    WORKER_ENABLED: 'false',
    SCHEDULER_ENABLED: 'false',
    OUTBOX_DIR: mkdtempSync(join(os.tmpdir(), 'tactful-bench-outbox-')),
  });
  const app = await createApp(config, url, new FakeClock(NOW.toISOString()));
  const port = await freePort();
  const server = await startApp(url, port, { env: { ADMIN_API_KEY: ADMIN_KEY } });
  return { name, url, sql, app, port, server };
}

async function closeSide(side) {
  await side?.server?.stop();
  await side?.app?.close();
  await side?.sql?.end().catch(() => undefined);
}

function get(agent, port, path, headers = {}) {
  return new Promise((resolve) => {
    const t0 = performance.now();
    const req = http.get({ host: '127.0.0.1', port, path, agent, headers }, (res) => {
      res.resume();
      res.on('end', () => resolve({ status: res.statusCode, ms: performance.now() - t0 }));
    });
    req.on('error', () => resolve({ status: 0, ms: performance.now() - t0 }));
  });
}

/** `measure(side, i)` for i < count on both sides, in blocks of `block`, A B A B …: latencies per side. */
async function interleaved(sides, count, block, measure) {
  const out = Object.fromEntries(sides.map((side) => [side.name, []]));
  for (let from = 0; from < count; from += block) {
    for (const side of from % (2 * block) === 0 ? sides : [...sides].reverse()) {
      for (let i = from; i < Math.min(count, from + block); i++) out[side.name].push(await measure(side, i));
    }
  }
  return out;
}

const pct = (list, p) =>
  c.round(
    c.percentile(
      [...list].sort((a, b) => a - b),
      p,
    ),
    2,
  );

async function dispatchAndPlain(side, topicId) {
  const { rows } = await side.sql.query(
    `INSERT INTO campaigns (name, topic_id, sender, priority, status, subject_de, subject_en, body_de, body_en, send_at, created_at, updated_at)
     VALUES ('Heute', $1, 'marketing', 0, 'scheduled', 'Neuigkeiten', 'News', '<p>Hallo</p>', '<p>Hello</p>', $2, $2, $2) RETURNING id`,
    [topicId, NOW],
  );
  await side.sql.query('CHECKPOINT');
  const dispatched = await c.measure(side.sql, () => side.app.get(CampaignDispatchService).dispatchDue());
  if (dispatched.result.decided !== SUBSCRIBERS) throw new Error(`${side.name}: the dispatch decided ${dispatched.result.decided}, not ${SUBSCRIBERS}`);
  log(`  ${side.name}: dispatch of ${c.fmt(SUBSCRIBERS)} in ${s(dispatched.ms)} s (${dispatched.backendCpuS ?? '?'} s backend CPU)`);
  return { campaignId: rows[0].id, dispatched };
}

async function plainInsert(side, topicId) {
  const prefix = campaignKeyPrefix('00000000-0000-4000-8000-00000000beef');
  await side.sql.query('CHECKPOINT');
  await side.sql.query('BEGIN');
  try {
    return await c.measure(side.sql, () =>
      side.sql.query(
        `INSERT INTO deliveries (subscriber_id, class, kind, topic_id, ref_id, sender, locale, status, reason, idempotency_key,
                                 priority, next_attempt_at, expires_at, created_at, updated_at)
         SELECT s.id, 'marketing', 'campaign', ts.topic_id, 'plain', 'marketing', s.locale, 'queued', 'queued', $2 || s.id::text, 0, $3, NULL, $3, $3
         FROM topic_subscriptions ts JOIN subscribers s ON s.id = ts.subscriber_id
         WHERE ts.topic_id = $1 ORDER BY ts.subscriber_id`,
        [topicId, prefix, NOW],
      ),
    );
  } finally {
    await side.sql.query('ROLLBACK');
  }
}

async function claimRate(side) {
  const client = new Client({ connectionString: side.url, application_name: 'tactful-bench-history-claim' });
  await client.connect();
  await c.asWorkerSession(client);
  try {
    const worker = Object.create(DeliveryWorker.prototype);
    Object.assign(worker, {
      db: statementsOn(client),
      config: { workerClaimLeaseSeconds: 600 },
      // A day on: the quiet-hours rows of the dispatch are due too.
      clock: new FakeClock(new Date(NOW.getTime() + 86_400_000).toISOString()),
      workerId: `bench-history:${side.name}`,
    });
    let claimed = 0;
    const latencies = [];
    const run = await c.measure(side.sql, async () => {
      while (claimed < CLAIM_ROWS) {
        const t0 = performance.now();
        const ids = await worker.claim('marketing', 500);
        latencies.push(performance.now() - t0);
        if (ids.length === 0) break;
        claimed += ids.length;
      }
    });
    if (claimed < CLAIM_ROWS) throw new Error(`${side.name}: claimed only ${claimed}`);
    return { rowsPerS: Math.round(claimed / (run.ms / 1000)), claimP50Ms: pct(latencies, 50), claimP99Ms: pct(latencies, 99), backendCpuS: run.backendCpuS };
  } finally {
    await client.end();
  }
}

/** The oldest month of the history: what an 11-month retention at NOW drops. */
const RETENTION_MONTHS = 11;

async function rolledBack(sql, work) {
  await sql.query('BEGIN');
  try {
    return await work();
  } finally {
    await sql.query('ROLLBACK');
  }
}

async function retention(side) {
  // The rotate job's drop of the oldest month (counted per customer into subscriber_history, its
  // references cleared, detached, dropped), rolled back. Its campaigns count as settled.
  const drop = await rolledBack(side.sql, async () => {
    await side.sql.query(`UPDATE campaigns SET progress = '{}'::jsonb WHERE progress IS NULL AND status = 'completed'`);
    const run = await c.measure(side.sql, () => side.sql.query(`SELECT * FROM tactful_rotate_decision_log($1, $2)`, [NOW, RETENTION_MONTHS]));
    const dropped = run.result.rows.filter((r) => r.action === 'dropped');
    return {
      partitions: dropped.map((r) => r.partition),
      rows: dropped.reduce((n, r) => n + Number(r.rows), 0),
      ms: c.round(run.ms, 0),
      backendCpuS: run.backendCpuS,
    };
  });
  // The same month's rows by DELETE (and the rollup triggers over them), as it was before the partitions.
  const cutoff = new Date(Date.UTC(NOW.getUTCFullYear(), NOW.getUTCMonth() - RETENTION_MONTHS, 1));
  const remove = await rolledBack(side.sql, async () => {
    const run = await c.measure(side.sql, () => side.sql.query(`DELETE FROM deliveries WHERE created_at < $1`, [cutoff]));
    return { rows: run.result.rowCount, ms: c.round(run.ms, 0), backendCpuS: run.backendCpuS };
  });
  return { drop, delete: remove };
}

async function main() {
  const started = Date.now();
  const db = await servers();
  const sides = [];
  try {
    // The two databases: `full` is kept with --reuse when it holds this history already.
    let reuseFull = false;
    await db.admin(async (sql) => {
      await sql.query(`DROP DATABASE IF EXISTS ${db.names.empty} WITH (FORCE)`);
      await sql.query(`CREATE DATABASE ${db.names.empty}`);
      if (REUSE) {
        const { rows } = await sql.query(`SELECT shobj_description(oid, 'pg_database') AS note FROM pg_database WHERE datname = $1`, [db.names.full]);
        reuseFull = rows[0]?.note === `history ${ROWS} ${SUBSCRIBERS}`;
      }
      if (!reuseFull) {
        await sql.query(`DROP DATABASE IF EXISTS ${db.names.full} WITH (FORCE)`);
        await sql.query(`CREATE DATABASE ${db.names.full}`);
      }
    });
    const runMigrations = c.dist('database/data-source').runMigrations;
    const seeded = {};
    for (const name of ['empty', 'full']) {
      await runMigrations(db.url[name]);
      if (name === 'full' && reuseFull) {
        log(`full: reusing ${db.names.full} (${c.fmt(ROWS)} decisions)`);
        continue;
      }
      const t = Date.now();
      await c.withClient(db.url[name], async (sql) => {
        seeded[name] = await seedCommon(sql, { months: name === 'full' });
        if (name === 'full') await seedHistory(sql, seeded[name]);
        await sql.query('VACUUM ANALYZE');
        await sql.query('CHECKPOINT');
      });
      log(`${name}: seeded in ${s(Date.now() - t)} s`);
      if (name === 'full') await db.admin((sql) => sql.query(`COMMENT ON DATABASE ${db.names.full} IS 'history ${ROWS} ${SUBSCRIBERS}'`));
    }
    const topicOf = async (url) => c.withClient(url, async (sql) => (await sql.query(`SELECT id FROM topics WHERE key = 'bench'`)).rows[0].id);

    for (const name of ['empty', 'full']) sides.push(await openSide(name, db.url[name]));
    // Both rollups folded, as the fold job would have done by now.
    for (const side of sides) await foldDeliveryCounts(statementsOn(side.sql), new Date());
    const sizesBefore = Object.fromEntries(await Promise.all(sides.map(async (side) => [side.name, await sizes(side.sql)])));
    log(
      `deliveries: empty ${sizesBefore.empty.tables.find((t) => t.table.startsWith('deliveries'))?.totalMiB} MiB, full ${sizesBefore.full.tables.find((t) => t.table.startsWith('deliveries'))?.totalMiB} MiB`,
    );

    // The same customers and mails on both sides.
    const pick = (i) => 1 + ((i * 104_729) % SUBSCRIBERS);
    const sampleIds = (
      await sides[0].sql.query(`SELECT ${SUBSCRIBER_ID('n')}::text AS id FROM unnest($1::int[]) n`, [Array.from({ length: SAMPLES }, (_, i) => pick(i))])
    ).rows.map((r) => r.id);
    const signer = new TokenSigner([TOKEN_SECRET]);
    const tokens = sampleIds.map((id) => signer.sign('preferences', id));
    const messageIds = Array.from({ length: SAMPLES }, (_, i) => `<r${1 + ((i * 7) % RECENT_SENT)}@recent.bench>`);
    const agents = Object.fromEntries(sides.map((side) => [side.name, new http.Agent({ keepAlive: true, maxSockets: 1 })]));
    const auth = { authorization: `Bearer ${ADMIN_KEY}` };
    const ok = (name, r) => {
      if (r.status !== 200) throw new Error(`${name}: HTTP ${r.status}`);
      return r.ms;
    };
    const results = {};

    log('timeline, preferences page, bounce lookup, /metrics (interleaved) …');
    // Warm both alike first (a tenth of the sample), then measure.
    await interleaved(sides, Math.ceil(SAMPLES / 10), 50, (side, i) => get(agents[side.name], side.port, `/v1/subscribers/${sampleIds[i]}/timeline`, auth));
    results.timeline = await interleaved(sides, SAMPLES, 100, async (side, i) =>
      ok('timeline', await get(agents[side.name], side.port, `/v1/subscribers/${sampleIds[i]}/timeline`, auth)),
    );
    results.preferences = await interleaved(sides, SAMPLES, 100, async (side, i) =>
      ok('preferences', await get(agents[side.name], side.port, `/p/${tokens[i]}`)),
    );
    results.bounceLookup = await interleaved(sides, SAMPLES, 100, async (side, i) => {
      const t0 = performance.now();
      const row = await statementsOn(side.sql).row(MailEventQueries.deliveryByMessageId, [messageIds[i]]);
      if (!row) throw new Error(`${side.name}: no mail ${messageIds[i]}`);
      return performance.now() - t0;
    });
    results.metrics = await interleaved(sides, SCRAPES, 5, async (side) => ok('metrics', await get(agents[side.name], side.port, '/metrics')));
    for (const agent of Object.values(agents)) agent.destroy();

    // The heavy ones, once per side, empty first.
    const topics = { empty: await topicOf(db.url.empty), full: await topicOf(db.url.full) };
    const heavy = {};
    for (const side of sides) {
      log(`${side.name}: dispatch, claim, plain insert, retention …`);
      const { campaignId, dispatched } = await dispatchAndPlain(side, topics[side.name]);
      const claim = await claimRate(side);
      const plain = await plainInsert(side, topics[side.name]);
      const retained = await retention(side);
      if (side.name === 'full' && REUSE) {
        // Back to the seeded state, so the next --reuse run measures the same thing.
        await side.sql.query(`DELETE FROM deliveries WHERE ref_id = $1`, [campaignId]);
        await side.sql.query(`DELETE FROM cadence_windows`);
        await side.sql.query(`DELETE FROM campaigns WHERE id = $1`, [campaignId]);
        await side.sql.query(`VACUUM ANALYZE deliveries, cadence_windows`);
      }
      heavy[side.name] = {
        dispatchMs: dispatched.ms,
        dispatchCpuS: dispatched.backendCpuS,
        plainMs: plain.ms,
        plainCpuS: plain.backendCpuS,
        claim,
        retention: retained,
      };
      log(
        `  ${side.name}: claim ${c.fmt(claim.rowsPerS)} rows/s; plain insert ${s(plain.ms)} s; retention: partition drop of ${c.fmt(retained.drop.rows)} rows ${s(retained.drop.ms)} s, DELETE of ${c.fmt(retained.delete.rows)} rows ${s(retained.delete.ms)} s`,
      );
    }

    const rows = [];
    const add = (what, empty, full, unit, goal = GOAL.ratio, lowerIsBetter = true) => {
      const ratio = lowerIsBetter ? full / empty : empty / full;
      rows.push({ what, empty, full, unit, ratio: c.round(ratio, 2), goal, met: ratio <= goal });
    };
    for (const [key, label] of [
      ['timeline', 'GET /v1/subscribers/:id/timeline'],
      ['preferences', 'GET /p/:token (preferences page)'],
      ['bounceLookup', 'bounce lookup by Message-ID'],
      ['metrics', 'GET /metrics'],
    ]) {
      add(`${label}, p50`, pct(results[key].empty, 50), pct(results[key].full, 50), 'ms');
      add(`${label}, p99`, pct(results[key].empty, 99), pct(results[key].full, 99), 'ms');
    }
    add(`dispatch of ${c.fmt(SUBSCRIBERS)}`, s(heavy.empty.dispatchMs), s(heavy.full.dispatchMs), 's');
    add('claim rate (batches of 500, one worker)', heavy.empty.claim.rowsPerS, heavy.full.claim.rowsPerS, 'rows/s', GOAL.ratio, false);
    const dispatchToPlain = { empty: c.round(heavy.empty.dispatchMs / heavy.empty.plainMs, 2), full: c.round(heavy.full.dispatchMs / heavy.full.plainMs, 2) };

    const sizesAfter = await sizes(sides[1].sql);
    const report = {
      bench: 'history',
      date: new Date().toISOString(),
      machine: c.machine(),
      postgres: { ...(await c.postgresInfo(sides[1].sql)), server: db.kind },
      historyRows: ROWS,
      subscribers: SUBSCRIBERS,
      samples: SAMPLES,
      rows,
      dispatchToPlainInsert: { ...dispatchToPlain, goal: GOAL.dispatchToPlain, met: dispatchToPlain.full <= GOAL.dispatchToPlain },
      retention: {
        empty: heavy.empty.retention,
        full: heavy.full.retention,
        note: `the oldest month (retention ${RETENTION_MONTHS} months at ${NOW.toISOString()}): the rotate job's partition drop against a DELETE of the same rows, both rolled back`,
      },
      heavy,
      sizes: { empty: sizesBefore.empty, full: sizesBefore.full, fullAfterRuns: sizesAfter },
      wallS: s(Date.now() - started),
    };
    const file = c.writeResult(ROWS === 50_000_000 ? 'history' : `history-${ROWS}`, report);
    log('');
    log(
      c.table(
        ['measured', 'empty log', `${c.fmt(ROWS)} decisions`, 'unit', 'ratio', 'goal', 'met'],
        rows.map((r) => [r.what, r.empty, r.full, r.unit, `${r.ratio}×`, `≤ ${r.goal}×`, r.met ? 'yes' : 'no']),
        ['l'],
      ),
    );
    log('');
    log(
      `dispatch ÷ plain INSERT … SELECT into deliveries (same run, same database): empty ${dispatchToPlain.empty}×, full ${dispatchToPlain.full}× (goal ≤ ${GOAL.dispatchToPlain}×)`,
    );
    const r = heavy.full.retention;
    log(
      `retention of the oldest month (rolled back): partition drop ${r.drop.partitions.join(', ') || 'none'} (${c.fmt(r.drop.rows)} rows) in ${s(r.drop.ms)} s (${r.drop.backendCpuS ?? '?'} s backend CPU); DELETE of the same ${c.fmt(r.delete.rows)} rows ${s(r.delete.ms)} s (${r.delete.backendCpuS ?? '?'} s)`,
    );
    log('');
    log(
      c.table(
        ['table (full)', 'rows', 'total MiB', 'heap MiB', 'indexes MiB'],
        sizesBefore.full.tables.map((t) => [t.table, t.rows, t.totalMiB, t.heapMiB, t.indexesMiB]),
        ['l'],
      ),
    );
    log('');
    log(
      `deliveries' indexes (full, MiB): ${Object.entries(sizesBefore.full.deliveriesIndexesMiB)
        .map(([k, v]) => `${k} ${v}`)
        .join(', ')}`,
    );
    log(
      `results: ${file}; wall ${s(Date.now() - started)} s; load ${os
        .loadavg()
        .map((l) => c.round(l, 1))
        .join(' ')}`,
    );
  } finally {
    for (const side of sides) await closeSide(side);
    await db.close();
  }
}

main().catch((error) => {
  process.stderr.write(`bench/history failed: ${error && error.stack ? error.stack : error}\n`);
  process.exit(1);
});
