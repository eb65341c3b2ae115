// One client cannot take the service down (issue 17, items 5 and 6). Over real HTTP against a
// real PostgreSQL: uploads abandoned halfway hold no database connection and leave nothing
// behind; every session has a statement_timeout and an idle_in_transaction_session_timeout;
// each class of work (API, reports, imports, worker, scheduler, /health) draws from a pool of its
// own, so twenty of the heaviest dry runs allowed still leave /health, the API and the worker
// their connections; filters over the caps are refused; SIGTERM ends even with uploads hanging.
import { ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { connect, Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from 'pg';
import { DataSource } from 'typeorm';
import { budgetedPoolOf, PoolStats, runAs, WORK_CLASSES, WorkClass } from '../../src/database/connection-budgets';
import { SystemClock } from '../../src/common/clock';
import { DeliveryWorker, messageIdFor } from '../../src/delivery/delivery-worker';
import { startTestApp, TestApp, TEST_SECRETS } from '../support/app';
import { watchProcess } from '../support/contract';
import { createTestDatabase, TestDatabase } from '../support/database';
import { snapshotDist } from '../support/dist-snapshot';
import { freePort } from '../support/net';
import { createCampaign, createTopics } from '../support/seed';
import { startSmtpSink } from '../support/smtp-sink';

const sleep = (ms: number) => new Promise((done) => setTimeout(done, ms));

async function until(what: string, check: () => Promise<boolean> | boolean, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(25);
  }
}

/** A CSV of `rows` pending subscribers (no topics), `prefix` in every address. */
function csv(rows: number, prefix: string): Buffer {
  let text = 'email,locale\n';
  for (let i = 0; i < rows; i++) text += `${prefix}${i}@example.com,de\n`;
  return Buffer.from(text);
}

interface StalledUpload {
  socket: Socket;
  /** Everything the server answered so far. */
  answer(): string;
}

/** A raw-socket import that announces the whole body, sends the first half and then goes quiet. */
function stalledUpload(port: number, key: string, body: Buffer): Promise<StalledUpload> {
  return new Promise((resolve, reject) => {
    let answer = '';
    const socket = connect(port, '127.0.0.1', () => {
      socket.write(
        `POST /v1/subscribers/import HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer ${key}\r\n` +
          `Content-Type: text/csv\r\nContent-Length: ${body.length}\r\n\r\n`,
      );
      socket.write(body.subarray(0, Math.floor(body.length / 2)), () => resolve({ socket, answer: () => answer }));
    });
    socket.on('data', (chunk) => (answer += chunk.toString()));
    socket.on('error', () => undefined); // the server may cut it; the test looks at the answer
    socket.once('error', reject);
  });
}

async function metric(baseUrl: string, name: string): Promise<number> {
  const text = await (await fetch(`${baseUrl}/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith(`${name} `));
  return line ? Number(line.split(' ')[1]) : NaN;
}

const sessionsIdleInTransaction = async (t: TestApp): Promise<number> =>
  (await t.sql(`SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = current_database() AND state LIKE 'idle in transaction%'`))[0].n;

describe('connection budgets and session timeouts', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp({
      env: { DB_STATEMENT_TIMEOUT_MS: '20000', DB_JOB_STATEMENT_TIMEOUT_MS: '900000', DB_IDLE_IN_TRANSACTION_TIMEOUT_MS: '45000', WORKER_LEASE_SECONDS: '120' },
    });
  });
  afterAll(() => t?.close());

  it('opens every session of every work class with a statement_timeout and an idle_in_transaction_session_timeout', async () => {
    const db = t.app.get(DataSource);
    const settings: Record<string, { statement: string; idle: string; name: string }> = {};
    for (const workClass of WORK_CLASSES) {
      const [row] = await runAs(workClass, () =>
        db.query(
          `SELECT current_setting('statement_timeout') AS statement, current_setting('idle_in_transaction_session_timeout') AS idle,
                  current_setting('application_name') AS name`,
        ),
      );
      settings[workClass] = row;
    }
    expect(settings).toEqual({
      api: { statement: '20s', idle: '45s', name: 'tactful:api' },
      reports: { statement: '20s', idle: '45s', name: 'tactful:reports' },
      import: { statement: '20s', idle: '45s', name: 'tactful:import' },
      // A hand-over may wait on SMTP and on another hand-over's turn: up to a lease.
      worker: { statement: '2min', idle: '2min', name: 'tactful:worker' },
      scheduler: { statement: '15min', idle: '45s', name: 'tactful:scheduler' },
      health: { statement: '5s', idle: '5s', name: 'tactful:health' },
      inbound: { statement: '20s', idle: '45s', name: 'tactful:inbound' },
    });
  });

  it('gives each class a pool of its own, sized by its variable', () => {
    const stats = budgetedPoolOf(t.app.get(DataSource))!.stats();
    expect(Object.fromEntries(Object.entries(stats).map(([c, s]) => [c, s.max]))).toEqual({
      api: 10,
      reports: 3,
      import: 2,
      // The default: a connection per lane of both streams, and one for a paced relay's slot reservation.
      worker: t.config.workerConcurrency + t.config.workerServiceConcurrency + 1,
      scheduler: 6,
      health: 2,
      inbound: 2,
    });
  });
});

describe('a transaction left waiting, an upload that goes quiet, a statement that runs too long', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp({ env: { DB_IDLE_IN_TRANSACTION_TIMEOUT_MS: '300', IMPORT_IDLE_TIMEOUT_MS: '500', DB_STATEMENT_TIMEOUT_MS: '1000' } });
    await createTopics(t, ['offers']);
  });
  afterAll(() => t?.close());

  it('is ended by PostgreSQL after DB_IDLE_IN_TRANSACTION_TIMEOUT_MS, whoever opened it', async () => {
    const runner = t.app.get(DataSource).createQueryRunner();
    await runner.startTransaction();
    const [{ pid }] = await runner.query(`SELECT pg_backend_pid() AS pid`);
    await sleep(1_500);
    // PostgreSQL ended the session (TypeORM then drops the runner): the transaction and its locks are gone.
    expect(await t.sql(`SELECT pid FROM pg_stat_activity WHERE pid = $1`, [pid])).toEqual([]);
    await expect(runner.query(`SELECT 1`)).rejects.toThrow();
    await runner.release().catch(() => undefined);
    expect(await sessionsIdleInTransaction(t)).toBe(0);
  });

  it('cuts off an import upload that sends nothing for IMPORT_IDLE_TIMEOUT_MS with a problem, and imports nothing', async () => {
    const upload = await stalledUpload(Number(new URL(t.baseUrl).port), t.adminKey, csv(2_000, 'quiet'));
    await until('the answer', () => upload.answer().includes('\r\n\r\n{'));
    upload.socket.destroy();
    expect(upload.answer()).toMatch(/^HTTP\/1\.1 400 /);
    expect(upload.answer()).toContain('application/problem+json');
    expect(upload.answer()).toContain('sent nothing for 500 ms');
    expect((await t.sql(`SELECT count(*)::int AS n FROM subscribers WHERE email LIKE 'quiet%'`))[0].n).toBe(0);
  });

  it('answers a dry run that outlasts the statement_timeout with 503 and Retry-After, while /health answers', async () => {
    const campaignId = await createCampaign(t, { topic: 'offers' });
    // The dry run's statement waits behind this lock until DB_STATEMENT_TIMEOUT_MS ends it.
    const holder = new Client({ connectionString: t.db.url });
    await holder.connect();
    try {
      await holder.query('BEGIN');
      await holder.query('LOCK TABLE topic_subscriptions IN ACCESS EXCLUSIVE MODE');
      const dryRun = t.api('GET', `/v1/campaigns/${campaignId}/audience`);
      expect((await t.api('GET', '/health', { key: null })).status).toBe(200);
      const answer = await dryRun;
      expect(answer.status).toBe(503);
      expect(answer.headers.get('content-type')).toContain('application/problem+json');
      expect(answer.headers.get('retry-after')).toBe('30');
      expect(answer.body.detail).toContain('DB_STATEMENT_TIMEOUT_MS');
    } finally {
      await holder.query('ROLLBACK');
      await holder.end();
    }
  });
});

describe('import uploads abandoned halfway', () => {
  const UPLOADS = 24; // more than the API's pool (10) and the imports' (2) together
  let t: TestApp;
  let port: number;
  beforeAll(async () => {
    t = await startTestApp({ env: { IMPORT_IDLE_TIMEOUT_MS: '120000' } });
    port = Number(new URL(t.baseUrl).port);
  });
  afterAll(() => t?.close());

  it('hold no database connection while they hang, leave nothing behind when dropped, and the service stays fine', async () => {
    const uploads: StalledUpload[] = [];
    for (let i = 0; i < UPLOADS; i++) uploads.push(await stalledUpload(port, t.adminKey, csv(20_000, `aborted${i}-`)));
    // Every upload is inside the import, reading its body.
    await until('every upload being read', async () => (await metric(t.baseUrl, 'tactful_import_uploads_reading')) === UPLOADS);

    // While they hang: no transaction open, no connection held, everything else answers.
    expect(await sessionsIdleInTransaction(t)).toBe(0);
    const pools = budgetedPoolOf(t.app.get(DataSource))!;
    expect(pools.stats().import).toMatchObject({ waiting: 0 });
    expect(pools.stats().import.total - pools.stats().import.idle).toBe(0);
    expect((await t.api('GET', '/health', { key: null })).status).toBe(200);
    expect((await t.api('GET', '/v1/topics')).status).toBe(200);
    const small = await t.api('POST', '/v1/subscribers/import', { raw: 'email\nwhile-hanging@example.com\n', contentType: 'text/csv' });
    expect(small).toMatchObject({ status: 200, body: { applied: true, created: 1 } });

    // The clients give up.
    for (const upload of uploads) upload.socket.destroy();
    await until('no upload being read', async () => (await metric(t.baseUrl, 'tactful_import_uploads_reading')) === 0);

    expect(await sessionsIdleInTransaction(t)).toBe(0);
    expect((await t.sql(`SELECT count(*)::int AS n FROM subscribers WHERE email LIKE 'aborted%'`))[0].n).toBe(0);
    expect((await t.sql(`SELECT count(*)::int AS n FROM deliveries`))[0].n).toBe(1); // the small import's opt-in mail
    expect((await t.api('GET', '/health', { key: null })).status).toBe(200);
    const after = await t.api('POST', '/v1/subscribers/import', { raw: csv(500, 'after-').toString(), contentType: 'text/csv' });
    expect(after).toMatchObject({ status: 200, body: { applied: true, created: 500 } });
  }, 120_000);
});

describe('heavy audience filters', () => {
  const SUBSCRIBERS = 20_000;
  let t: TestApp;
  let topicId: string;
  beforeAll(async () => {
    t = await startTestApp({ env: { DB_POOL_WAIT_MS: '30000' } });
    await createTopics(t, ['offers']);
    [{ id: topicId }] = await t.sql(`SELECT id FROM topics WHERE key = 'offers'`);
    await t.sql(
      `INSERT INTO subscribers (email, locale, time_zone, cadence, status, attributes, source, confirmed_at, created_at, updated_at)
       SELECT 'load' || i || '@example.com', 'de', 'Europe/Berlin', 'weekly', 'active',
              jsonb_build_object('segment', 'v' || (i % 300), 'score', i % 1000), 'import', now(), now(), now()
       FROM generate_series(1, $1::int) i`,
      [SUBSCRIBERS],
    );
    await t.sql(
      `INSERT INTO topic_subscriptions (subscriber_id, topic_id, status, consented_at, consent_source, confirmed_at)
       SELECT id, $1, 'confirmed', now(), 'import', now() FROM subscribers`,
      [topicId],
    );
  }, 120_000);
  afterAll(() => t?.close());

  const values = (n: number, prefix: string) => Array.from({ length: n }, (_, i) => `${prefix}${i}`);

  it('refuses a filter over the caps with 400 naming the field and the cap, and stores nothing', async () => {
    const before = (await t.sql(`SELECT count(*)::int AS n FROM campaigns`))[0].n;
    // The filter that stalled the service: 99 OR-ed conditions of 1,000 values each (under the 1 MiB body limit).
    const huge = { or: Array.from({ length: 99 }, (_, i) => ({ attr: `segment${i}`, in: values(1000, 'v') })) };
    const refused = await t.api('POST', '/v1/campaigns', {
      body: { name: 'huge', topic: 'offers', subject: { en: 'Hi' }, body: { en: '<p>Hi</p>' }, audience: huge },
    });
    expect(refused.status).toBe(400);
    expect(refused.headers.get('content-type')).toContain('application/problem+json');
    expect(refused.body.errors).toEqual([{ field: 'audience', message: expect.stringContaining('at most 16384 bytes') }]);

    const longList = { and: [{ locale: 'de' }, { attr: 'segment', in: values(101, 'v') }] };
    const tooMany = await t.api('POST', '/v1/campaigns', {
      body: { name: 'list', topic: 'offers', subject: { en: 'Hi' }, body: { en: '<p>Hi</p>' }, audience: longList },
    });
    expect(tooMany.status).toBe(400);
    expect(tooMany.body.errors).toEqual([{ field: 'audience.and[1].in', message: expect.stringContaining('at most 100 per list') }]);

    const campaignId = await createCampaign(t, { topic: 'offers' });
    const patched = await t.api('PATCH', `/v1/campaigns/${campaignId}`, { body: { audience: huge } });
    expect(patched.status).toBe(400);
    expect(patched.body.errors[0].field).toBe('audience');
    expect((await t.sql(`SELECT audience FROM campaigns WHERE id = $1`, [campaignId]))[0].audience).toBeNull();

    const webinar = await t.api('POST', '/v1/webinars', {
      body: {
        topic: 'offers',
        title: { en: 'Heavy' },
        startsAt: new Date(t.clock.now().getTime() + 7 * 86_400_000).toISOString(),
        endsAt: new Date(t.clock.now().getTime() + 7 * 86_400_000 + 3_600_000).toISOString(),
        joinUrl: 'https://meet.example.com/heavy',
        invitation: { audience: huge },
      },
    });
    expect(webinar.status).toBe(400);
    expect(webinar.body.errors).toEqual([{ field: 'invitation.audience', message: expect.stringContaining('at most 16384 bytes') }]);
    expect((await t.sql(`SELECT count(*)::int AS n FROM campaigns`))[0].n).toBe(before + 1);
    expect((await t.sql(`SELECT count(*)::int AS n FROM webinars`))[0].n).toBe(0);
  });

  it('keeps /health, the API and the worker served while twenty of the heaviest allowed dry runs run at once', async () => {
    const heaviest = {
      or: [
        ...Array.from({ length: 5 }, (_, i) => ({ attr: i === 0 ? 'segment' : `list${i}`, in: values(100, 'x') })),
        ...Array.from({ length: 44 }, (_, i) => ({ attr: 'score', gte: 1000 + i })),
      ],
    };
    const campaignId = await createCampaign(t, { topic: 'offers', audience: heaviest });
    // Mail for the worker to hand over meanwhile.
    for (const email of ['w1@example.com', 'w2@example.com']) expect((await t.api('POST', '/v1/subscribers', { body: { email } })).status).toBe(201);

    const pools = budgetedPoolOf(t.app.get(DataSource))!;
    const peak = Object.fromEntries(WORK_CLASSES.map((c) => [c, { waiting: 0, busy: 0 }])) as Record<WorkClass, { waiting: number; busy: number }>;
    const sample = (stats: Record<WorkClass, PoolStats>) => {
      for (const c of WORK_CLASSES) {
        peak[c].waiting = Math.max(peak[c].waiting, stats[c].waiting);
        peak[c].busy = Math.max(peak[c].busy, stats[c].total - stats[c].idle);
      }
    };
    const sampler = setInterval(() => sample(pools.stats()), 5);
    try {
      const dryRuns = Array.from({ length: 20 }, () => t.api('GET', `/v1/campaigns/${campaignId}/audience`));
      // Once the reports pool is full and dry runs queue for it, the others must still be served.
      await until('dry runs queueing for the reports pool', () => pools.stats().reports.waiting > 0);
      const [health, read, drained] = await Promise.all([
        t.api('GET', '/health', { key: null }),
        t.api('GET', '/v1/campaigns'),
        t.app.get(DeliveryWorker).drain(),
      ]);
      const answers = await Promise.all(dryRuns);

      expect(health.status).toBe(200);
      expect(read.status).toBe(200);
      expect(drained.sent).toBe(2);
      // The dry runs filled their own pool and nothing else.
      expect(peak.reports.busy).toBe(3);
      expect(peak.reports.waiting).toBeGreaterThan(0);
      expect(peak.health.waiting).toBe(0);
      expect(peak.worker.waiting).toBe(0);
      expect(peak.api.waiting).toBe(0);
      expect(peak.api.busy).toBeLessThanOrEqual(2);
      // Each dry run got its answer: the decision, or 503 when it waited too long for a connection.
      for (const answer of answers) expect([200, 503]).toContain(answer.status);
      const decided = answers.filter((a) => a.status === 200);
      expect(decided.length).toBeGreaterThan(0);
      expect(decided[0].body.now + decided[0].body.later + decided[0].body.never).toBe(SUBSCRIBERS);
    } finally {
      clearInterval(sampler);
    }
  }, 120_000);
});

describe('SIGTERM of the built process', () => {
  let db: TestDatabase;
  let child: ChildProcess | undefined;
  let dist: { main: string; dispose(): void };
  beforeAll(async () => {
    db = await createTestDatabase();
    dist = await snapshotDist();
  });
  afterAll(async () => {
    if (child && child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    dist?.dispose();
    await db?.drop();
  });

  const adminKey = `tk_sigterm_${'x'.repeat(30)}`;

  /** The built app as `npm start` runs it, with worker and scheduler on; resolves once it listens. */
  async function start(port: number, env: Record<string, string>) {
    const work = mkdtempSync(join(tmpdir(), 'tactful-sigterm-'));
    child = spawn(process.execPath, [dist.main], {
      cwd: work,
      env: {
        PATH: process.env.PATH,
        HOME: process.env.HOME,
        NODE_ENV: 'test',
        LOG_LEVEL: 'warn',
        ...TEST_SECRETS,
        ADMIN_API_KEY: adminKey,
        DATABASE_URL: db.url,
        PORT: String(port),
        HOST: '127.0.0.1',
        DATA_DIR: join(work, '.data'),
        OUTBOX_DIR: join(work, 'outbox'),
        ...env,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout!.on('data', (c: Buffer) => (output += c.toString()));
    child.stderr!.on('data', (c: Buffer) => (output += c.toString()));
    const exited = new Promise<{ code: number | null }>((done) => child!.once('exit', (code) => done({ code })));
    await until('the start', () => output.includes('Tactful is listening'), 90_000);
    await watchProcess(`http://127.0.0.1:${port}`);
    return {
      output: () => output,
      /** SIGTERM; the exit, or null if it did not come within 45 s (far longer than any deadline here). */
      async terminate(): Promise<{ code: number | null } | null> {
        child!.kill('SIGTERM');
        let giveUp: NodeJS.Timeout | undefined;
        const ended = await Promise.race([exited, new Promise<null>((done) => (giveUp = setTimeout(() => done(null), 45_000)))]);
        clearTimeout(giveUp);
        return ended;
      },
    };
  }

  it('ends within SHUTDOWN_TIMEOUT_MS with import uploads hanging, and leaves no transaction and no row behind', async () => {
    const port = await freePort();
    const app = await start(port, { SHUTDOWN_TIMEOUT_MS: '5000', IMPORT_IDLE_TIMEOUT_MS: '600000' });

    const uploads: StalledUpload[] = [];
    for (let i = 0; i < 12; i++) uploads.push(await stalledUpload(port, adminKey, csv(20_000, `sigterm${i}-`)));
    await until('every upload being read', async () => (await metric(`http://127.0.0.1:${port}`, 'tactful_import_uploads_reading')) === 12);

    const ended = await app.terminate();
    for (const upload of uploads) upload.socket.destroy();
    expect(ended).not.toBeNull();
    expect(app.output()).toContain('SIGTERM: stopping');
    // The stalled uploads were cut off at once, so the stop was a clean one, not the deadline's.
    expect(ended!.code).toBe(0);
    expect(uploads.every((u) => u.answer() === '' || /^HTTP\/1\.1 503 /.test(u.answer()))).toBe(true);

    const admin = new Client({ connectionString: db.url });
    await admin.connect();
    try {
      const [{ n }] = (await admin.query(`SELECT count(*)::int AS n FROM subscribers WHERE email LIKE 'sigterm%'`)).rows;
      expect(n).toBe(0);
      // Its sessions are gone with it (a backend notices its client left within moments).
      const others = async () =>
        (await admin.query(`SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()`)).rows[0].n;
      await until("the stopped process's sessions to end", async () => (await others()) === 0, 10_000);
    } finally {
      await admin.end();
    }
  }, 180_000);

  it('ends at SHUTDOWN_TIMEOUT_MS even when a hand-over hangs, leaving that mail to lease recovery, which sends it under its Message-ID', async () => {
    const sink = await startSmtpSink();
    try {
      // The relay takes the whole message and then sits on its answer for a minute.
      sink.fault((ctx) => (ctx.stage === 'message' ? { kind: 'accept', delayMs: 60_000 } : undefined));
      const port = await freePort();
      const app = await start(port, { SMTP_URL: sink.url, SHUTDOWN_TIMEOUT_MS: '3000', WORKER_LEASE_SECONDS: '2' });
      const created = await fetch(`http://127.0.0.1:${port}/v1/subscribers`, {
        method: 'POST',
        headers: { authorization: `Bearer ${adminKey}`, 'content-type': 'application/json' },
        body: JSON.stringify({ email: 'hanging@example.com' }),
      });
      expect(created.status).toBe(201);
      const admin = new Client({ connectionString: db.url });
      await admin.connect();
      try {
        const delivery = async () => (await admin.query(`SELECT id, status, idempotency_key, unknown_outcomes FROM deliveries`)).rows[0];
        await until('the hand-over to start', async () => (await delivery())?.status === 'sending');

        const ended = await app.terminate();
        expect(ended).not.toBeNull();
        expect(ended!.code).toBe(1);
        expect(app.output()).toContain('not stopped after SHUTDOWN_TIMEOUT_MS (3000 ms); exiting anyway');
        // Not lost, not marked sent: still leased, for lease recovery.
        expect(await delivery()).toMatchObject({ status: 'sending', unknown_outcomes: 0 });

        sink.clear(); // the relay recovers; what it held back is not counted
        const recovery = await startTestApp({ clock: new SystemClock(), env: { DATABASE_URL: db.url, SMTP_URL: sink.url } });
        try {
          const { id } = await delivery();
          await until(
            'the lease to run out',
            async () => (await admin.query(`SELECT lease_until < now() AS over FROM deliveries WHERE id = $1`, [id])).rows[0].over,
          );
          const stats = await recovery.app.get(DeliveryWorker).drain();
          expect(stats).toMatchObject({ reclaimed: 1, sent: 1 });
        } finally {
          await recovery.close();
        }
        const after = await delivery();
        expect(after).toMatchObject({ status: 'sent', unknown_outcomes: 1 });
        expect(sink.messages).toHaveLength(1);
        expect(sink.messages[0].parsed.messageId).toBe(messageIdFor(after.idempotency_key, 'tactful.localhost'));
        expect((await admin.query(`SELECT count(*)::int AS n FROM deliveries`)).rows[0].n).toBe(1);
      } finally {
        await admin.end();
      }
    } finally {
      await sink.close();
    }
  }, 180_000);
});
