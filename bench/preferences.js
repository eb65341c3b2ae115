#!/usr/bin/env node
// bench/preferences: the customer preferences page (/p/:token) of the built service, started as a
// child process (`node dist/main.js`, NODE_ENV=production, worker and scheduler off, rate limits
// set out of the way), on a database with 100,000 subscribers (8 topics, 3 confirmed each, 5 sent
// mails each in their history, a cadence window each). The load generator is in this process:
// node:http with keep-alive, loopback only, bounded in requests and time.
//  1. Paced open loop at 300 requests/s (a request is sent on schedule whether or not earlier ones
//     have answered; latency counts from the scheduled instant, so a stall is not hidden): GET the
//     page, then POST a change (another digest hour and topic choice, CSRF token from the pages'
//     own CsrfTokens.csrfToken) — p50/p99.
//  2. Closed loop, N connections each sending the next request when the previous answered: the
//     maximum throughput, GET and POST.
// Targets (DESIGN.md): p99 ≤ 50 ms at 300 requests/s; ≥ 1,000 requests/s (GET) at saturation.
//
//   npm run build
//   DATABASE_URL=postgres://postgres:postgres@127.0.0.1:5432/postgres node bench/preferences.js
//   node bench/preferences.js                    # no DATABASE_URL: embedded PostgreSQL (fsync off)
//
// Options: --subscribers N (100,000), --rate R (300), --low-rate R (50, a reference phase below
// capacity), --seconds S per paced phase (15),
// --closed-seconds S (10), --connections N (16), --cpu-prof (profile the app: summary printed and
// in the JSON, the .cpuprofile in a temp folder), --keep. Writes bench/results/preferences.json.
'use strict';
const c = require('./lib/common');
const { TOKEN_SECRET, WEBHOOK_SECRET, freePort, startApp, request, paced, closed } = require('./lib/http-load');

c.requireBuild('preferences');
const http = require('node:http');
const os = require('node:os');
const { mkdtempSync, readdirSync, rmSync } = require('node:fs');
const { join } = require('node:path');
const { Client } = require('pg');
const { TokenSigner } = c.dist('links/tokens');
const { PreferencesService } = c.dist('preferences/preferences.service');
const { SystemClock } = c.dist('common/clock');
const { summarizeProfile } = require('./lib/profile');
const { PreferencesController } = c.dist('preferences/preferences.controller');
const { PageRenderer } = c.dist('pages/page-renderer');
const { CsrfTokens } = c.dist('pages/csrf-tokens');
const { TokenService } = c.dist('links/tokens');
const { DEFAULT_BRAND } = c.dist('config/config');

const SUBSCRIBERS = Number(c.option('subscribers', '100000'));
const RATE = Number(c.option('rate', '300'));
// A second paced GET phase well below the target rate: the latency of the page when the box keeps up.
const LOW_RATE = Number(c.option('low-rate', '50'));
const PACED_SECONDS = Number(c.option('seconds', '15'));
const CLOSED_SECONDS = Number(c.option('closed-seconds', '10'));
const CONNECTIONS = Number(c.option('connections', '16'));
const PROFILE = c.flag('cpu-prof');
// --only pacedGet,closedGet: run just those phases (e.g. to profile one of them); the others are skipped.
const ONLY = c.option('only', null)?.split(',') ?? null;
const TOPICS = 8;
const SAMPLE = 20_000; // subscribers the requests go to
const TARGET = { p99Ms: 50, getPerS: 1000 };

async function seed(sql) {
  const { rows: topics } = await sql.query(
    `INSERT INTO topics (key, name_de, name_en, description_de, description_en)
     SELECT 'topic-' || t, 'Thema ' || t, 'Topic ' || t, 'Alles Neue zu Thema ' || t || ', etwa einmal im Monat.', 'Everything new on topic ' || t || ', about once a month.'
     FROM generate_series(1, $1::int) t RETURNING id, key`,
    [TOPICS],
  );
  const topicIds = topics.sort((a, b) => a.key.localeCompare(b.key, 'en', { numeric: true })).map((t) => t.id);
  await sql.query(`SET session_replication_role = replica`); // the next-digest trigger and FK checks, while seeding only
  await sql.query(
    `INSERT INTO subscribers (email, locale, time_zone, cadence, status, digest_weekday, digest_hour, source, confirmed_at,
                              created_at, updated_at, status_changed_at, next_digest_at)
     SELECT 'pref' || i || '@example.com', CASE WHEN i % 4 = 0 THEN 'en' ELSE 'de' END,
            (ARRAY['Europe/Berlin', 'Europe/Vienna', 'Europe/Zurich', 'America/New_York'])[1 + i % 4],
            CASE WHEN i % 3 = 0 THEN 'biweekly' ELSE 'weekly' END, 'active', 1 + i % 7, 8 + i % 10, 'import',
            now() - interval '400 days', now() - interval '400 days', now() - interval '400 days', now() - interval '400 days',
            now() + (i % 604800) * interval '1 second'
     FROM generate_series(1, $1::int) i`,
    [SUBSCRIBERS],
  );
  await sql.query(
    `INSERT INTO topic_subscriptions (subscriber_id, topic_id, status, consented_at, consent_source, confirmed_at)
     SELECT s.id, ($1::uuid[])[1 + (s.n + j) % $2], 'confirmed', s.created_at, 'import', s.created_at
     FROM (SELECT id, created_at, row_number() OVER (ORDER BY email) AS n FROM subscribers) s, generate_series(0, 2) j`,
    [topicIds, TOPICS],
  );
  // Five sent marketing mails each over the last weeks (the page lists the last five).
  await sql.query(
    `INSERT INTO deliveries (subscriber_id, class, kind, topic_id, ref_id, locale, status, reason, idempotency_key, next_attempt_at,
                             created_at, updated_at, sent_at)
     SELECT ts.subscriber_id, 'marketing', 'campaign', ts.topic_id, 'history-' || w, 'de', 'sent', 'sent',
            'history:' || w || ':' || ts.subscriber_id, now() - w * interval '8 days', now() - w * interval '8 days',
            now() - w * interval '8 days', now() - w * interval '8 days'
     FROM (SELECT DISTINCT ON (subscriber_id) subscriber_id, topic_id FROM topic_subscriptions ORDER BY subscriber_id) ts,
          generate_series(1, 5) w`,
  );
  await sql.query(
    `INSERT INTO cadence_windows (subscriber_id, last_marketing_at, window_days, time_zone)
     SELECT id, now() - interval '8 days', CASE WHEN cadence = 'biweekly' THEN 14 ELSE 7 END, time_zone FROM subscribers`,
  );
  await sql.query(`RESET session_replication_role`);
  for (const table of ['subscribers', 'topic_subscriptions', 'deliveries', 'cadence_windows', 'topics']) await sql.query(`VACUUM ANALYZE ${table}`);
  await sql.query(`CHECKPOINT`);
  const { rows } = await sql.query(`SELECT id FROM subscribers ORDER BY random() LIMIT $1`, [SAMPLE]);
  return { topicKeys: topicIds.map((_, i) => `topic-${i + 1}`), ids: rows.map((r) => r.id) };
}

/**
 * The page alone, in this process (no HTTP, no database): PreferencesController's render of a
 * subscriber with 8 topics, 5 recent mails and a next newsletter, CPU per page; and, apart, the
 * six Intl.DateTimeFormat constructions it makes per page (formatWhen builds one per date).
 * The controller's other collaborators are stubs that answer at once (their queries are in the
 * HTTP figures). Null when the controller's shape changed under the bench.
 */
async function pageRenderCost(seconds = 2) {
  const config = {
    companyName: 'Beispiel GmbH',
    brand: { ...DEFAULT_BRAND, name: 'Beispiel GmbH', address: { de: 'Hauptstraße 1, 10115 Berlin', en: 'Hauptstraße 1, 10115 Berlin' } },
    tokenSecret: TOKEN_SECRET,
    previousTokenSecrets: [],
    publicUrl: 'https://news.example.com',
  };
  const preferencesStub = {};
  const csrf = new CsrfTokens(config, new SystemClock());
  const feedbackStub = {};
  const controller = new PreferencesController(new TokenService(config), new PageRenderer(config), preferencesStub, csrf, feedbackStub);
  const now = Date.now();
  const state = {
    id: '0b3c6a56-8a4e-4a43-9c1e-0d9f7a1b2c3d',
    email: 'kunde@example.org',
    locale: 'de',
    timeZone: 'Europe/Berlin',
    cadence: 'weekly',
    digestWeekday: 2,
    digestHour: 9,
    status: 'active',
    pausedUntil: null,
    topics: Array.from({ length: TOPICS }, (_, i) => ({
      id: `00000000-0000-4000-8000-00000000000${i}`,
      key: `topic-${i + 1}`,
      nameDe: `Thema ${i + 1}`,
      nameEn: `Topic ${i + 1}`,
      descriptionDe: 'Alles Neue, etwa einmal im Monat.',
      descriptionEn: 'Everything new, about once a month.',
      subscribed: i < 3,
      ratings: null,
      droppedAt: null,
    })),
    nextNewsletter: new Date(now + 3 * 86_400_000),
    recent: Array.from({ length: 5 }, (_, i) => ({ at: new Date(now - (i + 1) * 8 * 86_400_000), kind: 'campaign', topicDe: 'Thema 1', topicEn: 'Topic 1' })),
  };
  const rate = async (fn) => {
    for (let i = 0; i < 50; i++) await fn(i);
    const cpu0 = process.cpuUsage();
    const t0 = performance.now();
    let n = 0;
    while (performance.now() - t0 < seconds * 1000) await fn(n++);
    const cpu = process.cpuUsage(cpu0);
    return { perCpuS: Math.round(n / ((cpu.user + cpu.system) / 1e6)), cpuMicroseconds: Math.round((cpu.user + cpu.system) / n) };
  };
  let page = null;
  let pageBytes = null;
  try {
    pageBytes = (await controller.render('token', state, 'de', null)).length;
    page = await rate(() => controller.render('token', state, 'de', null));
  } catch (error) {
    c.log(`(in-process page render skipped: ${error.message})`);
  }
  const zones = ['Europe/Berlin', 'Europe/Vienna', 'Europe/Zurich', 'America/New_York'];
  const sixFormats = await rate((i) => {
    for (let k = 0; k < 6; k++) {
      new Intl.DateTimeFormat('de-DE', { dateStyle: 'full', timeStyle: 'short', timeZone: zones[(i + k) % 4] }).format(state.nextNewsletter);
    }
  });
  const cached = new Map(zones.map((z) => [z, new Intl.DateTimeFormat('de-DE', { dateStyle: 'full', timeStyle: 'short', timeZone: z })]));
  const sixCachedFormats = await rate((i) => {
    for (let k = 0; k < 6; k++) cached.get(zones[(i + k) % 4]).format(state.nextNewsletter);
  });
  return { page, pageBytes, sixDateTimeFormatConstructions: sixFormats, sixCachedFormats };
}

async function dataAccessCost(url, sql, ids) {
  let app;
  const outboxDir = mkdtempSync(join(os.tmpdir(), 'tactful-bench-outbox-'));
  try {
    const { createApp } = c.dist('bootstrap');
    const { loadConfig } = c.dist('config/config');
    let FeedbackService = null;
    try {
      ({ FeedbackService } = c.dist('feedback/feedback.service'));
    } catch {
      /* not in this build */
    }
    const config = loadConfig({
      NODE_ENV: 'production',
      LOCAL_ONLY: 'true', // a bench on this machine: local addresses, no SMTP
      LOG_LEVEL: 'warn',
      DATABASE_URL: url,
      TOKEN_SECRET,
      WEBHOOK_SECRET,
      WORKER_ENABLED: 'false',
      SCHEDULER_ENABLED: 'false',
      OUTBOX_DIR: outboxDir,
    });
    app = await createApp(config, url, new SystemClock());
    const preferences = app.get(PreferencesService);
    const feedback = FeedbackService ? app.get(FeedbackService) : null;
    // Statements counted at the pg client, under TypeORM and the service's prepared statements alike.
    let queries = 0;
    const { Client: PgClient } = require(join(c.ROOT, 'node_modules/pg'));
    const original = PgClient.prototype.query;
    PgClient.prototype.query = function (...a) {
      queries++;
      return original.apply(this, a);
    };
    // Builds before the page's single statement (PreferencesService.state) read the ratings and
    // dropped topics through FeedbackService as two more queries.
    const separateFeedback = feedback && typeof feedback.ratingsOf === 'function' && !('ratings' in ((await preferences.state(ids[0]))?.topics[0] ?? {}));
    const page = async (id) => {
      const state = await preferences.state(id);
      if (separateFeedback) await Promise.all([feedback.ratingsOf(id, state.locale), feedback.droppedByCustomer(id)]);
    };
    for (const id of ids.slice(0, 100)) await page(id); // warm-up: every pool connection's catalog cache
    queries = 0;
    const run = await c.measure(sql, async () => {
      for (const id of ids) await page(id);
    });
    PgClient.prototype.query = original;
    return {
      pages: ids.length,
      queriesPerPage: c.round(queries / ids.length, 1),
      wallMsPerPage: c.round(run.ms / ids.length, 2),
      backendCpuMsPerPage: run.backendCpuS === null ? null : c.round((run.backendCpuS * 1000) / ids.length, 2),
      nodeCpuMsPerPage: c.round((run.nodeCpuS * 1000) / ids.length, 2),
    };
  } catch (error) {
    c.log(`(in-process data access skipped: ${error.message})`);
    return null;
  } finally {
    await app?.close();
    rmSync(outboxDir, { recursive: true, force: true });
  }
}

async function main() {
  const started = Date.now();
  const inProcess = await pageRenderCost();
  c.log(
    `page render in-process (no HTTP, no DB): ${inProcess.page?.cpuMicroseconds ?? '?'} µs CPU per page; of that, 6 × new Intl.DateTimeFormat: ` +
      `${inProcess.sixDateTimeFormatConstructions.cpuMicroseconds} µs (cached formatters: ${inProcess.sixCachedFormats.cpuMicroseconds} µs)`,
  );
  const db = await c.openDatabase('preferences');
  const sql = new Client({ connectionString: db.url });
  await sql.connect();
  let app;
  try {
    const pg = await c.postgresInfo(sql);
    c.log(`PostgreSQL ${pg.version} (${db.kind}); seeding ${c.fmt(SUBSCRIBERS)} subscribers`);
    const t = Date.now();
    const { topicKeys, ids } = await seed(sql);
    const seedS = c.round((Date.now() - t) / 1000, 1);
    c.log(`seeded in ${seedS} s`);

    // The profile itself (megabytes) goes to a temp folder; its summary goes into the JSON.
    const profileDir = PROFILE ? mkdtempSync(join(os.tmpdir(), 'tactful-bench-prof-')) : null;
    const profilesBefore = new Set(profileDir ? readdirSync(profileDir) : []);
    const port = await freePort();
    app = await startApp(db.url, port, { profileDir });
    c.log(`app started (pid ${app.pid}, port ${port}${PROFILE ? ', --cpu-prof' : ''})`);

    const signer = new TokenSigner([TOKEN_SECRET]);
    const tokens = ids.map((id) => signer.sign('preferences', id));
    // The pages' own CSRF token (CsrfTokens.csrfToken), bound to the subscriber and the day.
    const csrfTokens = new CsrfTokens({ tokenSecret: TOKEN_SECRET }, new SystemClock());
    const csrfOf = (id) => csrfTokens.csrfToken(id);
    const csrf = ids.map(csrfOf);
    const get = (i) => ({ method: 'GET', path: `/p/${tokens[i % tokens.length]}` });
    const post = (i) => {
      const k = (i * 7919) % tokens.length; // another subscriber than the GETs just read
      const chosen = [topicKeys[i % TOPICS], topicKeys[(i + 3) % TOPICS], ...(i % 2 ? [topicKeys[(i + 5) % TOPICS]] : [])];
      const form = new URLSearchParams([
        ['csrf', csrf[k]],
        ...chosen.map((x) => ['topics', x]),
        ['cadence', i % 3 === 0 ? 'biweekly' : 'weekly'],
        ['weekday', String(1 + (i % 7))],
        ['hour', String(i % 24)],
        ['timeZone', 'Europe/Berlin'],
        ['locale', 'de'],
        ['pause', '0'],
      ]);
      return { method: 'POST', path: `/p/${tokens[k]}`, body: form.toString() };
    };

    // Sanity: one of each answers 200 with the page.
    const agent = new http.Agent({ keepAlive: false });
    for (const [name, r] of [
      ['GET', get(0)],
      ['POST', post(0)],
    ]) {
      const res = await request(agent, port, r.method, r.path, r.body);
      if (res.status !== 200) throw new Error(`${name} /p/:token answered ${res.status}:\n${app.output()}`);
    }
    const pageBytes = (await request(agent, port, 'GET', get(1).path)).bytes;

    // Requests the client gave up on may still run in the app: wait until it is quiet again, so
    // one phase's backlog does not land in the next (at most 30 s).
    const drain = async () => {
      const deadline = Date.now() + 60_000;
      const probe = new http.Agent({ keepAlive: false });
      while (Date.now() < deadline) {
        const {
          rows: [{ busy }],
        } = await sql.query(
          `SELECT count(*)::int AS busy FROM pg_stat_activity WHERE datname = current_database() AND application_name = 'tactful' AND state <> 'idle'`,
        );
        const t0 = performance.now();
        const health = await request(probe, port, 'GET', '/health');
        if (busy === 0 && health.status === 200 && performance.now() - t0 < 250) return;
        await new Promise((r) => setTimeout(r, 250));
      }
      c.log('  (the app was still busy with an earlier phase after 60 s)');
    };
    const phase = async (name, work) => {
      await drain();
      app.takeErrors();
      const t0 = c.processTicks(app.pid, true);
      const r = await c.measure(sql, work);
      const t1 = c.processTicks(app.pid, true);
      const appCpuS = t0 === null || t1 === null ? null : (t1.user + t1.system - t0.user - t0.system) / c.CLOCK_TICKS;
      const appSystemShare = appCpuS ? c.round((t1.system - t0.system) / c.CLOCK_TICKS / appCpuS, 2) : null;
      const result = {
        ...r.result,
        appCpuS,
        appCpuPerRequestMs: appCpuS === null || !r.result.requests ? null : c.round((appCpuS * 1000) / r.result.requests, 2),
        appSystemShare,
        backendCpuS: r.backendCpuS,
        backendCpuPerRequestMs: r.backendCpuS === null || !r.result.requests ? null : c.round((r.backendCpuS * 1000) / r.result.requests, 2),
        loadGeneratorCpuS: c.round(r.nodeCpuS, 2),
        appErrors: app.takeErrors(),
      };
      c.log(
        `${name}: ${c.fmt(result.requests)} requests, ${c.fmt(result.perS)}/s, p50 ${result.latencyMs.p50} ms, p99 ${result.latencyMs.p99} ms, ` +
          `errors ${result.errors}${Object.keys(result.appErrors).length ? ' ' + JSON.stringify(result.appErrors) : ''}; app CPU ${result.appCpuPerRequestMs ?? '?'} ms/request, PostgreSQL ${result.backendCpuPerRequestMs ?? '?'} ms/request`,
      );
      return result;
    };

    await closed(port, 4, 3, get); // warm-up: JIT, connection pool, caches
    await closed(port, 4, 2, post);
    // The data part of a page view alone, in this process through a Nest app context (no HTTP,
    // no page): PreferencesService.state() and the two feedback lookups the page makes, one page
    // after the other on one connection at a time — PostgreSQL and TypeORM cost per page view.
    const dataPart = await dataAccessCost(db.url, sql, ids.slice(0, 2000));
    if (dataPart) {
      c.log(
        `data of one page view in-process (${dataPart.pages} pages, ${dataPart.queriesPerPage} queries each): ${dataPart.wallMsPerPage} ms wall, ` +
          `PostgreSQL ${dataPart.backendCpuMsPerPage} ms CPU, Node ${dataPart.nodeCpuMsPerPage} ms CPU per page`,
      );
    }

    // GETs first: a POST backlog (lock waits) would otherwise still occupy the app's pool.
    const results = {};
    results.pacedGet = ONLY && !ONLY.includes('pacedGet') ? null : await phase(`GET, paced ${RATE}/s`, () => paced(port, RATE, PACED_SECONDS, get));
    results.pacedGetLow =
      ONLY && !ONLY.includes('pacedGetLow') ? null : await phase(`GET, paced ${LOW_RATE}/s`, () => paced(port, LOW_RATE, PACED_SECONDS, get));
    results.closedGet =
      ONLY && !ONLY.includes('closedGet')
        ? null
        : await phase(`GET, closed loop ${CONNECTIONS} connections`, () => closed(port, CONNECTIONS, CLOSED_SECONDS, get));
    results.pacedPost = ONLY && !ONLY.includes('pacedPost') ? null : await phase(`POST, paced ${RATE}/s`, () => paced(port, RATE, PACED_SECONDS, post));
    results.closedPost =
      ONLY && !ONLY.includes('closedPost')
        ? null
        : await phase(`POST, closed loop ${CONNECTIONS} connections`, () => closed(port, CONNECTIONS, CLOSED_SECONDS, post));

    const stopped = await app.stop();
    app = null;
    let profile = null;
    if (profileDir) {
      const file = readdirSync(profileDir).find((f) => f.endsWith('.cpuprofile') && !profilesBefore.has(f));
      if (file) {
        profile = { file: join(profileDir, file), ...summarizeProfile(join(profileDir, file)) };
        c.log('');
        c.log(`app CPU profile (${profile.file}, ${profile.totalMs} ms sampled), self time by package:`);
        for (const p of profile.selfByPackage) c.log(`  ${String(p.percent).padStart(5)} %  ${p.name}`);
        c.log('inclusive time by package (anything on the stack):');
        for (const p of profile.inclusiveByPackage) c.log(`  ${String(p.percent).padStart(5)} %  ${p.name}`);
        c.log('self time by function:');
        for (const p of profile.selfByFunction) c.log(`  ${String(p.percent).padStart(5)} %  ${p.name}`);
      } else {
        c.log(`no profile was written (app exit: ${JSON.stringify(stopped)})`);
      }
    }

    const met = {
      pacedGetP99: results.pacedGet && results.pacedGet.latencyMs.p99 <= TARGET.p99Ms && results.pacedGet.errors === 0,
      pacedPostP99: results.pacedPost && results.pacedPost.latencyMs.p99 <= TARGET.p99Ms && results.pacedPost.errors === 0,
      closedGet: results.closedGet && results.closedGet.perS >= TARGET.getPerS && results.closedGet.errors === 0,
    };
    const report = {
      bench: 'preferences',
      date: new Date().toISOString(),
      machine: c.machine(),
      postgres: { ...pg, server: db.kind },
      subscribers: SUBSCRIBERS,
      seedS,
      pageBytes,
      inProcessPageRender: inProcess,
      inProcessDataAccess: dataPart,
      app: 'node dist/main.js, NODE_ENV=production, LOG_LEVEL=warn, worker and scheduler off, DB_POOL_SIZE default (10)',
      loadGenerator: 'node:http keep-alive in the bench process (same 2 cores as the app and PostgreSQL)',
      results,
      profile,
      target: TARGET,
      met,
      wallS: c.round((Date.now() - started) / 1000, 1),
    };
    const file = c.writeResult('preferences', report);
    c.log('');
    const row = (name, r, target, ok) =>
      r === null
        ? [name, 'skipped', '', '', '', '', '', target, '']
        : [
            name,
            r.requests,
            r.perS,
            `${r.latencyMs.p50} / ${r.latencyMs.p99} / ${r.latencyMs.max} ms`,
            `${r.errors}${
              Object.keys(r.appErrors).length
                ? ' (' +
                  Object.entries(r.appErrors)
                    .map(([m, n]) => `${n}× ${m}`)
                    .join(', ') +
                  ')'
                : ''
            }`,
            r.appCpuPerRequestMs === null ? 'n/a' : `${r.appCpuPerRequestMs} ms (${Math.round((r.appSystemShare ?? 0) * 100)} % kernel)`,
            r.backendCpuPerRequestMs === null ? 'n/a' : `${r.backendCpuPerRequestMs} ms`,
            target,
            ok,
          ];
    c.log(
      c.table(
        ['phase', 'requests', 'requests/s', 'p50 / p99 / max', 'errors', 'app CPU per request', 'PostgreSQL CPU per request', 'target', 'met'],
        [
          row(`GET, paced ${RATE}/s`, results.pacedGet, 'p99 ≤ 50 ms', met.pacedGetP99 ? 'yes' : 'no'),
          row(`GET, paced ${LOW_RATE}/s (reference)`, results.pacedGetLow, '', ''),
          row(`GET, closed loop, ${CONNECTIONS} connections`, results.closedGet, '≥ 1,000/s', met.closedGet ? 'yes' : 'no'),
          row(`POST, paced ${RATE}/s`, results.pacedPost, 'p99 ≤ 50 ms', met.pacedPostP99 ? 'yes' : 'no'),
          row(`POST, closed loop, ${CONNECTIONS} connections`, results.closedPost, '', ''),
        ],
        ['l', 'r', 'r', 'r', 'r', 'r', 'r', 'r', 'c'],
      ),
    );
    c.log(
      `in-process page render: ${inProcess.page?.cpuMicroseconds ?? '?'} µs CPU (6 × new Intl.DateTimeFormat: ${inProcess.sixDateTimeFormatConstructions.cpuMicroseconds} µs; ` +
        `cached: ${inProcess.sixCachedFormats.cpuMicroseconds} µs)`,
    );
    if (dataPart)
      c.log(
        `in-process data of a page view: ${dataPart.queriesPerPage} queries, PostgreSQL ${dataPart.backendCpuMsPerPage} ms + Node ${dataPart.nodeCpuMsPerPage} ms CPU`,
      );
    c.log(`${c.fmt(SUBSCRIBERS)} subscribers; page ${c.fmt(pageBytes)} bytes; results: ${file}; wall ${report.wallS} s`);
  } finally {
    if (app) await app.stop();
    await sql.end();
    await db.close();
  }
}

main().catch((error) => {
  process.stderr.write(`bench/preferences failed: ${error && error.stack ? error.stack : error}\n`);
  process.exit(1);
});
