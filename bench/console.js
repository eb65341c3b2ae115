#!/usr/bin/env node
// bench/console: how fast the console's heaviest pages answer with real volumes, on the built
// service started as a child process (`node dist/main.js`, NODE_ENV=production, worker and
// scheduler off): a customer with 1,000 decisions (their page: profile, consent, outlook, the
// newest 200 decisions in words, campaign titles), and a campaign of 1,000,000 recipients (its
// page: facts, progress, feedback, decisions by reason over time from the per-campaign rollup), once
// while it sends (progress read from the rollup on every load) and once completed (progress
// stored), and its decisions by reason (the stats page, from the rollup). Seeded with set-based SQL
// (triggers off, the rollups counted once afterwards);
// the requests carry a real console session (signed in with ADMIN_API_KEY through the sign-in
// form). Each page is loaded --runs times after --warmup loads, one request at a time.
//
//   npm run build
//   DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres node bench/console.js
//   node bench/console.js --recipients 100000 --runs 20
//
// Target (issue 23): each page well under a second. Writes bench/results/console.json.
'use strict';
const c = require('./lib/common');

c.requireBuild('console');
const http = require('node:http');
const { Client } = require('pg');
const { freePort, startApp } = require('./lib/http-load');

const RECIPIENTS = Number(c.option('recipients', '1000000'));
const DECISIONS = Number(c.option('decisions', '1000'));
const RUNS = Number(c.option('runs', '30'));
const WARMUP = Number(c.option('warmup', '3'));
const ADMIN_KEY = 'tk_bench-console-admin-key-0123456789abcdef';
const TARGET_MS = 1000;

async function seed(sql) {
  const { rows: topics } = await sql.query(
    `INSERT INTO topics (key, name_de, name_en, description_de, description_en)
     VALUES ('trade-fairs', 'Messen', 'Trade fairs', '', ''), ('offers', 'Angebote', 'Offers', '', '') RETURNING id, key`,
  );
  const topic = topics.find((t) => t.key === 'trade-fairs').id;
  await sql.query(`SET session_replication_role = replica`); // triggers and FK checks, while seeding only
  await sql.query(
    `INSERT INTO subscribers (email, locale, time_zone, cadence, status, digest_weekday, digest_hour, source, confirmed_at,
                              created_at, updated_at, status_changed_at, next_digest_at)
     SELECT 'c' || i || '@example.com', CASE WHEN i % 4 = 0 THEN 'en' ELSE 'de' END, 'Europe/Berlin', 'weekly', 'active', 1, 9, 'import',
            now() - interval '400 days', now() - interval '400 days', now() - interval '400 days', now() - interval '400 days', now() + interval '3 days'
     FROM generate_series(1, $1::int) i`,
    [RECIPIENTS],
  );
  await sql.query(
    `INSERT INTO topic_subscriptions (subscriber_id, topic_id, status, consented_at, consent_source, confirmed_at)
     SELECT id, $1, 'confirmed', created_at, 'import', created_at FROM subscribers`,
    [topic],
  );
  await sql.query(
    `INSERT INTO cadence_windows (subscriber_id, last_marketing_at, window_days, time_zone)
     SELECT id, now() - interval '2 days', 7, time_zone FROM subscribers`,
  );
  // 60 older campaigns (the customer's decisions name them), and the big one.
  const { rows: older } = await sql.query(
    `INSERT INTO campaigns (name, topic_id, sender, priority, status, subject_de, subject_en, body_de, body_en, send_at, created_at, updated_at, started_at, finished_at, completed_at)
     SELECT 'older ' || i, $1, 'marketing', 0, 'completed', 'Ältere Nachricht ' || i, 'Older news ' || i, '<p>Hallo</p>', '<p>Hello</p>',
            now() - i * interval '7 days', now() - i * interval '7 days', now() - i * interval '7 days', now() - i * interval '7 days', now() - i * interval '7 days', now() - i * interval '7 days'
     FROM generate_series(1, 60) i RETURNING id`,
    [topic],
  );
  const {
    rows: [big],
  } = await sql.query(
    `INSERT INTO campaigns (name, topic_id, sender, priority, status, subject_de, subject_en, body_de, body_en, send_at, created_at, updated_at, started_at, finished_at)
     VALUES ('one million', $1, 'marketing', 0, 'sending', 'Die Messe zieht um', 'The fair moves', '<p>Hallo</p>', '<p>Hello</p>', now(), now(), now(), now(), now())
     RETURNING id`,
    [topic],
  );
  // Its decisions: 70 % sent, 20 % folded into the next digest, 8 % suppressed, 2 % still queued.
  await sql.query(
    `INSERT INTO deliveries (subscriber_id, class, kind, topic_id, ref_id, locale, status, reason, idempotency_key, next_attempt_at, created_at, updated_at, sent_at)
     SELECT s.id, 'marketing', 'campaign', $1, $2, s.locale,
            (ARRAY['sent','sent','sent','sent','sent','sent','sent','deferred','deferred','suppressed'])[1 + n % 10],
            (ARRAY['sent','sent','sent','sent','sent','sent','sent','deferred_cadence','deferred_cadence','suppressed_paused'])[1 + n % 10],
            'campaign:' || $2 || ':' || s.id, now(), now(), now(), CASE WHEN n % 10 < 7 THEN now() END
     FROM (SELECT id, locale, row_number() OVER () AS n FROM subscribers) s`,
    [topic, big.id],
  );
  await sql.query(`UPDATE deliveries SET status = 'queued', reason = 'queued', sent_at = NULL WHERE ref_id = $1 AND id % 50 = 0`, [big.id]);
  // The customer: DECISIONS decisions over the older campaigns and digests, of every kind of outcome.
  const {
    rows: [anna],
  } = await sql.query(`SELECT id FROM subscribers WHERE email = 'c1@example.com'`);
  await sql.query(
    `INSERT INTO deliveries (subscriber_id, class, kind, topic_id, ref_id, locale, status, reason, idempotency_key, next_attempt_at, created_at, updated_at, sent_at)
     SELECT $1, 'marketing', 'campaign', $2, ($3::uuid[])[1 + i % 60]::text, 'de',
            (ARRAY['sent','deferred','suppressed','expired','suppressed'])[1 + i % 5],
            (ARRAY['sent','deferred_cadence','suppressed_duplicate','expired','suppressed_audience'])[1 + i % 5],
            'anna:' || i, now() - i * interval '1 hour', now() - i * interval '1 hour', now() - i * interval '1 hour',
            CASE WHEN i % 5 = 0 THEN now() - i * interval '1 hour' END
     FROM generate_series(1, $4::int) i`,
    [anna.id, topic, older.map((o) => o.id), DECISIONS],
  );
  await sql.query(`RESET session_replication_role`);
  // The rollups the triggers keep (they were off while seeding), counted once as their migrations do.
  await sql.query(`INSERT INTO delivery_counts (class, status, reason, n) SELECT class, status, reason, count(*) FROM deliveries GROUP BY 1, 2, 3`);
  await sql.query(
    `INSERT INTO campaign_counts (campaign_id, hour, status, reason, via_digest, n)
     SELECT ref_id, date_bin('1 hour', updated_at, timestamptz '2000-01-01 00:00:00+00'), status, reason, digest_delivery_id IS NOT NULL, count(*)
     FROM deliveries WHERE kind = 'campaign' AND ref_id IS NOT NULL GROUP BY 1, 2, 3, 4, 5`,
  );
  for (const table of ['subscribers', 'topic_subscriptions', 'deliveries', 'cadence_windows', 'campaigns', 'topics'])
    await sql.query(`VACUUM ANALYZE ${table}`);
  await sql.query(`CHECKPOINT`);
  return { anna: anna.id, campaign: big.id };
}

/** One request, one at a time, its whole answer (the page's text is checked, its time measured). */
function request(port, method, path, { body, cookie } = {}) {
  return new Promise((resolve, reject) => {
    const headers = {
      ...(cookie ? { cookie } : {}),
      ...(body ? { 'content-type': 'application/x-www-form-urlencoded', 'content-length': Buffer.byteLength(body) } : {}),
    };
    const started = performance.now();
    const req = http.request({ host: '127.0.0.1', port, method, path, headers }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (d) => (text += d));
      res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, text, ms: performance.now() - started }));
    });
    req.on('error', reject);
    if (body) req.write(body);
    req.end();
  });
}

async function timePage(port, cookie, path, expect) {
  for (let i = 0; i < WARMUP; i++) await request(port, 'GET', path, { cookie });
  const times = [];
  let bytes = 0;
  for (let i = 0; i < RUNS; i++) {
    const res = await request(port, 'GET', path, { cookie });
    if (res.status !== 200 || !expect.test(res.text)) throw new Error(`${path}: ${res.status} ${res.text.slice(0, 300)}`);
    times.push(res.ms);
    bytes = Buffer.byteLength(res.text);
  }
  times.sort((a, b) => a - b);
  return {
    path,
    runs: RUNS,
    p50Ms: c.round(c.percentile(times, 50), 1),
    p95Ms: c.round(c.percentile(times, 95), 1),
    maxMs: c.round(times[times.length - 1], 1),
    kB: c.round(bytes / 1024, 1),
  };
}

(async () => {
  const db = await c.openDatabase('console');
  let app;
  let sql;
  try {
    sql = new Client({ connectionString: db.url });
    sql.on('error', () => undefined); // the database is dropped under it at the end
    await sql.connect();
    c.log(`seeding ${c.fmt(RECIPIENTS)} recipients and a customer with ${c.fmt(DECISIONS)} decisions …`);
    const seeded = await c.measure(sql, () => seed(sql));
    const { anna, campaign } = seeded.result;
    c.log(`seeded in ${c.round(seeded.ms / 1000, 1)} s`);
    const port = await freePort();
    app = await startApp(db.url, port, { env: { ADMIN_API_KEY: ADMIN_KEY } });
    const signedIn = await request(port, 'POST', '/console/sign-in', {
      body: new URLSearchParams({ apiKey: ADMIN_KEY, lang: 'en', next: '/console' }).toString(),
    });
    if (signedIn.status !== 200) throw new Error(`sign-in: ${signedIn.status}`);
    const cookie = String(signedIn.headers['set-cookie']).split(';')[0];

    const pages = [];
    pages.push({ page: `customer with ${c.fmt(DECISIONS)} decisions`, ...(await timePage(port, cookie, `/console/customers/${anna}`, /Every decision/)) });
    pages.push({ page: 'customer lookup by address', ...(await timePage(port, cookie, '/console/customers?email=c1%40example.com', /Every decision/)) });
    pages.push({
      page: `campaign of ${c.fmt(RECIPIENTS)}, sending (progress from the rollup)`,
      ...(await timePage(port, cookie, `/console/campaigns/${campaign}`, /data-testid="over-time-table"/)),
    });
    pages.push({
      page: `its decisions by reason (stats page, rollup)`,
      ...(await timePage(port, cookie, `/console/campaigns/${campaign}/stats`, /data-testid="stats"/)),
    });
    // The progress job's last step: nothing left queued, the counts stored once.
    await sql.query(`UPDATE deliveries SET status = 'sent', reason = 'sent', sent_at = now() WHERE ref_id = $1 AND status = 'queued'`, [campaign]);
    const progress = await request(port, 'GET', `/console/campaigns/${campaign}`, { cookie });
    if (progress.status !== 200) throw new Error('campaign page');
    // What the campaign-progress job stores when nothing is left to hand over (the shape of CampaignProgress).
    await sql.query(
      `UPDATE campaigns SET status = 'completed', completed_at = now(),
         progress = (SELECT jsonb_build_object('queued', 0, 'sending', 0, 'sent', count(*) FILTER (WHERE status = 'sent'), 'deferred', count(*) FILTER (WHERE status = 'deferred'),
           'sentInDigest', 0, 'suppressed', count(*) FILTER (WHERE status = 'suppressed'), 'expired', 0, 'failed', 0, 'unknown', 0, 'total', count(*), 'percentDone', 100,
           'countedAt', to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')) FROM deliveries WHERE ref_id = $1::text)
       WHERE id = $1::uuid`,
      [campaign],
    );
    pages.push({
      page: `campaign of ${c.fmt(RECIPIENTS)}, completed (progress stored)`,
      ...(await timePage(port, cookie, `/console/campaigns/${campaign}`, /data-testid="over-time-table"/)),
    });
    pages.push({ page: 'campaign list', ...(await timePage(port, cookie, '/console/campaigns', /one million/)) });
    pages.push({ page: 'operations', ...(await timePage(port, cookie, '/console/operations', /Outbox/)) });

    c.log('');
    c.log('page                                                  p50 ms   p95 ms   max ms    kB');
    for (const p of pages)
      c.log(`${p.page.padEnd(52)} ${String(p.p50Ms).padStart(7)} ${String(p.p95Ms).padStart(8)} ${String(p.maxMs).padStart(8)} ${String(p.kB).padStart(6)}`);
    const slowest = Math.max(...pages.filter((p) => /customer|campaign of/.test(p.page)).map((p) => p.p95Ms));
    c.log(`\nslowest p95 of the customer and campaign pages: ${slowest} ms (target: well under ${TARGET_MS} ms)`);
    c.writeResult('console', {
      recipients: RECIPIENTS,
      decisions: DECISIONS,
      runs: RUNS,
      database: db.kind,
      seedSeconds: c.round(seeded.ms / 1000, 1),
      pages,
      targetMs: TARGET_MS,
      pass: slowest < TARGET_MS,
    });
  } catch (error) {
    process.stderr.write(`${error.stack ?? error}\n${app ? app.output() : ''}\n`);
    process.exitCode = 1;
  } finally {
    await sql?.end().catch(() => undefined);
    await app?.stop();
    await db.close();
  }
})().catch((error) => {
  process.stderr.write(`${error.stack ?? error}\n`);
  process.exit(1);
});
