#!/usr/bin/env node
// bench/enqueue: decide and enqueue one campaign for 1,000,000 subscribers of a topic with the
// real CampaignDispatchService (set-based INSERT … SELECT per batch, compare-and-set window
// reservation), and, in the same run, a plain INSERT … SELECT of the same rows (same columns,
// same idempotency keys) into a copy of `deliveries` with every index, check and foreign key it
// has, in the planner's plan and in subscriber order; the faster one is the baseline.
// Target (DESIGN.md): dispatch ≤ 8 s and ≤ 2× the plain insert.
//
//   npm run build
//   DATABASE_URL=postgres://postgres:postgres@127.0.0.1:5432/postgres node bench/enqueue.js
//   node bench/enqueue.js                       # no DATABASE_URL: embedded PostgreSQL (fsync off)
//
// Options: --subscribers N (default 1,000,000), --keep (leave the bench database behind).
// With DATABASE_URL the database `tactful_bench_enqueue` is dropped and created on that server;
// the database named in the URL is only used to connect. Writes bench/results/enqueue.json and
// the EXPLAIN (ANALYZE, BUFFERS) of a first dispatch batch (fresh windows, then all held) to
// bench/plans/enqueue-1m.txt (enqueue-<N>.* for other sizes).
'use strict';
const c = require('./lib/common');

c.requireBuild('enqueue');
const { mkdirSync, mkdtempSync, writeFileSync, appendFileSync } = require('node:fs');
const os = require('node:os');
const { join } = require('node:path');
const { Client } = require('pg');
const { createApp } = c.dist('bootstrap');
const { loadConfig } = c.dist('config/config');
const { FakeClock } = c.dist('common/clock');
const { CampaignDispatchService, campaignKeyPrefix } = c.dist('campaigns/campaign-dispatch.service');
const { CadenceService } = c.dist('cadence/cadence.service');
const { CampaignQueries, compileAudience, dispatchBatchSql } = c.dist('campaigns/campaigns.queries');

const SUBSCRIBERS = Number(c.option('subscribers', '1000000'));
// A Tuesday, 10:00 in Berlin: most subscribers are outside quiet hours, New York is not (04:00).
const NOW = '2026-03-03T09:00:00Z';
const ZONES = ['Europe/Berlin', 'Europe/Vienna', 'Europe/London', 'America/New_York'];
const seconds = (ms) => c.round(ms / 1000, 3);
const log = c.log;

async function seed(sql, topicId) {
  // Triggers (the next-digest trigger, foreign-key checks) are off while seeding only.
  await sql.query(`SET session_replication_role = replica`);
  await sql.query(
    `INSERT INTO subscribers (email, locale, time_zone, cadence, status, attributes, digest_weekday, digest_hour, source, confirmed_at, created_at, updated_at, status_changed_at)
     SELECT 'bench' || i || '@example.com', CASE WHEN i % 4 = 0 THEN 'en' ELSE 'de' END, ($2::text[])[1 + i % 4],
            CASE WHEN i % 3 = 0 THEN 'biweekly' ELSE 'weekly' END, 'active',
            jsonb_build_object('segment', CASE WHEN i % 5 < 2 THEN 'retail' ELSE 'industry' END),
            1 + i % 7, 8 + i % 10, 'import', $3::timestamptz - interval '30 days', $3, $3, $3
     FROM generate_series(1, $1::int) i`,
    [SUBSCRIBERS, ZONES, NOW],
  );
  await sql.query(
    `INSERT INTO topic_subscriptions (subscriber_id, topic_id, status, consented_at, consent_source, confirmed_at)
     SELECT id, $1, 'confirmed', created_at, 'import', created_at FROM subscribers`,
    [topicId],
  );
  await sql.query(`RESET session_replication_role`);
  await sql.query(`VACUUM ANALYZE subscribers`);
  await sql.query(`VACUUM ANALYZE topic_subscriptions`);
}

async function createCampaign(sql, topicId, name) {
  const { rows } = await sql.query(
    `INSERT INTO campaigns (name, topic_id, sender, priority, status, subject_de, subject_en, body_de, body_en, send_at, created_at, updated_at)
     VALUES ($1, $2, 'marketing', 0, 'scheduled', 'Neuigkeiten', 'News', '<p>Hallo</p>', '<p>Hello</p>', $3, $3, $3) RETURNING id`,
    [name, topicId, NOW],
  );
  return rows[0].id;
}

/** The statement dispatchBatch runs (src/campaigns/campaign-dispatch.service.ts), for EXPLAIN. */
function batchStatement(campaignId, topicId, batchSize, quiet) {
  const params = [
    topicId,
    '00000000-0000-0000-0000-000000000000',
    batchSize,
    new Date(NOW),
    campaignKeyPrefix(campaignId),
    campaignId,
    'marketing',
    0,
    null,
    quiet.start,
    quiet.end,
  ];
  const text = dispatchBatchSql(compileAudience(null, params, 's'));
  return { text, params };
}

async function main() {
  const started = Date.now();
  const db = await c.openDatabase('enqueue');
  let app;
  try {
    const sql = new Client({ connectionString: db.url });
    await sql.connect();
    const [{ version }] = (await sql.query(`SELECT current_setting('server_version') AS version`)).rows;
    const settings = Object.fromEntries(
      (
        await sql.query(
          `SELECT name, current_setting(name) AS value FROM pg_settings
           WHERE name IN ('shared_buffers', 'fsync', 'synchronous_commit', 'max_wal_size', 'work_mem', 'jit', 'autovacuum')`,
        )
      ).rows.map((r) => [r.name, r.value]),
    );
    log(`PostgreSQL ${version} (${db.kind}); ${SUBSCRIBERS.toLocaleString('en')} subscribers of one topic`);

    const {
      rows: [topic],
    } = await sql.query(`INSERT INTO topics (key, name_de, name_en) VALUES ('bench', 'Bench', 'Bench') RETURNING id`);
    const t = Date.now();
    await seed(sql, topic.id);
    const seedMs = Date.now() - t;
    log(`seeded in ${seconds(seedMs)} s`);

    // The plain baseline: the same rows into a table shaped exactly like deliveries (columns,
    // defaults, checks, identity, every index, and every foreign key deliveries has), in one
    // INSERT … SELECT.
    await sql.query(`CREATE TABLE deliveries_plain (LIKE deliveries INCLUDING ALL)`);
    const foreignKeys = (
      await sql.query(`SELECT pg_get_constraintdef(oid) AS def FROM pg_constraint WHERE conrelid = 'deliveries'::regclass AND contype = 'f' ORDER BY conname`)
    ).rows;
    for (const { def } of foreignKeys) await sql.query(`ALTER TABLE deliveries_plain ADD ${def}`);
    const plainCampaign = await createCampaign(sql, topic.id, 'plain');
    await sql.query(`UPDATE campaigns SET status = 'draft' WHERE id = $1`, [plainCampaign]);

    const clock = new FakeClock(NOW);
    const config = loadConfig({
      NODE_ENV: 'development',
      LOG_LEVEL: 'warn',
      DATABASE_URL: db.url,
      TOKEN_SECRET: 'bench-token-secret-0123456789abcdef0123456789',
      WEBHOOK_SECRET: 'bench-webhook-secret-0123456789abcdef01234567',
      WORKER_ENABLED: 'false',
      SCHEDULER_ENABLED: 'false',
      OUTBOX_DIR: mkdtempSync(join(os.tmpdir(), 'tactful-bench-outbox-')),
    });
    app = await createApp(config, db.url, clock);
    const dispatch = app.get(CampaignDispatchService);

    // Profile one batch first (rolled back, then vacuumed away): the plan of the real statement.
    const campaignId = await createCampaign(sql, topic.id, 'bench');
    const { text, params } = batchStatement(campaignId, topic.id, dispatch.batchSize, app.get(CadenceService).quietHours);
    await sql.query('BEGIN');
    await sql.query(CampaignQueries.batchSettings.text);
    const plan = (await sql.query(`EXPLAIN (ANALYZE, BUFFERS, VERBOSE) ${text}`, params)).rows.map((r) => r['QUERY PLAN']).join('\n');
    await sql.query('ROLLBACK');
    await sql.query(`VACUUM ANALYZE deliveries`);
    await sql.query(`VACUUM ANALYZE cadence_windows`);
    mkdirSync(join(__dirname, 'plans'), { recursive: true });
    const planFile = join(__dirname, 'plans', SUBSCRIBERS === 1_000_000 ? 'enqueue-1m.txt' : `enqueue-${SUBSCRIBERS}.txt`);
    writeFileSync(
      planFile,
      `-- bench/enqueue.js ${new Date().toISOString()}: first dispatch batch (${dispatch.batchSize} candidates, all eligible, no window yet)\n` +
        `-- of ${SUBSCRIBERS} subscribers, PostgreSQL ${version} (${db.kind}); run in a transaction and rolled back.\n\n${text}\n\n${plan}\n`,
    );

    // 1. Plain INSERT … SELECT of the same rows, in two plans: the planner's own (a hash join, rows
    //    in heap order, so the unique key and the other indexes are written in random order) and
    //    in subscriber order, as the dispatch writes them (ORDER BY: merge join over the indexes).
    //    The faster of the two is the baseline. Run before and after the dispatch: the spread
    //    shows how much the neighbours' load moved the wall times.
    /** The campaign's rows (the same columns and keys the dispatch writes) into `table`, timed. */
    const insertSame = (table, ordered) =>
      c.measure(sql, () =>
        sql.query(
          `INSERT INTO ${table} (subscriber_id, class, kind, topic_id, ref_id, sender, locale, status, reason, idempotency_key,
                                 priority, next_attempt_at, expires_at, created_at, updated_at)
           SELECT s.id, 'marketing', 'campaign', ts.topic_id, $2::text, 'marketing', s.locale, 'queued', 'queued', $3 || s.id::text, 0, $4, NULL, $4, $4
           FROM topic_subscriptions ts JOIN subscribers s ON s.id = ts.subscriber_id
           WHERE ts.topic_id = $1${ordered ? ' ORDER BY ts.subscriber_id' : ''}`,
          [topic.id, plainCampaign, campaignKeyPrefix(plainCampaign), NOW],
        ),
      );
    const plainInsert = async (label, ordered) => {
      await sql.query(`TRUNCATE deliveries_plain`);
      await sql.query(`CHECKPOINT`);
      const run = await insertSame('deliveries_plain', ordered);
      log(
        `plain INSERT … SELECT, ${ordered ? 'in subscriber order' : "planner's plan"} (${label}): ${run.result.rowCount.toLocaleString('en')} rows in ${seconds(run.ms)} s wall, ${run.backendCpuS ?? '?'} s backend CPU`,
      );
      return run;
    };
    const plainUnordered = [await plainInsert('before', false)];
    const plainOrdered = [await plainInsert('before', true)];

    // 1b. The floor of this machine: the same rows into a table with only the identity primary key
    //     and the unique idempotency key (no other index, no foreign key, no check): the shape of
    //     DESIGN.md's fact "plain INSERT … SELECT of 1M outbox rows with a unique idempotency key".
    await sql.query(`CREATE TABLE deliveries_bare (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, subscriber_id uuid NOT NULL, class text NOT NULL,
      kind text NOT NULL, topic_id uuid, ref_id text, sender text, locale text NOT NULL, status text NOT NULL, reason text NOT NULL,
      idempotency_key text NOT NULL UNIQUE, priority int NOT NULL, next_attempt_at timestamptz NOT NULL, expires_at timestamptz,
      created_at timestamptz NOT NULL, updated_at timestamptz NOT NULL)`);
    await sql.query(`CHECKPOINT`);
    const bare = await insertSame('deliveries_bare', true);
    log(
      `bare INSERT … SELECT (primary key + unique key only): ${bare.result.rowCount.toLocaleString('en')} rows in ${seconds(bare.ms)} s wall, ${bare.backendCpuS ?? '?'} s backend CPU`,
    );
    await sql.query(`DROP TABLE deliveries_bare`);

    // 2. The real dispatch (every batch timed), fresh windows: every candidate reserves one.
    const batches = [];
    const original = dispatch.dispatchBatch.bind(dispatch);
    dispatch.dispatchBatch = async (...a) => {
      const b0 = Date.now();
      const result = await original(...a);
      batches.push(Date.now() - b0);
      return result;
    };
    await sql.query(`CHECKPOINT`);
    const first = await c.measure(sql, () => dispatch.dispatchDue());
    const result = first.result;
    const dispatchMs = first.ms;
    const firstBatches = batches.splice(0);
    const reasons = (await sql.query(`SELECT status, reason, count(*)::int AS n FROM deliveries WHERE ref_id = $1 GROUP BY 1, 2 ORDER BY 3 DESC`, [campaignId]))
      .rows;
    const windows = (await sql.query(`SELECT count(*)::int AS n FROM cadence_windows`)).rows[0].n;
    log(
      `dispatch (fresh windows): ${result.decided.toLocaleString('en')} decisions in ${seconds(dispatchMs)} s wall, ${first.backendCpuS ?? '?'} s backend CPU; ${windows.toLocaleString('en')} windows reserved; ${reasons.map((r) => `${r.reason}=${r.n}`).join(', ')}`,
    );
    if (result.decided !== SUBSCRIBERS || windows !== SUBSCRIBERS) throw new Error('the dispatch did not decide every subscriber once');
    plainOrdered.push(await plainInsert('after', true));
    plainUnordered.push(await plainInsert('after', false));
    const mean = (runs, key) => (runs.some((r) => r[key] === null) ? null : runs.reduce((a, r) => a + r[key], 0) / runs.length);
    const plainPlans = {
      unordered: { ms: mean(plainUnordered, 'ms'), cpuS: mean(plainUnordered, 'backendCpuS') },
      ordered: { ms: mean(plainOrdered, 'ms'), cpuS: mean(plainOrdered, 'backendCpuS') },
    };
    const baseline = plainPlans.ordered.ms <= plainPlans.unordered.ms ? 'ordered' : 'unordered';
    const plainMs = plainPlans[baseline].ms;
    const plainCpuS = plainPlans[baseline].cpuS;

    // 3. A second campaign to the same topic right after: every window is held, all defer.
    const secondId = await createCampaign(sql, topic.id, 'bench second');
    const held = batchStatement(secondId, topic.id, dispatch.batchSize, app.get(CadenceService).quietHours);
    await sql.query('BEGIN');
    await sql.query(CampaignQueries.batchSettings.text);
    const heldPlan = (await sql.query(`EXPLAIN (ANALYZE, BUFFERS, VERBOSE) ${held.text}`, held.params)).rows.map((r) => r['QUERY PLAN']).join('\n');
    await sql.query('ROLLBACK');
    appendFileSync(planFile, `\n\n-- The first batch of a second campaign right after: every window held, every candidate deferred.\n\n${heldPlan}\n`);
    await sql.query(`VACUUM ANALYZE deliveries`);
    await sql.query(`VACUUM ANALYZE cadence_windows`);
    await sql.query(`CHECKPOINT`);
    const secondRun = await c.measure(sql, () => dispatch.dispatchDue());
    const second = secondRun.result;
    const secondMs = secondRun.ms;
    const secondBatches = batches.splice(0);
    const secondReasons = (await sql.query(`SELECT reason, count(*)::int AS n FROM deliveries WHERE ref_id = $1 GROUP BY 1 ORDER BY 2 DESC`, [secondId])).rows;
    log(
      `dispatch (windows held): ${second.decided.toLocaleString('en')} decisions in ${seconds(secondMs)} s wall, ${secondRun.backendCpuS ?? '?'} s backend CPU; ${secondReasons.map((r) => `${r.reason}=${r.n}`).join(', ')}`,
    );
    await sql.end();

    const ratio = dispatchMs / plainMs;
    const stats = (list) => ({
      count: list.length,
      minS: seconds(Math.min(...list)),
      maxS: seconds(Math.max(...list)),
      meanS: seconds(list.reduce((a, b) => a + b, 0) / list.length),
    });
    const report = {
      bench: 'enqueue',
      date: new Date().toISOString(),
      machine: c.machine(),
      postgres: { version, server: db.kind, settings },
      subscribers: SUBSCRIBERS,
      batchSize: dispatch.batchSize,
      seedS: seconds(seedMs),
      bareInsertS: seconds(bare.ms),
      bareInsertCpuS: bare.backendCpuS,
      plainInsertS: seconds(plainMs),
      plainBaseline: baseline,
      plainInsertRunsS: { ordered: plainOrdered.map((r) => seconds(r.ms)), unordered: plainUnordered.map((r) => seconds(r.ms)) },
      plainInsertCpuS: { ordered: plainPlans.ordered.cpuS, unordered: plainPlans.unordered.cpuS },
      dispatchS: seconds(dispatchMs),
      ratio: Math.round(ratio * 100) / 100,
      backendCpuS: { plainInsert: plainCpuS, dispatch: first.backendCpuS, secondCampaignAllHeld: secondRun.backendCpuS },
      cpuRatio: plainCpuS && first.backendCpuS ? Math.round((first.backendCpuS / plainCpuS) * 100) / 100 : null,
      dispatchBatches: stats(firstBatches),
      reasons: Object.fromEntries(reasons.map((r) => [r.reason, r.n])),
      secondCampaignAllHeldS: seconds(secondMs),
      secondCampaignBatches: stats(secondBatches),
      target: { dispatchS: 8, ratio: 2 },
      met: dispatchMs <= 8000 && ratio <= 2,
      plan: planFile.replace(c.ROOT + '/', ''),
      wallS: seconds(Date.now() - started),
    };
    const resultFile = c.writeResult(SUBSCRIBERS === 1_000_000 ? 'enqueue' : `enqueue-${SUBSCRIBERS}`, report);
    log('');
    const cpu = (v) => (v === null ? 'n/a' : `${Math.round(v * 10) / 10} s`);
    log(
      `| subscribers | plain INSERT … SELECT, in subscriber order / planner's plan (2 runs each) | dispatch (decide + reserve + enqueue) | ratio to the faster plain | backend CPU plain / dispatch (ratio) | 2nd campaign, all held | target met |`,
    );
    log(`| ---: | ---: | ---: | ---: | ---: | ---: | :---: |`);
    log(
      `| ${SUBSCRIBERS.toLocaleString('en')} | ${report.plainInsertRunsS.ordered.join(' / ')} s / ${report.plainInsertRunsS.unordered.join(' / ')} s | ${report.dispatchS} s | ${report.ratio}× | ` +
        `${cpu(plainCpuS)} / ${cpu(first.backendCpuS)} (${report.cpuRatio ?? 'n/a'}×) | ${report.secondCampaignAllHeldS} s | ${report.met ? 'yes' : 'no'} |`,
    );
    log(`floor: the same rows into a table with only the primary key and the unique key: ${report.bareInsertS} s (${cpu(bare.backendCpuS)} backend CPU)`);
    log(
      `batches: ${firstBatches.length} × ${dispatch.batchSize}, ${report.dispatchBatches.minS}–${report.dispatchBatches.maxS} s each; plan: ${report.plan}; results: ${resultFile}`,
    );
  } finally {
    await app?.close();
    await db.close();
  }
}

main().catch((error) => {
  process.stderr.write(`bench/enqueue failed: ${error && error.stack ? error.stack : error}\n`);
  process.exit(1);
});
