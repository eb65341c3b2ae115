#!/usr/bin/env node
// bench/digest: compose the digests of 100,000 due subscribers with the real DigestsService
// (dist/digests/digests.service.js) in a Nest app context on a seeded database, the way the
// scheduler's digest job calls it: composeDue(), batches of 500 claimed with SKIP LOCKED, each
// one transaction (due subscribers, candidates, entry selection, window reservation, deliveries,
// digest entries, next slot). 20 digest items on 10 topics; subscriber i has confirmed 1 + i % 10
// of the topics (5.5 on average, so 2 to 20 candidates and 2 to 10 entries, DIGEST_MAX_ENTRIES).
// With --composers 1,2 the same again with two composers at once (two instances, ~80 s more).
// Target: report.
//
//   npm run build
//   DATABASE_URL=postgres://postgres:postgres@127.0.0.1:5432/postgres node bench/digest.js
//   node bench/digest.js                         # no DATABASE_URL: embedded PostgreSQL (fsync off)
//
// Options: --subscribers N (default 100,000), --composers LIST (default 1), --trace (time per
// statement), --keep. Writes bench/results/digest.json.
'use strict';
const c = require('./lib/common');

c.requireBuild('digest');
const os = require('node:os');
const { mkdtempSync, rmSync } = require('node:fs');
const { join } = require('node:path');
const { Client } = require('pg');
const { createApp } = c.dist('bootstrap');
const { loadConfig } = c.dist('config/config');
const { FakeClock } = c.dist('common/clock');
const { DigestsService } = c.dist('digests/digests.service');

const SUBSCRIBERS = Number(c.option('subscribers', '100000'));
const COMPOSERS = c.option('composers', '1').split(',').map(Number);
const trace = c.flag('trace') ? c.traceQueries() : null;
const TOPICS = 10;
const ITEMS = 20;
// A Tuesday, 10:00 in Berlin.
const NOW = '2026-03-03T09:00:00Z';
const ZONES = ['Europe/Berlin', 'Europe/Vienna', 'Europe/London', 'America/New_York'];

async function seed(sql) {
  await sql.query(`TRUNCATE digest_entries, deliveries, cadence_windows, marketing_sends, topic_subscriptions, digest_items, subscribers, topics CASCADE`);
  const { rows: topics } = await sql.query(
    `INSERT INTO topics (key, name_de, name_en) SELECT 'topic-' || t, 'Thema ' || t, 'Topic ' || t FROM generate_series(1, $1::int) t RETURNING id, key`,
    [TOPICS],
  );
  const topicIds = topics.sort((a, b) => a.key.localeCompare(b.key, 'en', { numeric: true })).map((t) => t.id);
  await sql.query(
    `INSERT INTO digest_items (topic_id, sender, priority, title_de, title_en, summary_de, summary_en, url, publish_at, expires_at, created_at)
     SELECT ($2::uuid[])[1 + (k - 1) % $3], 'marketing', k % 3, 'Neuigkeit ' || k, 'News ' || k,
            'Zwei Sätze Zusammenfassung zu Neuigkeit ' || k || '.', 'Two sentences about news ' || k || '.',
            'https://example.com/news/' || k, $4::timestamptz - interval '3 days' + k * interval '1 hour',
            CASE WHEN k % 4 = 0 THEN $4::timestamptz + interval '10 days' END, $4::timestamptz - interval '3 days'
     FROM generate_series(1, $1::int) k`,
    [ITEMS, topicIds, TOPICS, NOW],
  );
  // The next-digest trigger and foreign-key checks are off while seeding only; every subscriber
  // is due within the last 30 minutes (no catch-up spread).
  await sql.query(`SET session_replication_role = replica`);
  await sql.query(
    `INSERT INTO subscribers (email, locale, time_zone, cadence, status, digest_weekday, digest_hour, source, confirmed_at,
                              created_at, updated_at, status_changed_at, next_digest_at)
     SELECT 'digest' || i || '@example.com', CASE WHEN i % 4 = 0 THEN 'en' ELSE 'de' END, ($2::text[])[1 + i % 4],
            CASE WHEN i % 3 = 0 THEN 'biweekly' ELSE 'weekly' END, 'active', 2, 10, 'import',
            $3::timestamptz - interval '30 days', $3::timestamptz - interval '30 days', $3::timestamptz - interval '30 days',
            $3::timestamptz - interval '30 days', $3::timestamptz - (i % 1800) * interval '1 second'
     FROM generate_series(1, $1::int) i`,
    [SUBSCRIBERS, ZONES, NOW],
  );
  await sql.query(
    `INSERT INTO topic_subscriptions (subscriber_id, topic_id, status, consented_at, consent_source, confirmed_at)
     SELECT s.id, ($1::uuid[])[1 + (s.n + j) % $2], 'confirmed', s.created_at, 'import', s.created_at
     FROM (SELECT id, created_at, row_number() OVER (ORDER BY email) AS n FROM subscribers) s,
          generate_series(0, $2 - 1) j
     WHERE j < 1 + s.n % $2`,
    [topicIds, TOPICS],
  );
  await sql.query(`RESET session_replication_role`);
  for (const table of ['subscribers', 'topic_subscriptions', 'digest_items', 'topics']) await sql.query(`VACUUM ANALYZE ${table}`);
  await sql.query(`CHECKPOINT`);
  const {
    rows: [counts],
  } = await sql.query(
    `SELECT (SELECT count(*)::int FROM subscribers) AS subscribers, (SELECT count(*)::int FROM topic_subscriptions) AS subscriptions,
            (SELECT count(*)::int FROM digest_items) AS items`,
  );
  return counts;
}

async function compose(sql, digests, composers) {
  const batchTimes = [];
  const instrumented = digests.map((service) => {
    const original = service.composeBatch.bind(service);
    service.composeBatch = async (tx) => {
      const t0 = performance.now();
      const r = await original(tx);
      batchTimes.push(performance.now() - t0);
      return r;
    };
    return service;
  });
  const run = await c.measure(sql, () => Promise.all(instrumented.slice(0, composers).map((service) => service.composeDue())));
  const total = run.result.reduce((a, r) => ({ composed: a.composed + r.composed, empty: a.empty + r.empty, postponed: a.postponed + r.postponed }), {
    composed: 0,
    empty: 0,
    postponed: 0,
  });
  const {
    rows: [check],
  } = await sql.query(
    `SELECT (SELECT count(*)::int FROM deliveries WHERE kind = 'digest' AND status = 'queued') AS queued,
            (SELECT count(*)::int FROM digest_entries) AS entries,
            (SELECT count(*)::int FROM cadence_windows) AS windows,
            (SELECT count(*)::int FROM subscribers WHERE next_digest_at <= $1) AS still_due,
            (SELECT min(next_digest_at) FROM subscribers) AS next_slot`,
    [NOW],
  );
  if (check.queued !== SUBSCRIBERS || check.still_due !== 0 || total.composed !== SUBSCRIBERS) {
    throw new Error(`not every due subscriber got one digest: ${JSON.stringify({ total, check })}`);
  }
  batchTimes.sort((a, b) => a - b);
  return {
    composers,
    ...total,
    wallS: c.round(run.ms / 1000, 2),
    subscribersPerS: Math.round(SUBSCRIBERS / (run.ms / 1000)),
    backendCpuS: run.backendCpuS,
    nodeCpuS: c.round(run.nodeCpuS, 2),
    subscribersPerBackendCpuS: run.backendCpuS ? Math.round(SUBSCRIBERS / run.backendCpuS) : null,
    batches: batchTimes.length,
    batchMs: { p50: Math.round(c.percentile(batchTimes, 50)), p99: Math.round(c.percentile(batchTimes, 99)), max: Math.round(batchTimes.at(-1)) },
    entries: check.entries,
    entriesPerDigest: c.round(check.entries / SUBSCRIBERS, 2),
    windowsReserved: check.windows,
    nextSlot: check.next_slot,
  };
}

async function main() {
  const started = Date.now();
  const db = await c.openDatabase('digest');
  const sql = new Client({ connectionString: db.url });
  await sql.connect();
  const apps = [];
  const outboxDir = mkdtempSync(join(os.tmpdir(), 'tactful-bench-outbox-'));
  try {
    const pg = await c.postgresInfo(sql);
    c.log(`PostgreSQL ${pg.version} (${db.kind}); ${c.fmt(SUBSCRIBERS)} due subscribers, ${ITEMS} items on ${TOPICS} topics`);
    const config = loadConfig({
      NODE_ENV: 'development',
      LOG_LEVEL: 'warn',
      DATABASE_URL: db.url,
      TOKEN_SECRET: 'bench-token-secret-0123456789abcdef0123456789',
      WEBHOOK_SECRET: 'bench-webhook-secret-0123456789abcdef01234567',
      WORKER_ENABLED: 'false',
      SCHEDULER_ENABLED: 'false',
      OUTBOX_DIR: outboxDir,
    });
    // One app context per composer: instances, each with its own pool (DB_POOL_SIZE 10).
    for (let i = 0; i < Math.max(...COMPOSERS); i++) apps.push(await createApp(config, db.url, new FakeClock(NOW)));
    const digests = apps.map((app) => app.get(DigestsService));

    const results = [];
    for (const composers of COMPOSERS) {
      const t = Date.now();
      const counts = await seed(sql);
      const seedS = c.round((Date.now() - t) / 1000, 1);
      const r = await compose(sql, digests, composers);
      results.push({ ...r, seedS, seeded: counts });
      c.log(
        `${composers} composer(s): ${c.fmt(r.composed)} digests in ${r.wallS} s = ${c.fmt(r.subscribersPerS)} subscribers/s ` +
          `(${r.batches} batches, p50 ${r.batchMs.p50} ms, p99 ${r.batchMs.p99} ms; backend CPU ${r.backendCpuS ?? '?'} s, node CPU ${r.nodeCpuS} s; ` +
          `${r.entriesPerDigest} entries per digest; seeded ${c.fmt(counts.subscriptions)} subscriptions in ${seedS} s)`,
      );
    }
    const report = {
      bench: 'digest',
      date: new Date().toISOString(),
      machine: c.machine(),
      postgres: { ...pg, server: db.kind },
      subscribers: SUBSCRIBERS,
      topics: TOPICS,
      items: ITEMS,
      batchSize: 500,
      results,
      target: 'report',
      statements: trace ? trace() : undefined,
      wallS: c.round((Date.now() - started) / 1000, 1),
    };
    const file = c.writeResult('digest', report);
    c.log('');
    c.log(
      c.table(
        [
          'composers',
          'due subscribers',
          'digests composed',
          'wall',
          'subscribers/s',
          'batch of 500 p50 / p99',
          'backend CPU',
          'node CPU',
          'subscribers per backend CPU-s',
          'entries per digest',
        ],
        results.map((r) => [
          r.composers,
          SUBSCRIBERS,
          r.composed,
          `${r.wallS} s`,
          r.subscribersPerS,
          `${r.batchMs.p50} / ${r.batchMs.p99} ms`,
          r.backendCpuS === null ? 'n/a' : `${r.backendCpuS} s`,
          `${r.nodeCpuS} s`,
          r.subscribersPerBackendCpuS ?? 'n/a',
          r.entriesPerDigest,
        ]),
      ),
    );
    c.log(`results: ${file}; wall ${report.wallS} s`);
    if (trace) {
      c.log('');
      c.log(
        c.table(
          ['share', 'ms', 'calls', 'statement'],
          trace().map((r) => [`${r.share} %`, r.ms, r.calls, '`' + r.sql.replace(/\|/g, '\\|') + '`']),
          ['r', 'r', 'r', 'l'],
        ),
      );
    }
  } finally {
    for (const app of apps) await app.close();
    rmSync(outboxDir, { recursive: true, force: true });
    await sql.end();
    await db.close();
  }
}

main().catch((error) => {
  process.stderr.write(`bench/digest failed: ${error && error.stack ? error.stack : error}\n`);
  process.exit(1);
});
