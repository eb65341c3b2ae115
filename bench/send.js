#!/usr/bin/env node
// bench/send: the whole send loop, from queued outbox rows to a local SMTP sink. The real
// DeliveryWorker claims rows (SKIP LOCKED), re-checks consent in the hand-over transaction,
// renders the campaign template (de), adds List-Unsubscribe & co. and hands the mail to
// nodemailer; the sink is smtp-server in its own process, counting bytes without parsing.
// Measured for an 8 kB and a 70 kB mail, pooled (SMTP_MAX_CONNECTIONS connections) against one
// connection per mail, plus the transport alone (no database, no rendering) for reference.
// Targets (DESIGN.md): ≥ 600 mails/s for an 8 kB mail pooled; pooled ≥ 3× unpooled.
//
//   npm run build
//   node bench/send.js                          # embedded PostgreSQL (fsync off) in a temp folder
//   DATABASE_URL=postgres://… node bench/send.js # a database `tactful_bench_send` on that server
//
// Every mail goes out with VERP on (BOUNCE_DOMAIN): its envelope sender is its own bounce address.
// Two more 8 kB outbox rows sign every mail with DKIM, RSA 2048 and Ed25519, in the same run, so
// the difference to the unsigned row is the cost of the signature.
//
// Options: --mails N (pooled runs, default 2000), --unpooled-mails N (default 300),
// --concurrency N (WORKER_CONCURRENCY, default 8), --connections N (SMTP_MAX_CONNECTIONS,
// default 5), --processes N (a second 8 kB outbox row with N worker processes, default 2; 1 = off),
// --warmup N (mails sent before each measured outbox row, default 50), --only-outbox N (just the
// 8 kB pooled outbox row, N rounds of --mails each, to compare builds and to profile: no DKIM,
// unpooled, transport or 70 kB rows, no targets; later rounds show the worker after the JIT).
// Writes bench/results/send.json.
'use strict';
require('reflect-metadata');
const { fork } = require('node:child_process');
const { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } = require('node:fs');
const os = require('node:os');
const { join, resolve } = require('node:path');

// ---------------------------------------------------------------------------------------------
// The sink: `node bench/send.js --sink`, driven over IPC by the bench. Note that smtp-server
// waits a fixed 100 ms before its greeting (an early-talker check): every unpooled mail pays it.
if (process.argv.includes('--sink')) {
  const { SMTPServer } = require('smtp-server');
  let count = 0;
  let bytes = 0;
  let lastSize = 0;
  const server = new SMTPServer({
    authOptional: true,
    disabledCommands: ['STARTTLS'],
    hideENHANCEDSTATUSCODES: true,
    disableReverseLookup: true,
    logger: false,
    onData(stream, _session, callback) {
      let size = 0;
      stream.on('data', (chunk) => (size += chunk.length));
      stream.once('end', () => {
        count += 1;
        bytes += size;
        lastSize = size;
        callback(null, 'OK');
      });
    },
  });
  server.on('error', () => undefined);
  server.listen(0, '127.0.0.1', () => process.send({ port: server.server.address().port }));
  process.on('message', (message) => {
    if (message === 'stats') {
      const cpu = process.cpuUsage();
      process.send({ count, bytes, lastSize, cpuMs: (cpu.user + cpu.system) / 1000 });
    }
    if (message === 'close') server.close(() => process.exit(0));
  });
  return;
}

// ---------------------------------------------------------------------------------------------
const ROOT = resolve(__dirname, '..');
const DIST = process.env.BENCH_DIST ? resolve(process.env.BENCH_DIST) : join(ROOT, 'dist'); // see bench/lib/common.js
if (!existsSync(join(DIST, 'main.js'))) {
  process.stderr.write('bench/send.js needs the build: run `npm run build` first\n');
  process.exit(1);
}
const { Client } = require('pg');
const { DataSource } = require('typeorm');
const { createApp } = require(join(DIST, 'bootstrap'));
const { loadConfig } = require(join(DIST, 'config/config'));
const { SystemClock } = require(join(DIST, 'common/clock'));
const { runMigrations } = require(join(DIST, 'database/data-source'));
const { startEmbeddedPostgres } = require(join(DIST, 'database/embedded-postgres'));
const { DeliveryKinds, subscriberGate } = require(join(DIST, 'delivery/delivery-kinds'));
const { DeliveryWorker } = require(join(DIST, 'delivery/delivery-worker'));
const { SmtpMailTransport } = require(join(DIST, 'delivery/mail-transport'));
// Absent from builds before issue 20 (BENCH_DIST of an older checkout): those have no VERP,
// DKIM or streams, and the worker holds one `transport`.
const relaysModule = existsSync(join(DIST, 'delivery/mail-relays.js')) ? require(join(DIST, 'delivery/mail-relays')) : undefined;
const dkimModule = existsSync(join(DIST, 'delivery/dkim.js')) ? require(join(DIST, 'delivery/dkim')) : undefined;

const args = process.argv.slice(2);
const option = (name, fallback) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? Number(args[i + 1]) : fallback;
};
const MAILS = option('mails', 2000);
const UNPOOLED_MAILS = option('unpooled-mails', 300);
const CONCURRENCY = option('concurrency', 8);
const CONNECTIONS = option('connections', 5);
// A second row for the 8 kB outbox mail: this many worker processes (instances) draining the same
// outbox at once, each with its own pooled transport. 1 = the in-process worker only.
const PROCESSES = option('processes', 2);
const ONLY_OUTBOX = option('only-outbox', 0);
const WARMUP = option('warmup', 50);
const SIZES_KB = ONLY_OUTBOX > 0 ? [8] : [8, 70];
const BENCH_DB = 'tactful_bench_send';
const SECRET = 'bench-secret-0123456789abcdef0123456789abcdef';
const FEEDBACK = { usefulUrl: 'https://tactful.example/f/useful', notUsefulUrl: 'https://tactful.example/f/not-useful' };
const log = (line) => process.stdout.write(line + '\n');

// ---------------------------------------------------------------------------------------------
async function withClient(url, fn) {
  const client = new Client({ connectionString: url });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

function withDatabase(url, database) {
  const parsed = new URL(url);
  parsed.pathname = `/${database}`;
  return parsed.toString();
}

async function openDatabase() {
  if (process.env.DATABASE_URL) {
    const server = process.env.DATABASE_URL;
    await withClient(server, async (c) => {
      await c.query(`DROP DATABASE IF EXISTS ${BENCH_DB} WITH (FORCE)`);
      await c.query(`CREATE DATABASE ${BENCH_DB}`);
    });
    return {
      url: withDatabase(server, BENCH_DB),
      kind: 'DATABASE_URL',
      close: () => withClient(server, (c) => c.query(`DROP DATABASE IF EXISTS ${BENCH_DB} WITH (FORCE)`)),
    };
  }
  const parent = mkdtempSync(join(os.tmpdir(), 'tactful-bench-pg-'));
  chmodSync(parent, 0o755); // PostgreSQL runs as `postgres` when the bench runs as root
  const embedded = await startEmbeddedPostgres({
    dataDir: join(parent, 'data'),
    port: 20000 + Math.floor(Math.random() * 20000),
    database: BENCH_DB,
    persistent: false,
  });
  return { url: embedded.url, kind: 'embedded (fsync off)', close: () => embedded.stop() };
}

async function startSink() {
  const child = fork(__filename, ['--sink'], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const { port } = await new Promise((done, fail) => {
    child.once('message', done);
    child.once('exit', (code) => fail(new Error(`sink exited with ${code}`)));
  });
  const ask = () =>
    new Promise((done) => {
      child.once('message', done);
      child.send('stats');
    });
  return {
    url: `smtp://127.0.0.1:${port}`,
    stats: ask,
    close: () =>
      new Promise((done) => {
        child.once('exit', done);
        child.send('close');
      }),
  };
}

const CLOCK_TICKS = 100; // USER_HZ on Linux

/** CPU ms used so far by this database's backends (a server on this machine), else null. */
async function databaseCpuMs(db) {
  let ticks = 0;
  for (const { pid } of await db.query(`SELECT pid FROM pg_stat_activity WHERE datname = current_database()`)) {
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      ticks += Number(fields[11]) + Number(fields[12]); // utime + stime
    } catch {
      return null;
    }
  }
  return (ticks * 1000) / CLOCK_TICKS;
}

const fmt = (value) => (value === null || value === undefined ? '   -  ' : value.toFixed(2).padStart(6));

const ownCpuMs = () => {
  const cpu = process.cpuUsage();
  return (cpu.user + cpu.system) / 1000;
};

/**
 * CPU per mail in each process, and the rate those costs allow on an otherwise idle machine:
 * each Node process is one thread, and everything shares the cores. On a busy shared machine
 * the wall-clock rate says more about the neighbours than about Tactful; this says less.
 */
function cpuFigures(mails, worker, sink, database, workerProcesses = 1) {
  const perMail = (ms) => (ms === null ? null : Number((ms / mails).toFixed(3)));
  const figures = { workerCpuMsPerMail: perMail(worker), sinkCpuMsPerMail: perMail(sink), databaseCpuMsPerMail: perMail(database) };
  const total = worker + sink + (database ?? 0);
  const workerCeiling = (1000 * mails * Math.min(workerProcesses, os.cpus().length)) / worker;
  figures.idleCeilingMailsPerSecond = Math.round(Math.min(workerCeiling, (1000 * mails) / sink, (1000 * os.cpus().length * mails) / total));
  return figures;
}

/** Paragraphs of plausible German newsletter text; `count` of them make the campaign body. */
function body(count) {
  const paragraph =
    '<p>Die Messe in Köln wurde auf den 14. März verschoben. Für Bestellungen bis Ende des Monats ' +
    'gelten verlängerte Zahlungsziele von 60 Tagen; Details und die neuen Standpläne finden Sie im ' +
    'Kundenbereich. Bei Fragen erreichen Sie Ihr Team wie gewohnt per Telefon oder E-Mail.</p>';
  return `<h2>Neuigkeiten für Ihren Betrieb</h2>${paragraph.repeat(count)}`;
}

const SYNTHETIC_PARAGRAPH = 'Die Messe in Köln wurde auf den 14. März verschoben; neue Zahlungsziele gelten ab sofort. ';

/** A mail without the layout: `repeats` paragraphs in the HTML part and in the text part. */
function syntheticMail(repeats, id, from) {
  return {
    messageId: `<${id}@tactful.example>`,
    from,
    to: `kunde-${id}@example.de`,
    subject: 'Neues zur Messe',
    html: `<html><body>${`<p>${SYNTHETIC_PARAGRAPH}</p>`.repeat(Math.ceil(repeats * 0.6))}</body></html>`,
    text: SYNTHETIC_PARAGRAPH.repeat(Math.ceil(repeats * 0.4)),
    headers: { 'List-Unsubscribe': '<https://tactful.example/u/x>', 'List-Unsubscribe-Post': 'List-Unsubscribe=One-Click' },
  };
}

/**
 * The app with a campaign-like marketing kind: the consent gate every marketing mail passes, the
 * real campaign template; the body size comes from the row. (The campaign's own hand-over record
 * is not in this path; bench/race.js runs real campaigns.)
 */
async function benchApp(config, url) {
  const app = await createApp(config, url, new SystemClock());
  const bodies = new Map();
  app.get(DeliveryKinds).register({
    kind: 'bench_mail',
    gate: (tx, delivery) => subscriberGate(tx, delivery),
    compose: async (_tx, delivery) => {
      const paragraphs = delivery.payload.paragraphs;
      if (!bodies.has(paragraphs)) bodies.set(paragraphs, body(paragraphs));
      return {
        template: 'campaign',
        data: { subject: 'Neues zur Messe und zu Ihren Zahlungszielen', bodyHtml: bodies.get(paragraphs), topicName: 'Messetermine', feedback: FEEDBACK },
      };
    },
  });
  return app;
}

/**
 * `node bench/send.js --worker`: one more instance, driven over IPC by the bench. It boots the app
 * with the bench's config, then on 'drain' drains the outbox and answers with its counts and CPU.
 */
async function workerProcess() {
  let app;
  process.on('message', async (message) => {
    if (message.kind === 'start') {
      app = await benchApp(loadConfig(message.env), message.env.DATABASE_URL);
      process.send({ kind: 'ready' });
    } else if (message.kind === 'drain') {
      const worker = app.get(DeliveryWorker);
      const cpuBefore = ownCpuMs();
      const stats = await worker.drain();
      process.send({ kind: 'drained', sent: stats.sent, cpuMs: ownCpuMs() - cpuBefore });
    } else if (message.kind === 'close') {
      await app?.close();
      process.exit(0);
    }
  });
}

async function startWorkerProcesses(count, env) {
  const children = [];
  for (let i = 0; i < count; i++) {
    const child = fork(__filename, ['--worker'], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    const next = (kind) =>
      new Promise((done, fail) => {
        const onMessage = (m) => {
          if (m.kind !== kind) return;
          child.off('message', onMessage);
          done(m);
        };
        child.on('message', onMessage);
        child.once('exit', (code) => fail(new Error(`worker process exited with ${code}`)));
      });
    const ready = next('ready');
    child.send({ kind: 'start', env });
    await ready;
    children.push({
      drain: () => {
        const drained = next('drained');
        child.send({ kind: 'drain' });
        return drained;
      },
      close: () =>
        new Promise((done) => {
          child.once('exit', done);
          child.send({ kind: 'close' });
        }),
    });
  }
  return children;
}

// ---------------------------------------------------------------------------------------------
async function main() {
  const database = await openDatabase();
  const sinks = {};
  let app;
  try {
    sinks.stock = await startSink();
    await runMigrations(database.url);
    const env = {
      NODE_ENV: 'production',
      LOCAL_ONLY: 'true', // a bench on this machine: reserved domains, a local sink
      LOG_LEVEL: process.env.LOG_LEVEL ?? 'warn',
      TOKEN_SECRET: SECRET,
      WEBHOOK_SECRET: SECRET,
      DATABASE_URL: database.url,
      SMTP_URL: sinks.stock.url,
      SMTP_MAX_CONNECTIONS: String(CONNECTIONS),
      WORKER_ENABLED: 'false',
      SCHEDULER_ENABLED: 'false',
      WORKER_CONCURRENCY: String(CONCURRENCY),
      DB_POOL_SIZE: String(CONCURRENCY + 4),
      PUBLIC_URL: 'https://tactful.example',
      MAIL_FROM: 'Tactful <newsletter@tactful.example>',
      BOUNCE_DOMAIN: 'bounce.tactful.example',
    };
    const config = loadConfig(env);
    app = await benchApp(config, database.url);
    const db = app.get(DataSource);
    const worker = app.get(DeliveryWorker);
    const [{ server_version: pgVersion }] = await db.query('SHOW server_version');

    // Active subscribers with a confirmed topic subscription, set-based.
    const people = Math.max(MAILS, UNPOOLED_MAILS) + 10;
    const [topic] = await db.query(`INSERT INTO topics (key, name_de, name_en) VALUES ('trade-fairs', 'Messetermine', 'Trade fairs') RETURNING id`);
    await db.query(
      `INSERT INTO subscribers (email, locale, time_zone, cadence, status, source, confirmed_at)
       SELECT 'kunde' || i || '@example.de', 'de', 'Europe/Berlin', 'weekly', 'active', 'import', now() FROM generate_series(1, $1) i`,
      [people],
    );
    await db.query(
      `INSERT INTO topic_subscriptions (subscriber_id, topic_id, status, consented_at, consent_source, confirmed_at)
       SELECT id, $1, 'confirmed', now(), 'import', now() FROM subscribers`,
      [topic.id],
    );

    let run = 0;
    /** Queues `count` rows of `paragraphs`, drains them through the worker, returns the figures. */
    const sendLoop = async (count, paragraphs, sink, helpers = []) => {
      run += 1;
      await db.query(
        `INSERT INTO deliveries (subscriber_id, class, kind, topic_id, ref_id, locale, status, reason, idempotency_key, payload,
                                 next_attempt_at, created_at, updated_at)
         SELECT id, 'marketing', 'bench_mail', $1, $2, 'de', 'queued', 'queued', $2 || ':' || id, jsonb_build_object('paragraphs', $3::int), $4, $4, $4
         FROM subscribers ORDER BY id LIMIT $5`,
        [topic.id, `bench-${run}`, paragraphs, new Date(Date.now() - 1000), count],
      );
      const before = await sink.stats();
      const [cpuBefore, dbBefore] = [ownCpuMs(), await databaseCpuMs(db)];
      const started = process.hrtime.bigint();
      const [stats, ...others] = await Promise.all([worker.drain(), ...helpers.map((h) => h.drain())]);
      const seconds = Number(process.hrtime.bigint() - started) / 1e9;
      const [cpuAfter, dbAfter] = [ownCpuMs() + others.reduce((a, o) => a + o.cpuMs, 0), await databaseCpuMs(db)];
      const after = await sink.stats();
      const arrived = after.count - before.count;
      const sent = stats.sent + others.reduce((a, o) => a + o.sent, 0);
      if (sent !== count || arrived !== count) {
        throw new Error(`run ${run}: queued ${count}, workers sent ${sent}, sink got ${arrived} (${JSON.stringify(stats)})`);
      }
      return {
        mails: count,
        seconds,
        mailsPerSecond: count / seconds,
        bytesPerMail: Math.round((after.bytes - before.bytes) / arrived),
        ...cpuFigures(
          count,
          cpuAfter - cpuBefore,
          after.cpuMs - before.cpuMs,
          dbBefore === null || dbAfter === null ? null : dbAfter - dbBefore,
          1 + helpers.length,
        ),
      };
    };
    /** Puts a transport behind the worker (the app's own is pooled; a bench needs both kinds). */
    const useTransport = async (transport) => {
      if (relaysModule) {
        await worker.relays.close();
        worker.relays = new relaysModule.MailRelays({ name: 'default', transport, ratePerSecond: 0 });
      } else {
        await worker.transport.close();
        worker.transport = transport;
      }
    };
    const { generateKeyPairSync } = require('node:crypto');
    const dkimSigners = dkimModule
      ? [
          ['RSA 2048', 'rsa-sha256', generateKeyPairSync('rsa', { modulusLength: 2048 })],
          ['Ed25519', 'ed25519-sha256', generateKeyPairSync('ed25519')],
        ].map(([label, algorithm, pair]) => [
          label,
          new dkimModule.DkimSigner({
            domain: 'tactful.example',
            selector: 'bench',
            algorithm,
            privateKeyPem: pair.privateKey.export({ format: 'pem', type: 'pkcs8' }).toString(),
          }),
        ])
      : [];

    // Calibrate the body so the message on the wire is ~8 kB and ~70 kB.
    await useTransport(new SmtpMailTransport({ url: sinks.stock.url, pool: true, maxConnections: CONNECTIONS }));
    const probe = async (paragraphs) => (await sendLoop(1, paragraphs, sinks.stock)).bytesPerMail;
    const [base, with40] = [await probe(0), await probe(40)];
    const perParagraph = (with40 - base) / 40;
    // The campaign layout alone is ~15 kB on the wire (MJML's inline styles, quoted-printable):
    // the "8 kB" outbox rows are the smallest real campaign mail; the table shows the true size.
    const paragraphsFor = (kb) => Math.max(0, Math.round((kb * 1024 - base) / perParagraph));
    const calibration = new SmtpMailTransport({ url: sinks.stock.url, pool: true, maxConnections: 1 });
    const wireSize = async (repeats) => {
      await calibration.send(syntheticMail(repeats, `probe-${repeats}-${Date.now()}`, config.mailFrom));
      return (await sinks.stock.stats()).lastSize;
    };
    const [s10, s110] = [await wireSize(10), await wireSize(110)];
    const repeatsFor = async (kb) => Math.max(1, Math.round(10 + ((kb * 1024 - s10) * 100) / (s110 - s10)));
    await calibration.close();

    const results = [];
    const record = (row) => {
      results.push(row);
      log(
        `${row.mail.padEnd(6)} ${row.path.padEnd(10)} ${row.transport.padEnd(34)} ${String(row.mails).padStart(6)} ` +
          `${row.seconds.toFixed(2).padStart(8)} s ${Math.round(row.mailsPerSecond).toString().padStart(6)} mails/s  ${(row.bytesPerMail / 1024).toFixed(1).padStart(5)} kB` +
          `  ${fmt(row.workerCpuMsPerMail)} ${fmt(row.sinkCpuMsPerMail)} ${fmt(row.databaseCpuMsPerMail)}  ${String(row.idleCeilingMailsPerSecond).padStart(6)}`,
      );
    };
    log(`\nbench/send: worker concurrency ${CONCURRENCY}, pool ${CONNECTIONS} connections, ${database.kind} PostgreSQL ${pgVersion}`);
    log(
      `${'mail'.padEnd(6)} ${'path'.padEnd(10)} ${'transport'.padEnd(34)} ${'mails'.padStart(6)} ${'time'.padStart(10)} ${'rate'.padStart(13)}  ${'size'.padStart(8)}` +
        `  CPU ms/mail: worker  sink    db   idle ceiling (mails/s)`,
    );

    for (const kb of SIZES_KB) {
      const paragraphs = paragraphsFor(kb);
      const mail = `${kb} kB`;
      // Warm-up: JIT, template cache, pool connections.
      await useTransport(new SmtpMailTransport({ url: sinks.stock.url, pool: true, maxConnections: CONNECTIONS }));
      await sendLoop(WARMUP, paragraphs, sinks.stock);
      record({ mail, path: 'outbox', transport: `pooled (${CONNECTIONS} connections)`, ...(await sendLoop(MAILS, paragraphs, sinks.stock)) });
      if (ONLY_OUTBOX > 0) {
        for (let round = 1; round < ONLY_OUTBOX; round++) {
          record({ mail, path: 'outbox', transport: `pooled (${CONNECTIONS} connections)`, ...(await sendLoop(MAILS, paragraphs, sinks.stock)) });
        }
        continue;
      }
      for (const [label, dkim] of kb === 8 ? dkimSigners : []) {
        await useTransport(new SmtpMailTransport({ url: sinks.stock.url, pool: true, maxConnections: CONNECTIONS, dkim }));
        await sendLoop(WARMUP, paragraphs, sinks.stock);
        record({ mail, path: 'outbox', transport: `pooled (${CONNECTIONS}), DKIM ${label}`, ...(await sendLoop(MAILS, paragraphs, sinks.stock)) });
        await useTransport(new SmtpMailTransport({ url: sinks.stock.url, pool: true, maxConnections: CONNECTIONS }));
      }
      if (kb === 8 && PROCESSES > 1) {
        const helpers = await startWorkerProcesses(PROCESSES - 1, env);
        try {
          await sendLoop(WARMUP * PROCESSES, paragraphs, sinks.stock, helpers); // their warm-up
          record({
            mail,
            path: 'outbox',
            transport: `pooled (${CONNECTIONS}), ${PROCESSES} processes`,
            ...(await sendLoop(MAILS, paragraphs, sinks.stock, helpers)),
          });
        } finally {
          await Promise.all(helpers.map((h) => h.close()));
        }
      }
      await useTransport(new SmtpMailTransport({ url: sinks.stock.url, pool: false }));
      record({ mail, path: 'outbox', transport: 'unpooled (a connection per mail)', ...(await sendLoop(UNPOOLED_MAILS, paragraphs, sinks.stock)) });

      // The transport alone, as DESIGN.md states the target: a mail of exactly this size on the
      // wire (HTML and text part, like the transport test's bigMail), sent again and again.
      const repeats = await repeatsFor(kb);
      const outgoing = (i) => syntheticMail(repeats, `bench-${kb}-${i}-${Date.now()}`, config.mailFrom);
      for (const [label, transport, count, inFlight] of [
        [`pooled (${CONNECTIONS} connections)`, new SmtpMailTransport({ url: sinks.stock.url, pool: true, maxConnections: CONNECTIONS }), MAILS, CONCURRENCY],
        ['unpooled (a connection per mail)', new SmtpMailTransport({ url: sinks.stock.url, pool: false }), UNPOOLED_MAILS, CONCURRENCY],
      ]) {
        await transport.send(outgoing(-1));
        const before = await sinks.stock.stats();
        const cpuBefore = ownCpuMs();
        let next = 0;
        const started = process.hrtime.bigint();
        await Promise.all(
          Array.from({ length: inFlight }, async () => {
            while (next < count) {
              const outcome = await transport.send(outgoing(next++));
              if (outcome.status !== 'sent') throw new Error(`transport-only send: ${JSON.stringify(outcome)}`);
            }
          }),
        );
        const seconds = Number(process.hrtime.bigint() - started) / 1e9;
        const cpuAfter = ownCpuMs();
        const after = await sinks.stock.stats();
        await transport.close();
        record({
          mail,
          path: 'transport',
          transport: label,
          mails: count,
          seconds,
          mailsPerSecond: count / seconds,
          bytesPerMail: Math.round((after.bytes - before.bytes) / count),
          ...cpuFigures(count, cpuAfter - cpuBefore, after.cpuMs - before.cpuMs, null),
        });
      }
    }

    if (ONLY_OUTBOX > 0) {
      const perMail = results.map((r) => r.workerCpuMsPerMail).sort((a, b) => a - b);
      log(`worker CPU ms/mail over ${results.length} rounds: median ${perMail[Math.floor(perMail.length / 2)]}, min ${perMail[0]}`);
      log(
        `load average at the end: ${os
          .loadavg()
          .map((l) => l.toFixed(2))
          .join(' ')}`,
      );
      return;
    }
    const plain = (r) => !r.transport.includes('processes') && !r.transport.includes('DKIM');
    const rate = (path, transport) => results.find((r) => r.mail === '8 kB' && r.path === path && r.transport.startsWith(transport) && plain(r)).mailsPerSecond;
    const targets = {};
    for (const path of ['transport', 'outbox']) {
      const pooled = rate(path, 'pooled');
      const unpooled = rate(path, 'unpooled (a');
      const ceiling = results.find((r) => r.mail === '8 kB' && r.path === path && r.transport.startsWith('pooled') && plain(r)).idleCeilingMailsPerSecond;
      targets[path] = {
        pooled8kBMailsPerSecond: Math.round(pooled),
        atLeast600: pooled >= 600,
        pooledOverUnpooled: Number((pooled / unpooled).toFixed(1)),
        atLeast3x: pooled >= 3 * unpooled,
        pooled8kBIdleCeilingMailsPerSecond: ceiling,
      };
      const t = targets[path];
      log(
        `target (${path.padEnd(9)}): 8 kB pooled ${t.pooled8kBMailsPerSecond} mails/s, ≥ 600 ${t.atLeast600 ? 'met' : 'NOT met'}; ` +
          `pooled/unpooled ${t.pooledOverUnpooled}×, ≥ 3× ${t.atLeast3x ? 'met' : 'NOT met'}; CPU-bound ceiling on an idle machine ≈ ${ceiling} mails/s`,
      );
    }
    const several = results.find((r) => r.mail === '8 kB' && r.path === 'outbox' && r.transport.includes('processes'));
    if (several) {
      targets.outboxProcesses = {
        processes: PROCESSES,
        pooled8kBMailsPerSecond: Math.round(several.mailsPerSecond),
        atLeast600: several.mailsPerSecond >= 600,
      };
      log(
        `target (outbox, ${PROCESSES} processes): 8 kB pooled ${Math.round(several.mailsPerSecond)} mails/s, ≥ 600 ${several.mailsPerSecond >= 600 ? 'met' : 'NOT met'}`,
      );
    }
    const unsigned = results.find((r) => r.mail === '8 kB' && r.path === 'outbox' && r.transport.startsWith('pooled') && plain(r));
    for (const row of results.filter((r) => r.transport.includes('DKIM'))) {
      const extra = row.workerCpuMsPerMail - unsigned.workerCpuMsPerMail;
      targets[`dkim ${row.transport.split('DKIM ')[1]}`] = {
        workerCpuMsPerMailExtra: Number(extra.toFixed(3)),
        mailsPerSecond: Math.round(row.mailsPerSecond),
      };
      log(
        `DKIM ${row.transport.split('DKIM ')[1]}: +${extra.toFixed(3)} ms worker CPU per mail, ${Math.round(row.mailsPerSecond)} mails/s (unsigned ${Math.round(unsigned.mailsPerSecond)} in the same run)`,
      );
    }
    log(
      `load average at the end: ${os
        .loadavg()
        .map((l) => l.toFixed(2))
        .join(' ')}`,
    );

    const out = {
      date: new Date().toISOString(),
      command: `node bench/send.js ${args.join(' ')}`.trim(),
      machine: {
        cpus: os.cpus().length,
        cpuModel: os.cpus()[0]?.model,
        memoryGiB: Number((os.totalmem() / 2 ** 30).toFixed(1)),
        node: process.version,
        postgres: pgVersion,
        database: database.kind,
        loadAverage: os.loadavg(),
      },
      settings: { workerConcurrency: CONCURRENCY, smtpMaxConnections: CONNECTIONS, workerBatchSize: config.workerBatchSize, warmupMails: WARMUP },
      results,
      targets,
    };
    mkdirSync(join(__dirname, 'results'), { recursive: true });
    writeFileSync(join(__dirname, 'results/send.json'), JSON.stringify(out, null, 2) + '\n');
    log('wrote bench/results/send.json');
  } finally {
    await app?.close();
    await sinks.stock?.close();
    await database.close();
  }
}

if (process.argv.includes('--worker')) {
  workerProcess();
} else {
  main().catch((error) => {
    process.stderr.write(`bench/send failed: ${error.stack ?? error}\n`);
    process.exit(1);
  });
}
