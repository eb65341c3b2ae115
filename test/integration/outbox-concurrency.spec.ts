// Exactly once across real processes: `node dist/main.js` workers race over one database and
// send to in-process SMTP sinks; one is killed with SIGKILL half-way, another is frozen with
// SIGSTOP past its lease. Every mail must arrive; duplicates are bounded by what was in flight.
import { ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DataSource } from 'typeorm';
import { SystemClock } from '../../src/common/clock';
import { DeliveryWorker, messageIdFor } from '../../src/delivery/delivery-worker';
import { startTestApp, TestApp, TEST_SECRETS } from '../support/app';
import { DistSnapshot, snapshotDist } from '../support/dist-snapshot';
import { startSmtpSink, SmtpSink } from '../support/smtp-sink';

const SENDER_DOMAIN = 'tactful.localhost';

let dist: DistSnapshot;
let t: TestApp;
let db: DataSource;
const children = new Set<ChildProcess>();
const sinks: SmtpSink[] = [];

// The children run a private copy of the build: another run rebuilding dist/ cannot pull it away.
beforeAll(async () => {
  dist = await snapshotDist();
});
afterAll(() => dist?.dispose());

async function sink(): Promise<SmtpSink> {
  // No parsing: the raw header is enough, and mailparser would be the bottleneck.
  const started = await startSmtpSink({ parse: false });
  sinks.push(started);
  return started;
}

function exited(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((done) => child.once('exit', () => done()));
}

interface Worker {
  child: ChildProcess;
  output: () => string;
}

/** A real Tactful process on the test database with its worker on and the scheduler off. */
function startWorker(name: string, smtpUrl: string, env: Record<string, string> = {}): Worker {
  const child = spawn(process.execPath, [dist.main], {
    env: {
      PATH: process.env.PATH,
      NODE_ENV: 'test',
      ...TEST_SECRETS,
      DATA_DIR: mkdtempSync(join(tmpdir(), `tactful-${name}-`)),
      // Named sessions, so the test can see when a killed process has left the database.
      DATABASE_URL: `${t.db.url}?application_name=${name}`,
      SMTP_URL: smtpUrl,
      HOST: '127.0.0.1',
      PORT: '0',
      WORKER_ENABLED: 'true',
      SCHEDULER_ENABLED: 'false',
      WORKER_POLL_MS: '50',
      LOG_LEVEL: 'warn',
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.add(child);
  child.once('exit', () => children.delete(child));
  let output = '';
  child.stdout!.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString()));
  return { child, output: () => output };
}

async function stopWorker(worker: Worker): Promise<void> {
  worker.child.kill('SIGTERM');
  await exited(worker.child);
}

/** Imports `count` pending subscribers in one CSV request: one confirmation mail each is queued. */
async function importPending(prefix: string, count: number): Promise<void> {
  let csv = 'email,locale,topics\n';
  for (let i = 1; i <= count; i++) csv += `${prefix}${i}@example.com,${i % 4 ? 'de' : 'en'},trade-fairs\n`;
  const res = await t.api('POST', '/v1/subscribers/import', { raw: csv, contentType: 'text/csv' });
  expect(res.status).toBe(200);
  expect(res.body).toMatchObject({ created: count, rejected: 0 });
  const [{ queued }] = await db.query(
    `SELECT count(*)::int AS queued FROM deliveries d JOIN subscribers s ON s.id = d.subscriber_id
     WHERE s.email LIKE $1 AND d.kind = 'confirm_subscription' AND d.status = 'queued'`,
    [`${prefix}%`],
  );
  expect(queued).toBe(count);
}

/** The deliveries of one batch, with the Message-ID each must arrive under. */
async function batch(prefix: string): Promise<{ id: string; status: string; unknown_outcomes: number; expected: string }[]> {
  const rows: { id: string; status: string; unknown_outcomes: number; idempotency_key: string }[] = await db.query(
    `SELECT d.id, d.status, d.unknown_outcomes, d.idempotency_key FROM deliveries d JOIN subscribers s ON s.id = d.subscriber_id
     WHERE s.email LIKE $1`,
    [`${prefix}%`],
  );
  return rows.map((row) => ({ ...row, expected: messageIdFor(row.idempotency_key, SENDER_DOMAIN) }));
}

async function countByStatus(prefix: string): Promise<Record<string, number>> {
  const rows: { status: string; n: number }[] = await db.query(
    `SELECT d.status, count(*)::int AS n FROM deliveries d JOIN subscribers s ON s.id = d.subscriber_id
     WHERE s.email LIKE $1 GROUP BY d.status`,
    [`${prefix}%`],
  );
  return Object.fromEntries(rows.map((row) => [row.status, row.n]));
}

const MESSAGE_ID = /^Message-ID:\s*(<[^>\r\n]+>)/im;

/** How often each Message-ID arrived, over all the given sinks. */
function arrivals(...from: SmtpSink[]): Map<string, number> {
  const counts = new Map<string, number>();
  for (const s of from) {
    for (const message of s.messages) {
      const id = MESSAGE_ID.exec(message.raw)?.[1];
      if (!id) throw new Error(`a message without Message-ID reached the sink:\n${message.raw.slice(0, 500)}`);
      counts.set(id, (counts.get(id) ?? 0) + 1);
    }
  }
  return counts;
}

/**
 * Polls `check` until it holds; fails after `timeoutMs`, or, with `progress`, only once `progress`
 * has not grown for `timeoutMs` (the machine's load sets the pace, a stall fails).
 */
async function until(what: string, check: () => Promise<boolean> | boolean, timeoutMs: number, workers: Worker[] = [], progress?: () => number): Promise<void> {
  let deadline = Date.now() + timeoutMs;
  let last = progress?.();
  while (!(await check())) {
    const now = progress?.();
    if (now !== undefined && now !== last) {
      last = now;
      deadline = Date.now() + timeoutMs;
    }
    if (Date.now() > deadline) {
      const statuses = await db.query(`SELECT status, count(*)::int AS n FROM deliveries GROUP BY status`);
      throw new Error(
        `timed out waiting for ${what}; deliveries ${JSON.stringify(statuses)}, sinks ${JSON.stringify(sinks.map((s) => s.messages.length))}\n` +
          workers.map((w) => w.output()).join('\n---\n'),
      );
    }
    await new Promise((done) => setTimeout(done, 25));
  }
}

const sleep = (ms: number) => new Promise((done) => setTimeout(done, ms));

describe('outbox workers in separate processes', () => {
  // A fresh database per test, so rows a failed test leaves behind cannot feed the next one's workers.
  beforeEach(async () => {
    // The in-process app only imports subscribers (its worker is off); the children do the sending.
    // Real time: the children run on the system clock too.
    t = await startTestApp({ clock: new SystemClock() });
    db = t.app.get(DataSource);
    expect((await t.api('POST', '/v1/topics', { body: { key: 'trade-fairs', nameDe: 'Messetermine', nameEn: 'Trade fair dates' } })).status).toBe(201);
  });

  afterEach(async () => {
    for (const child of children) child.kill('SIGKILL'); // also ends a SIGSTOPped one
    await Promise.all([...children].map(exited));
    for (const sink of sinks.splice(0)) await sink.close();
    await t?.close();
  });

  it('sends each of 5,000 queued mails exactly once when two worker processes race over one database', async () => {
    const ROWS = 5_000;
    await importPending('race', ROWS);
    // One sink per process, so each mail is attributed to the process that sent it.
    const [sinkA, sinkB] = [await sink(), await sink()];
    const started = Date.now();
    const workers = [startWorker('race-a', sinkA.url), startWorker('race-b', sinkB.url)];

    await until('all 5,000 rows sent', async () => (await countByStatus('race')).sent === ROWS, 300_000, workers);
    const seconds = (Date.now() - started) / 1000;
    await Promise.all(workers.map(stopWorker));

    const counts = arrivals(sinkA, sinkB);
    const rows = await batch('race');
    const duplicates = [...counts.values()].reduce((sum, n) => sum + (n - 1), 0);
    const missing = rows.filter((row) => !counts.has(row.expected)).length;
    process.stdout.write(
      `two processes over ${ROWS} rows in ${seconds.toFixed(1)} s (incl. start-up): process A sent ${sinkA.messages.length}, ` +
        `process B sent ${sinkB.messages.length}; duplicates ${duplicates}, missing ${missing}\n`,
    );

    expect(rows).toHaveLength(ROWS);
    expect(rows.every((row) => row.status === 'sent' && row.unknown_outcomes === 0)).toBe(true);
    expect(counts.size).toBe(ROWS);
    expect(duplicates).toBe(0);
    expect(missing).toBe(0);
    expect(sinkA.messages.length + sinkB.messages.length).toBe(ROWS);
    // Both did real work (SKIP LOCKED hands them disjoint batches rather than one waiting on the other).
    expect(sinkA.messages.length).toBeGreaterThan(ROWS * 0.1);
    expect(sinkB.messages.length).toBeGreaterThan(ROWS * 0.1);
  }, 360_000);

  it('loses nothing and repeats at most the rows in flight when a worker is SIGKILLed at 40 % of 10,000 mails', async () => {
    const ROWS = 10_000;
    await importPending('crash', ROWS);
    const shared = await sink();
    // Short leases, so the fresh process takes over the dead one's rows after 2 s instead of 2 min.
    const env = { WORKER_LEASE_SECONDS: '2', WORKER_CLAIM_LEASE_SECONDS: '2' };
    const started = Date.now();
    const first = startWorker('crash-first', shared.url, env);

    // About 40 %, off a batch boundary (batches of 100), so the kill lands mid-batch.
    await shared.waitFor(ROWS * 0.4 + 37, { stallMs: 60_000 });
    first.child.kill('SIGKILL');
    await exited(first.child);
    const sentAtKill = shared.messages.length;
    // PostgreSQL rolls back the dead process's open transactions once it notices the closed
    // sockets; wait until none of its sessions is left, then read what it left claimed.
    await until(
      'the killed process to leave the database',
      async () => (await db.query(`SELECT count(*)::int AS n FROM pg_stat_activity WHERE application_name = 'crash-first'`))[0].n === 0,
      10_000,
    );
    const atKill = await countByStatus('crash');
    const inFlight = atKill.sending ?? 0;

    const second = startWorker('crash-second', shared.url, env);
    await until(
      'all 10,000 rows settled',
      async () => (await countByStatus('crash')).sent === ROWS,
      60_000,
      [second],
      () => shared.messages.length,
    );
    await stopWorker(second);
    const seconds = (Date.now() - started) / 1000;

    const counts = arrivals(shared);
    const rows = await batch('crash');
    const duplicates = [...counts.values()].reduce((sum, n) => sum + (n - 1), 0);
    const lost = rows.filter((row) => !counts.has(row.expected)).length;
    const reclaimed = rows.filter((row) => row.unknown_outcomes > 0).length;
    process.stdout.write(
      `crash test: ${ROWS} rows in ${seconds.toFixed(1)} s; killed after ${sentAtKill} arrived; status at kill ${JSON.stringify(atKill)}; ` +
        `in flight (sending) ${inFlight}; reclaimed as unknown_outcome ${reclaimed}; ` +
        `arrived ${shared.messages.length}, distinct ${counts.size}, duplicates ${duplicates}, lost ${lost}\n`,
    );

    expect(rows).toHaveLength(ROWS);
    expect(rows.every((row) => row.status === 'sent')).toBe(true);
    expect(lost).toBe(0);
    expect(counts.size).toBe(ROWS);
    const expected = new Set(rows.map((row) => row.expected));
    expect([...counts.keys()].filter((id) => !expected.has(id))).toEqual([]); // nothing that was not queued
    expect(duplicates).toBeLessThanOrEqual(inFlight);
    // Only the rows at their hand-over when it died (one per lane at most) count as an unknown
    // outcome; the rest of those left 'sending' only waited and went back as never sent.
    expect(reclaimed).toBeLessThanOrEqual(Math.min(inFlight, 8));
    expect(duplicates).toBeLessThanOrEqual(reclaimed);
    expect(Math.max(...counts.values())).toBeLessThanOrEqual(2);
    expect(shared.messages.length).toBe(ROWS + duplicates);
  }, 1_200_000);

  it('takes over a frozen worker’s expired lease: the rows it had not started go once through the other worker, the ones it was sending stay its own', async () => {
    const ROWS = 40;
    await importPending('stall', ROWS);
    const slow = await sink();
    const fast = await sink();
    // The first relay answers the final dot after 3 s: the worker is frozen in the middle of that.
    // Both lanes (WORKER_CONCURRENCY 2) must be inside their hand-over, row locked, before the freeze.
    let frozen!: () => void;
    const sending = new Promise<void>((done) => (frozen = done));
    let rcpts = 0;
    slow.fault((ctx) => {
      if (ctx.stage !== 'message') return undefined;
      if (++rcpts === 2) frozen();
      return { kind: 'accept', delayMs: 3_000 };
    });
    const env = { WORKER_LEASE_SECONDS: '2', WORKER_CLAIM_LEASE_SECONDS: '2', WORKER_BATCH_SIZE: '20', WORKER_CONCURRENCY: '2' };
    const stalled = startWorker('stall-first', slow.url, env);
    await sending;
    stalled.child.kill('SIGSTOP');
    const claimedByStalled: { id: string }[] = await db.query(
      `SELECT d.id FROM deliveries d JOIN subscribers s ON s.id = d.subscriber_id WHERE s.email LIKE 'stall%' AND d.status = 'sending'`,
    );
    expect(claimedByStalled).toHaveLength(20);

    await sleep(2_500); // the frozen worker's lease runs out
    const other = startWorker('stall-second', fast.url, env);
    // Everything but the two mails the frozen worker is in the middle of (row-locked) goes out.
    await until('38 rows sent by the other worker', async () => (await countByStatus('stall')).sent === ROWS - 2, 60_000, [other]);
    await sleep(500); // the other worker keeps polling; the two locked rows stay with the frozen one
    expect(await countByStatus('stall')).toEqual({ sent: ROWS - 2, sending: 2 });
    expect(fast.messages).toHaveLength(ROWS - 2);

    stalled.child.kill('SIGCONT');
    await until('the frozen worker to finish its two', async () => (await countByStatus('stall')).sent === ROWS, 30_000, [stalled, other]);
    await Promise.all([stopWorker(stalled), stopWorker(other)]);

    const counts = arrivals(slow, fast);
    const rows = await batch('stall');
    process.stdout.write(
      `stalled worker: slow relay got ${slow.messages.length}, the other worker sent ${fast.messages.length}, ` +
        `reclaimed ${rows.filter((row) => row.unknown_outcomes > 0).length}\n`,
    );
    expect(slow.messages).toHaveLength(2);
    expect(fast.messages).toHaveLength(ROWS - 2);
    expect(counts.size).toBe(ROWS);
    expect(Math.max(...counts.values())).toBe(1);
    // The 18 claimed-but-not-started rows went back to the queue as never sent: no unknown outcome.
    expect(rows.filter((row) => row.unknown_outcomes > 0)).toHaveLength(0);
  }, 120_000);
  it('frees a SIGKILLed worker’s waiting mails on the short claim lease: the other worker sends them while the started ones still hold the full lease', async () => {
    const ROWS = 300;
    await importPending('quick', ROWS);
    const shared = await sink();
    // Each mail takes a moment at the relay, so the kill lands with most of the batch still waiting.
    shared.fault((ctx) => (ctx.stage === 'message' ? { kind: 'accept', delayMs: 20 } : undefined));
    const env = { WORKER_LEASE_SECONDS: '600', WORKER_CLAIM_LEASE_SECONDS: '2', WORKER_BATCH_SIZE: '300', WORKER_CONCURRENCY: '2' };
    const first = startWorker('quick-first', shared.url, env);
    await shared.waitFor(40, 120_000);
    first.child.kill('SIGKILL');
    await exited(first.child);
    const arrivedAtKill = shared.messages.length;
    await until(
      'the killed process to leave the database',
      async () => (await db.query(`SELECT count(*)::int AS n FROM pg_stat_activity WHERE application_name = 'quick-first'`))[0].n === 0,
      10_000,
    );
    // The leases it left: the waiting mails' run out within the claim lease, the started ones' (at
    // SMTP when it died, perhaps delivered) only after the full one.
    const [atKill] = await db.query(
      `SELECT count(*) FILTER (WHERE d.sending_started_at IS NULL)::int AS waiting,
              count(*) FILTER (WHERE d.sending_started_at IS NOT NULL)::int AS started,
              bool_and(d.lease_until <= clock_timestamp() + interval '2 seconds') FILTER (WHERE d.sending_started_at IS NULL) AS waiting_short,
              bool_and(d.lease_until > clock_timestamp() + interval '500 seconds') FILTER (WHERE d.sending_started_at IS NOT NULL) AS started_long
       FROM deliveries d JOIN subscribers s ON s.id = d.subscriber_id WHERE s.email LIKE 'quick%' AND d.status = 'sending'`,
    );
    expect(atKill.waiting).toBeGreaterThan(0);
    expect(atKill.started).toBeLessThanOrEqual(2);
    expect(atKill.waiting_short).toBe(true);
    if (atKill.started > 0) expect(atKill.started_long).toBe(true);

    const second = startWorker('quick-second', shared.url, env);
    // Everything but the started mails is sent while those still hold their full lease: recovery
    // did not wait for it.
    await until('all but the started mails sent', async () => (await countByStatus('quick')).sent === ROWS - atKill.started, 120_000, [second]);
    await stopWorker(second);
    const [{ held }] = await db.query(
      `SELECT count(*)::int AS held FROM deliveries d JOIN subscribers s ON s.id = d.subscriber_id
       WHERE s.email LIKE 'quick%' AND d.status = 'sending' AND d.lease_until > clock_timestamp()`,
    );
    expect(held).toBe(atKill.started);

    const rows = await batch('quick');
    const counts = arrivals(shared);
    process.stdout.write(`claim lease: killed after ${arrivedAtKill} arrivals; at kill ${atKill.waiting} waiting, ${atKill.started} started\n`);
    // Exactly once: every sent mail arrived once, nothing arrived twice, and the waiting mails went
    // back as never sent (no unknown outcome counted for them).
    const expected = new Set(rows.map((row) => row.expected));
    expect([...counts.keys()].filter((id) => !expected.has(id))).toEqual([]);
    expect(Math.max(...counts.values())).toBe(1);
    for (const row of rows.filter((r) => r.status === 'sent')) expect(counts.get(row.expected)).toBe(1);
    expect(rows.filter((row) => row.unknown_outcomes > 0)).toEqual([]);
  }, 300_000);
});

describe('lease expiry in-process', () => {
  it('reclaims a row left sending by a dead worker, marks it unknown_outcome and sends it once', async () => {
    const relay = await startSmtpSink({ parse: false });
    const app = await startTestApp({ env: { SMTP_URL: relay.url } });
    try {
      const now = app.clock.now();
      const created = await app.api('POST', '/v1/subscribers', { body: { email: 'orphan@example.de' } });
      expect(created.status).toBe(201);
      const appDb = app.app.get(DataSource);
      // What a worker that died at the hand-over leaves behind: started, lease run out, owner gone.
      await appDb.query(
        `UPDATE deliveries SET status = 'sending', attempts = 1, lease_owner = 'dead-host:4242:deadbeef', lease_until = $2, sending_started_at = $2
         WHERE subscriber_id = $1`,
        [created.body.id, new Date(now.getTime() - 1_000)],
      );
      const worker = app.app.get(DeliveryWorker);
      expect(await worker.runOnce()).toMatchObject({ reclaimed: 1, claimed: 1, sent: 1 });
      expect(await worker.drain()).toMatchObject({ claimed: 0, reclaimed: 0 });

      const [row] = await appDb.query(`SELECT * FROM deliveries WHERE subscriber_id = $1`, [created.body.id]);
      expect(row).toMatchObject({ status: 'sent', unknown_outcomes: 1, attempts: 2, lease_owner: null });
      expect(relay.messages).toHaveLength(1);
      expect(MESSAGE_ID.exec(relay.messages[0].raw)?.[1]).toBe(messageIdFor(row.idempotency_key, SENDER_DOMAIN));
    } finally {
      await app.close();
      await relay.close();
    }
  });

  it('gives a dead worker’s mail that never reached its hand-over back to the queue as never sent, once its claim lease ran out', async () => {
    const relay = await startSmtpSink({ parse: false });
    const app = await startTestApp({ env: { SMTP_URL: relay.url } });
    try {
      const created = await app.api('POST', '/v1/subscribers', { body: { email: 'waiting@example.de' } });
      const appDb = app.app.get(DataSource);
      await appDb.query(
        `UPDATE deliveries SET status = 'sending', attempts = 1, lease_owner = 'dead-host:4242:deadbeef', lease_until = $2 WHERE subscriber_id = $1`,
        [created.body.id, new Date(app.clock.now().getTime() - 1_000)],
      );
      expect(await app.app.get(DeliveryWorker).runOnce()).toMatchObject({ reclaimed: 1, claimed: 1, sent: 1 });
      const [row] = await appDb.query(`SELECT * FROM deliveries WHERE subscriber_id = $1`, [created.body.id]);
      expect(row).toMatchObject({ status: 'sent', reason: 'sent', unknown_outcomes: 0, attempts: 1, lease_owner: null });
      expect(relay.messages).toHaveLength(1);
    } finally {
      await app.close();
      await relay.close();
    }
  });

  it('does not reclaim a lease that is still running', async () => {
    const app = await startTestApp();
    try {
      const created = await app.api('POST', '/v1/subscribers', { body: { email: 'busy@example.de' } });
      const appDb = app.app.get(DataSource);
      await appDb.query(`UPDATE deliveries SET status = 'sending', attempts = 1, lease_owner = 'live-host:1:cafe', lease_until = $2 WHERE subscriber_id = $1`, [
        created.body.id,
        new Date(app.clock.now().getTime() + 60_000),
      ]);
      expect(await app.app.get(DeliveryWorker).drain()).toMatchObject({ reclaimed: 0, claimed: 0 });
      const [row] = await appDb.query(`SELECT status, unknown_outcomes FROM deliveries WHERE subscriber_id = $1`, [created.body.id]);
      expect(row).toEqual({ status: 'sending', unknown_outcomes: 0 });
    } finally {
      await app.close();
    }
  });
});
