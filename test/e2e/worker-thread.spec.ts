// WORKER_ISOLATION=thread, the way it runs in production: the built app as a process, its mails
// to an SMTP sink. The mails go out from the delivery worker thread (its log lines carry the
// thread and the worker id that names it), /metrics shows what that thread sent, SIGTERM lets
// its batch in hand finish and leaves nothing mid-hand-over, and a crashed thread is logged and
// started again.
import { ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { Client } from 'pg';
import { TEST_SECRETS } from '../support/app';
import { createTestDatabase, TestDatabase } from '../support/database';
import { startOnFreePorts } from '../support/processes';
import { SmtpSink, startSmtpSink } from '../support/smtp-sink';

const root = resolve(__dirname, '../..');
const ADMIN_KEY = 'tk_worker-thread-admin-0123456789abcdefghij';

interface Running {
  child: ChildProcess;
  base: string;
  output(): string;
}

async function startApp(db: TestDatabase, sink: SmtpSink, env: Record<string, string> = {}, nodeArgs: string[] = []): Promise<Running> {
  let output = '';
  const started = await startOnFreePorts(
    (ports) => {
      output = '';
      const work = mkdtempSync(join(tmpdir(), 'tactful-thread-'));
      const child = spawn(process.execPath, [...nodeArgs, join(root, 'dist/main.js')], {
        cwd: work,
        env: {
          PATH: process.env.PATH,
          HOME: process.env.HOME,
          NODE_ENV: 'test',
          ...TEST_SECRETS,
          ADMIN_API_KEY: ADMIN_KEY,
          DATABASE_URL: db.url,
          SMTP_URL: sink.url,
          PORT: String(ports.http),
          HOST: '127.0.0.1',
          PUBLIC_URL: 'http://tactful.test',
          DATA_DIR: join(work, '.data'),
          WORKER_ENABLED: 'true',
          WORKER_ISOLATION: 'thread',
          WORKER_POLL_MS: '50',
          SCHEDULER_ENABLED: 'false',
          // The worker's batch lines are at debug.
          LOG_LEVEL: 'debug',
          ...env,
        },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      child.stdout!.on('data', (chunk: Buffer) => (output += chunk.toString()));
      child.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString()));
      return child;
    },
    /delivery worker thread started/,
    90_000,
  );
  return { child: started.child, base: `http://127.0.0.1:${started.port}`, output: () => output };
}

async function api(app: Running, method: string, path: string, body?: unknown): Promise<any> {
  const res = await fetch(app.base + path, {
    method,
    headers: { authorization: `Bearer ${ADMIN_KEY}`, 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  if (res.status >= 300) throw new Error(`${method} ${path}: ${res.status} ${text}`);
  return text ? JSON.parse(text) : undefined;
}

/** The JSON log lines written so far (the banner and other plain lines left out). */
function logLines(output: string): Record<string, any>[] {
  return output.split('\n').flatMap((line) => {
    if (!line.startsWith('{')) return [];
    try {
      return [JSON.parse(line) as Record<string, any>];
    } catch {
      return []; // a line still being written
    }
  });
}

async function waitForLog(app: Running, predicate: (line: Record<string, any>) => boolean, timeoutMs = 30_000): Promise<Record<string, any>> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const found = logLines(app.output()).find(predicate);
    if (found) return found;
    if (Date.now() > deadline) throw new Error(`no such log line within ${timeoutMs} ms:\n${app.output().slice(-4000)}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

function exited(child: ChildProcess): Promise<number | null> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve(child.exitCode);
  return new Promise((done) => child.once('exit', (code) => done(code)));
}

async function subscribe(app: Running, count: number, prefix: string): Promise<void> {
  for (let i = 0; i < count; i++) await api(app, 'POST', '/v1/subscribers', { email: `${prefix}${i}@example.com`, locale: 'en', topics: ['fairs'] });
}

async function deliveriesByStatus(db: TestDatabase): Promise<Record<string, number>> {
  const client = new Client({ connectionString: db.url });
  await client.connect();
  try {
    const { rows } = await client.query(`SELECT status, count(*)::int AS n FROM deliveries GROUP BY status`);
    return Object.fromEntries(rows.map((r) => [r.status, r.n]));
  } finally {
    await client.end();
  }
}

let sink: SmtpSink;
beforeAll(async () => {
  sink = await startSmtpSink();
});
afterAll(async () => {
  await sink?.close();
});

describe('the delivery worker in its own thread', () => {
  let db: TestDatabase;
  let app: Running | undefined;
  beforeAll(async () => {
    db = await createTestDatabase();
    // Small batches, two lanes: a SIGTERM finds a batch in hand and more mail queued behind it.
    app = await startApp(db, sink, { WORKER_BATCH_SIZE: '4', WORKER_SERVICE_CONCURRENCY: '2' });
    await api(app, 'POST', '/v1/topics', { key: 'fairs', nameDe: 'Messen', nameEn: 'Fairs' });
  }, 120_000);
  afterAll(async () => {
    if (app && app.child.exitCode === null && app.child.signalCode === null) {
      app.child.kill('SIGKILL');
      await exited(app.child);
    }
    await db?.drop();
  });

  it('sends the mails from the worker thread, whose sends /metrics reports', async () => {
    sink.clear();
    await subscribe(app!, 5, 'anna');
    await sink.waitFor(5, { stallMs: 20_000 });

    const started = logLines(app!.output()).find((l) => l.msg === 'delivery worker thread started')!;
    // A batch's line is written once the batch is over, a moment after its last mail arrived.
    const sentInBatches = () =>
      logLines(app!.output())
        .filter((l) => l.msg === 'delivery batch done')
        .reduce((n, b) => n + b.sent, 0);
    await waitForLog(app!, () => sentInBatches() >= 5);
    expect(started.threadId).toBeGreaterThan(0);
    expect(started.workerId).toContain(`/t${started.threadId}:`);
    // Every batch was the thread's: its lines carry the thread's fields and the thread's worker id.
    const batches = logLines(app!.output()).filter((l) => l.msg === 'delivery batch done');
    expect(batches.length).toBeGreaterThan(0);
    for (const batch of batches) expect(batch).toMatchObject({ thread: 'delivery-worker', threadId: started.threadId, workerId: started.workerId });
    expect(sentInBatches()).toBe(5);
    expect(new Set(sink.messages.map((m) => m.envelope.rcptTo[0]))).toEqual(new Set([0, 1, 2, 3, 4].map((i) => `anna${i}@example.com`)));

    // The worker's thread yields the CPU to the HTTP thread: it runs at nice 10, the main thread at 0
    // (Linux: each thread is a task of the process; field 19 of its stat is its nice value).
    const pid = app!.child.pid!;
    const niceOf = (task: string) => Number(readFileSync(`/proc/${pid}/task/${task}/stat`, 'utf8').split(') ')[1].split(' ')[16]);
    expect(niceOf(String(pid))).toBe(0);
    expect(readdirSync(`/proc/${pid}/task`).map(niceOf)).toContain(10);

    // The main thread sends nothing itself: the count comes from the thread's registry.
    const metrics = await (await fetch(`${app!.base}/metrics`)).text();
    expect(metrics).toContain('tactful_deliveries_total{class="service",kind="confirm_subscription",status="sent",reason="sent"} 5');
    expect(metrics).toMatch(/^tactful_delivery_worker_up 1$/m);
    expect(metrics).toMatch(/^tactful_delivery_worker_restarts_total 0$/m);
    expect(metrics).toMatch(/^tactful_db_pool_connections\{pool="worker",state="max"\} \d+$/m);
    // The main thread's own metrics are all still there, also those a cluster aggregation would omit.
    expect(metrics).toMatch(/^tactful_process_process_start_time_seconds \d+$/m);
    expect(metrics).toMatch(/^tactful_http_request_duration_seconds_bucket\{/m);
  });

  it('stops on SIGTERM after the batch in hand: every mail is sent once or still queued, none left mid-hand-over', async () => {
    sink.clear();
    // A slow relay: the hand-overs are under way when the signal comes.
    sink.fault(() => ({ kind: 'accept', delayMs: 300 }));
    await subscribe(app!, 12, 'bert');
    await sink.waitFor(1, { stallMs: 20_000 });
    app!.child.kill('SIGTERM');
    expect(await exited(app!.child)).toBe(0);
    sink.fault(undefined);

    const lines = logLines(app!.output());
    const closed = lines.find((l) => l.msg === 'delivery worker thread closed');
    expect(closed).toMatchObject({ thread: 'delivery-worker' });
    expect(lines.find((l) => l.msg === 'delivery worker thread stopped')).toMatchObject({ exitCode: 0 });

    const statuses = await deliveriesByStatus(db);
    expect(statuses.sending).toBeUndefined();
    // Sent: exactly the mails the relay took, each once.
    const received = sink.messages.map((m) => m.parsed.messageId);
    expect(new Set(received).size).toBe(received.length);
    expect(statuses.sent).toBe(5 + received.length);
    expect((statuses.sent ?? 0) + (statuses.queued ?? 0)).toBe(5 + 12);
    expect(closed!.sent).toBe(5 + received.length);
  });
});

describe('a crash of the delivery worker thread', () => {
  let db: TestDatabase;
  let app: Running | undefined;
  beforeAll(async () => {
    db = await createTestDatabase();
  });
  afterAll(async () => {
    if (app && app.child.exitCode === null && app.child.signalCode === null) {
      app.child.kill('SIGKILL');
      await exited(app.child);
    }
    await db?.drop();
  });

  it('is logged, the thread is started again after a backoff, and mail goes out from the new one', async () => {
    app = await startApp(db, sink, {}, ['-r', join(root, 'test/support/crash-worker-thread.js')]);
    const crashed = await waitForLog(app, (l) => l.msg === 'delivery worker thread crashed');
    expect(crashed.err.message).toContain('injected crash of the delivery worker thread');
    const restarting = await waitForLog(app, (l) => l.msg === 'delivery worker thread stopped; restarting it');
    expect(restarting).toMatchObject({ exitCode: 1, restartInMs: 1_000, threadId: 1 });
    const again = await waitForLog(app, (l) => l.msg === 'delivery worker thread started' && l.threadId === 2);

    sink.clear();
    await api(app, 'POST', '/v1/topics', { key: 'fairs', nameDe: 'Messen', nameEn: 'Fairs' });
    await subscribe(app, 1, 'carla');
    await sink.waitFor(1, { stallMs: 20_000 });
    const batch = await waitForLog(app, (l) => l.msg === 'delivery batch done' && l.sent === 1);
    expect(batch).toMatchObject({ thread: 'delivery-worker', threadId: 2, workerId: again.workerId });
    const metrics = await (await fetch(`${app.base}/metrics`)).text();
    expect(metrics).toMatch(/^tactful_delivery_worker_restarts_total 1$/m);
    expect(metrics).toMatch(/^tactful_delivery_worker_up 1$/m);

    app.child.kill('SIGTERM');
    expect(await exited(app.child)).toBe(0);
  });
});
