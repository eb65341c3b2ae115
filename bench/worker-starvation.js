#!/usr/bin/env node
// bench/worker-starvation: the worker never starves the API (issue 21, item 4). One instance of the
// built service (`node dist/main.js`, NODE_ENV=production) runs the API, the worker and the
// scheduler, as a small deployment does; its mails go to a local SMTP sink in a process of its own
// (test/support/arrival-sink.js, which records when each mail arrived). A paced open loop sends a
// mix of the customer preferences page (GET /p/:token) and a /v1 read (GET /v1/subscribers/:id,
// with an API key) at a fixed rate, in three phases:
//   1. idle: nothing queued;
//   2. sending: a campaign to every subscriber has been scheduled and dispatched, and the worker
//      sends at full speed through the whole phase (checked: mails are still queued when it ends);
//   3. idle again, once every mail has arrived.
// Each request's latency counts from its scheduled instant (a stall is not hidden). Goal: the p99 of
// each route while sending within 2× of idle (the mean of both idle phases).
//
//   npm run build
//   DATABASE_URL=postgres://postgres@127.0.0.1:5432/test node bench/worker-starvation.js
//   node bench/worker-starvation.js            # no DATABASE_URL: embedded PostgreSQL (fsync off)
//
// Options: --subscribers N (20,000: the campaign's size, long enough to outlast the sending
// phase), --rate R (requests/s of the mix, 100), --seconds S per phase (20), --keep,
// --isolation thread|inline|both (WORKER_ISOLATION; both, the default: the whole scenario once
// with the worker inline on the HTTP loop, then once in its worker thread, each on a fresh
// database, so the two are compared on the same machine in the same minutes).
// Writes bench/results/worker-starvation.json.
'use strict';
const c = require('./lib/common');

c.requireBuild('worker-starvation');
const http = require('node:http');
const { fork } = require('node:child_process');
const { join } = require('node:path');
const { Client } = require('pg');
const { TOKEN_SECRET, freePort, startApp, request, paced } = require('./lib/http-load');
const { TokenSigner } = c.dist('links/tokens');
const { loadConfig } = c.dist('config/config');

const SUBSCRIBERS = Number(c.option('subscribers', '20000'));
const RATE = Number(c.option('rate', '100'));
const SECONDS = Number(c.option('seconds', '20'));
const ADMIN_KEY = 'bench-admin-key-0123456789abcdef0123456789';
const GOAL = 2;
const ISOLATIONS = { both: ['inline', 'thread'], thread: ['thread'], inline: ['inline'] }[c.option('isolation', 'both')];
if (!ISOLATIONS) throw new Error('--isolation is thread, inline or both');

async function seed(sql) {
  const {
    rows: [topic],
  } = await sql.query(`INSERT INTO topics (key, name_de, name_en) VALUES ('trade-fairs', 'Messetermine', 'Trade fairs') RETURNING id`);
  await sql.query(
    `INSERT INTO subscribers (email, locale, time_zone, cadence, status, digest_weekday, digest_hour, source, confirmed_at, created_at, updated_at, status_changed_at)
     SELECT 'kunde' || i || '@example.de', CASE WHEN i % 4 = 0 THEN 'en' ELSE 'de' END, 'Europe/Berlin', 'weekly', 'active', 1 + i % 7, 8 + i % 10, 'import',
            now() - interval '30 days', now() - interval '30 days', now() - interval '30 days', now() - interval '30 days'
     FROM generate_series(1, $1::int) i`,
    [SUBSCRIBERS],
  );
  await sql.query(
    `INSERT INTO topic_subscriptions (subscriber_id, topic_id, status, consented_at, consent_source, confirmed_at)
     SELECT id, $1, 'confirmed', created_at, 'import', created_at FROM subscribers`,
    [topic.id],
  );
  for (const table of ['subscribers', 'topic_subscriptions', 'topics']) await sql.query(`VACUUM ANALYZE ${table}`);
  const { rows } = await sql.query(`SELECT id FROM subscribers ORDER BY random() LIMIT 5000`);
  return rows.map((r) => r.id);
}

/** The arrival sink in its own process: { port, arrivals(), close() }. */
async function startSink() {
  const child = fork(join(c.ROOT, 'test/support/arrival-sink.js'), [], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const next = (kind) => new Promise((resolve) => child.once('message', (m) => (m.kind === kind ? resolve(m) : next(kind).then(resolve))));
  const { port } = await next('ready');
  return {
    url: `smtp://127.0.0.1:${port}`,
    arrivals: async () => {
      const answer = next('arrivals');
      child.send({ kind: 'arrivals' });
      return (await answer).arrivals.map((a) => a.at);
    },
    close: () => new Promise((resolve) => (child.once('exit', resolve), child.send({ kind: 'close' }))),
  };
}

async function api(port, method, path, body) {
  const res = await fetch(`http://127.0.0.1:${port}${path}`, {
    method,
    headers: { authorization: `Bearer ${ADMIN_KEY}`, 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  if (res.status >= 300) throw new Error(`${method} ${path}: ${res.status} ${text}`);
  return JSON.parse(text);
}

/** The whole scenario with the worker run as `isolation` says; returns its result. */
async function run(isolation) {
  const loadAtStart = require('node:os')
    .loadavg()
    .map((l) => c.round(l, 2));
  c.log(`--- WORKER_ISOLATION=${isolation} (load average at its start ${loadAtStart.join(' ')})`);
  const db = await c.openDatabase('worker_starvation');
  const sql = new Client({ connectionString: db.url });
  await sql.connect();
  let app;
  let sink;
  try {
    const pg = await c.postgresInfo(sql);
    c.log(`PostgreSQL ${pg.version} (${db.kind}); seeding ${c.fmt(SUBSCRIBERS)} subscribers`);
    const ids = await seed(sql);
    sink = await startSink();
    const port = await freePort();
    const env = {
      WORKER_ENABLED: 'true',
      WORKER_ISOLATION: isolation,
      SCHEDULER_ENABLED: 'true',
      SCHEDULER_DISPATCH_CAMPAIGNS_SECONDS: '1',
      QUIET_HOURS: 'off', // the bench runs at any hour
      SMTP_URL: sink.url,
      MAIL_FROM: 'Tactful <newsletter@tactful.example>',
      BOUNCE_DOMAIN: 'bounce.tactful.example',
      ADMIN_API_KEY: ADMIN_KEY,
    };
    app = await startApp(db.url, port, { env });
    const config = loadConfig({ NODE_ENV: 'test', TOKEN_SECRET, WEBHOOK_SECRET: TOKEN_SECRET, ...env });
    const pools = {
      api: config.dbPoolSize,
      worker: config.dbWorkerPoolSize,
      scheduler: config.dbSchedulerPoolSize,
      workerLanes: config.workerConcurrency + config.workerServiceConcurrency,
    };
    c.log(
      `app started (pid ${app.pid}, port ${port}); pools: api ${pools.api}, worker ${pools.worker} (${pools.workerLanes} lanes), scheduler ${pools.scheduler}`,
    );

    const signer = new TokenSigner([TOKEN_SECRET]);
    const tokens = ids.map((id) => signer.sign('preferences', id));
    const auth = { authorization: `Bearer ${ADMIN_KEY}` };
    const mix = (i) => {
      const k = (i * 7919) % ids.length;
      return i % 2 === 0
        ? { method: 'GET', path: `/p/${tokens[k]}`, label: 'preferences' }
        : { method: 'GET', path: `/v1/subscribers/${ids[k]}`, headers: auth, label: 'v1' };
    };
    // Sanity and warm-up: both routes answer 200.
    const agent = new http.Agent({ keepAlive: true });
    for (let i = 0; i < 200; i++) {
      const r = mix(i);
      const res = await request(agent, port, r.method, r.path, undefined, r.headers);
      if (res.status !== 200) throw new Error(`${r.path} answered ${res.status}:\n${app.output()}`);
    }
    agent.destroy();

    const phase = async (name) => {
      app.takeErrors();
      await mainLoopLag(port); // resets the histogram: the next scrape covers this phase
      const t0 = c.processTicks(app.pid);
      const started = performance.timeOrigin + performance.now();
      const result = await paced(port, RATE, SECONDS, mix);
      const ended = performance.timeOrigin + performance.now();
      const t1 = c.processTicks(app.pid);
      const loopLag = await mainLoopLag(port);
      const {
        rows: [{ queued }],
      } = await sql.query(`SELECT count(*)::int AS queued FROM deliveries WHERE status IN ('queued', 'sending')`);
      const arrivals = await sink.arrivals();
      const during = arrivals.filter((at) => at >= started && at <= ended).length;
      const out = {
        name,
        ...result,
        mailsDuring: during,
        mailsPerSecond: c.round(during / ((ended - started) / 1000)),
        appCpuS: t0 === null || t1 === null ? null : (t1 - t0) / c.CLOCK_TICKS,
        errorsLogged: app.takeErrors(),
        queuedAtEnd: queued,
        mainLoopLag: loopLag,
        loadAverage: require('node:os')
          .loadavg()
          .map((l) => c.round(l, 2)),
      };
      const { preferences, v1 } = result.byLabel;
      c.log(
        `${name.padEnd(8)} preferences p50/p99 ${preferences.latencyMs.p50}/${preferences.latencyMs.p99} ms, ` +
          `/v1 p50/p99 ${v1.latencyMs.p50}/${v1.latencyMs.p99} ms, errors ${result.errors} ${JSON.stringify(result.statuses)}; ${c.fmt(during)} mails at the sink (${out.mailsPerSecond}/s); ` +
          `main loop delay p50/p99/max ${loopLag.p50Ms}/${loopLag.p99Ms}/${loopLag.maxMs} ms; app CPU ${out.appCpuS} s; load ${out.loadAverage[0]}`,
      );
      return out;
    };

    const idle1 = await phase('idle');

    // The campaign: scheduled now, dispatched by the scheduler within a second, sent by the worker.
    const campaign = await api(port, 'POST', '/v1/campaigns', {
      name: 'Herbstmesse',
      topic: 'trade-fairs',
      subject: { de: 'Neues zur Herbstmesse', en: 'News on the autumn fair' },
      body: { de: '<p>Hallo! Die Herbstmesse öffnet am Montag.</p>', en: '<p>Hello! The autumn fair opens on Monday.</p>' },
    });
    await api(port, 'POST', `/v1/campaigns/${campaign.id}/schedule`, {});
    const deadline = Date.now() + 120_000;
    while ((await sink.arrivals()).length < 50) {
      if (Date.now() > deadline) {
        const { rows } = await sql.query(
          `SELECT status, reason, count(*)::int AS n FROM deliveries GROUP BY 1, 2 UNION ALL SELECT 'campaign', status, 1 FROM campaigns`,
        );
        throw new Error(`the campaign did not start sending within 120 s: ${JSON.stringify(rows)}\n${app.output()}`);
      }
      await new Promise((r) => setTimeout(r, 200));
    }
    const sending = await phase('sending');
    const fullSpeed = sending.queuedAtEnd > 0;
    if (!fullSpeed) c.log('  (the queue ran dry before the sending phase ended: raise --subscribers)');

    const drainDeadline = Date.now() + 30 * 60_000;
    for (;;) {
      const {
        rows: [{ queued }],
      } = await sql.query(`SELECT count(*)::int AS queued FROM deliveries WHERE status IN ('queued', 'sending')`);
      if (queued === 0) break;
      if (Date.now() > drainDeadline) throw new Error(`${queued} mails still queued after 30 minutes`);
      await new Promise((r) => setTimeout(r, 500));
    }
    const arrived = (await sink.arrivals()).length;
    const idle2 = await phase('idle 2');

    const ratio = (route) => {
      const idle = (idle1.byLabel[route].latencyMs.p99 + idle2.byLabel[route].latencyMs.p99) / 2;
      return {
        idleP99Ms: c.round(idle, 1),
        sendingP99Ms: sending.byLabel[route].latencyMs.p99,
        ratio: c.round(sending.byLabel[route].latencyMs.p99 / idle, 2),
      };
    };
    const ratios = { preferences: ratio('preferences'), v1: ratio('v1') };
    const met = fullSpeed && Object.values(ratios).every((r) => r.ratio <= GOAL) && [idle1, sending, idle2].every((p) => p.errors === 0);
    c.log('');
    c.log(
      c.table(
        ['route', 'idle p99 (mean of both)', 'p99 while sending', 'ratio', `goal ≤ ${GOAL}×`],
        Object.entries(ratios).map(([route, r]) => [
          route === 'v1' ? 'GET /v1/subscribers/:id' : 'GET /p/:token',
          `${r.idleP99Ms} ms`,
          `${r.sendingP99Ms} ms`,
          `${r.ratio}×`,
          r.ratio <= GOAL ? 'met' : 'not met',
        ]),
        ['l'],
      ),
    );
    c.log(
      `mails: ${c.fmt(arrived)} of ${c.fmt(SUBSCRIBERS)} arrived; ${sending.mailsPerSecond} mails/s during the sending phase; verdict: ${met ? 'met' : 'not met'}`,
    );
    if (arrived !== SUBSCRIBERS) throw new Error(`${arrived} mails arrived for ${SUBSCRIBERS} subscribers`);
    return { isolation, loadAtStart, pools, phases: [idle1, sending, idle2], ratios, mailsArrived: arrived, fullSpeed, met, postgres: pg, database: db.kind };
  } finally {
    await app?.stop();
    await sink?.close();
    await sql.end();
    await db.close();
  }
}

/**
 * The main thread's event-loop delay since the last scrape (prom-client resets its histogram at
 * each scrape): what an HTTP request waits for before its handler runs, whatever other processes
 * on the machine do to the latencies measured from outside.
 */
async function mainLoopLag(port) {
  const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
  const read = (name) => {
    const m = new RegExp(`^tactful_process_nodejs_eventloop_lag_${name}_seconds ([\\d.e+-]+)$`, 'm').exec(text);
    return m ? c.round(Number(m[1]) * 1000, 1) : null;
  };
  return { p50Ms: read('p50'), p99Ms: read('p99'), maxMs: read('max') };
}

async function main() {
  const runs = [];
  for (const isolation of ISOLATIONS) runs.push(await run(isolation));
  if (runs.length > 1) {
    c.log('');
    c.log(
      c.table(
        ['WORKER_ISOLATION', 'preferences p99 idle / sending', 'ratio', '/v1 p99 idle / sending', 'ratio', 'mails/s', 'verdict'],
        runs.map((r) => [
          r.isolation,
          `${r.ratios.preferences.idleP99Ms} / ${r.ratios.preferences.sendingP99Ms} ms`,
          `${r.ratios.preferences.ratio}×`,
          `${r.ratios.v1.idleP99Ms} / ${r.ratios.v1.sendingP99Ms} ms`,
          `${r.ratios.v1.ratio}×`,
          String(r.phases[1].mailsPerSecond),
          r.met ? 'met' : 'not met',
        ]),
        ['l'],
      ),
    );
  }
  const file = c.writeResult('worker-starvation', {
    bench: 'worker-starvation',
    at: new Date().toISOString(),
    machine: c.machine(),
    options: { subscribers: SUBSCRIBERS, rate: RATE, seconds: SECONDS, isolation: ISOLATIONS },
    goal: GOAL,
    runs,
  });
  c.log(`written to ${file}`);
}

main().catch((error) => {
  process.stderr.write(`${error.stack ?? error}\n`);
  process.exit(1);
});
