// A relay's rate limit holds across instances: three instances (three processes, each with its
// own pools, worker and SMTP pool) drain one outbox through one relay limited to 14 mails/s,
// service and marketing stream alike, and the relay never sees more than 14 in any one second.
// The relay is a sink in a process of its own that notes each arrival; the test asserts only
// this upper bound, never a speed.
import { fork, type ChildProcess } from 'node:child_process';
import { dirname, join } from 'node:path';
import { Client } from 'pg';
import { TEST_SECRETS } from '../support/app';
import { createTestDatabase, TestDatabase } from '../support/database';
import { DistSnapshot, snapshotDist } from '../support/dist-snapshot';

const RATE = 14;
const SERVICE_MAILS = 48;
const MARKETING_MAILS = 48;
const INSTANCES = 3;
/**
 * Slots are 1/14 s apart in the database, and a mail goes out within 50 ms of its slot or gives
 * the slot up (relay-pacer.ts), so the hand-overs that start within one second are at most 14 + 1.
 * What the sink counts is arrivals: a mail that has to open a new pooled connection first (the
 * sink, like smtp-server, greets only after 100 ms) arrives that much later than one sent over an
 * open connection, so its neighbours can catch up with it: one more for that. (Each instance
 * opens its first connection before the run, see worker-instance.js: mails queued behind a pool's
 * very first connection would otherwise all go at once when it is up.)
 *
 * And a process that could not run for a while (this 2-core machine is shared) sends or
 * timestamps late what was due meanwhile, all at once: every process measures its longest such
 * stall, and the slots that fit into it are added. Without the shared limit three instances send
 * 3 × 14 = 42 in a second (unpaced, all 96 at once), so a stall too long to tell the two apart
 * fails the test rather than passing it.
 */
const tolerance = (stallMs: number) => 2 + Math.ceil((RATE * stallMs) / 1000);

interface Arrival {
  at: number;
  rcpt: string;
}

let db: TestDatabase;
let dist: DistSnapshot;
let sink: ChildProcess;
const instances: ChildProcess[] = [];

function next<T>(child: ChildProcess, kind: string, send?: unknown): Promise<T> {
  return new Promise((resolve, reject) => {
    const onMessage = (message: any) => {
      if (message.kind !== kind) return;
      child.off('message', onMessage);
      child.off('exit', onExit);
      resolve(message as T);
    };
    const onExit = (code: number) => reject(new Error(`child exited with ${code} while waiting for ${kind}`));
    child.on('message', onMessage);
    child.once('exit', onExit);
    if (send !== undefined) child.send(send as any);
  });
}

async function sql(text: string, params: unknown[] = []): Promise<any[]> {
  const client = new Client({ connectionString: db.url });
  await client.connect();
  try {
    return (await client.query(text, params)).rows;
  } finally {
    await client.end();
  }
}

beforeAll(async () => {
  db = await createTestDatabase();
  dist = await snapshotDist();
  sink = fork(join(__dirname, '../support/arrival-sink.js'), [], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const { port } = await next<{ port: number }>(sink, 'ready');
  const env = {
    NODE_ENV: 'test',
    LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? 'silent',
    ...TEST_SECRETS,
    DATABASE_URL: db.url,
    SMTP_URL: `smtp://127.0.0.1:${port}`,
    SMTP_RATE_PER_SECOND: String(RATE),
    BOUNCE_DOMAIN: 'bounce.tactful.test',
    PUBLIC_URL: 'http://tactful.test',
    WORKER_ENABLED: 'false',
    SCHEDULER_ENABLED: 'false',
    WORKER_POLL_MS: '20',
  };
  for (let i = 0; i < INSTANCES; i++) {
    const child = fork(join(__dirname, '../support/worker-instance.js'), [dirname(dist.main)], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    instances.push(child);
    await next(child, 'ready', { kind: 'start', env });
  }
}, 300_000);

afterAll(async () => {
  const exited = (child: ChildProcess) => new Promise((resolve) => (child.exitCode !== null ? resolve(undefined) : child.once('exit', resolve)));
  for (const child of [...instances, sink]) {
    if (child?.connected) {
      child.send({ kind: 'close' });
      await exited(child);
    }
  }
  dist?.dispose();
  await db?.drop();
});

it(`keeps one relay at ${RATE} mails/s with ${INSTANCES} instances sending service and marketing mail at once`, async () => {
  await sql(
    `INSERT INTO deliveries (to_address, class, kind, locale, status, reason, idempotency_key, payload, next_attempt_at, created_at, updated_at)
     SELECT 'notice' || i || '@example.de', 'transactional', 'test_notice', 'de', 'queued', 'queued', 'notice:' || i, '{}', now(), now(), now()
     FROM generate_series(1, $1) i`,
    [SERVICE_MAILS],
  );
  const [topic] = await sql(`INSERT INTO topics (key, name_de, name_en) VALUES ('trade-fairs', 'Messetermine', 'Trade fairs') RETURNING id`);
  await sql(
    `INSERT INTO subscribers (email, locale, time_zone, cadence, status, source, confirmed_at)
     SELECT 'kunde' || i || '@example.de', 'de', 'Europe/Berlin', 'weekly', 'active', 'import', now() FROM generate_series(1, $1) i`,
    [MARKETING_MAILS],
  );
  await sql(
    `INSERT INTO topic_subscriptions (subscriber_id, topic_id, status, consented_at, consent_source, confirmed_at)
     SELECT id, $1, 'confirmed', now(), 'import', now() FROM subscribers`,
    [topic.id],
  );
  await sql(
    `INSERT INTO deliveries (subscriber_id, class, kind, topic_id, locale, status, reason, idempotency_key, payload, next_attempt_at, created_at, updated_at)
     SELECT id, 'marketing', 'test_marketing', $1, 'de', 'queued', 'queued', 'marketing:' || id, '{}', now(), now(), now() FROM subscribers`,
    [topic.id],
  );

  for (const child of instances) child.send({ kind: 'run' });
  const total = SERVICE_MAILS + MARKETING_MAILS;
  const deadline = Date.now() + 60_000;
  let seen: Arrival[] = [];
  let sinkLagMs = 0;
  const arrivals = async () => {
    const reply = await next<{ arrivals: Arrival[]; maxLagMs: number }>(sink, 'arrivals', { kind: 'arrivals' });
    sinkLagMs = reply.maxLagMs;
    return reply.arrivals.filter((a) => !a.rcpt.startsWith('warmup-'));
  };
  while ((seen = await arrivals()).length < total && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  const stopped = await Promise.all(instances.map((child) => next<{ sent: number; maxLagMs: number }>(child, 'stopped', { kind: 'stop' })));
  const sent = stopped.map((m) => m.sent);
  const stallMs = Math.max(sinkLagMs, ...stopped.map((m) => m.maxLagMs));

  expect(seen).toHaveLength(total);
  expect(new Set(seen.map((a) => a.rcpt)).size).toBe(total);
  // Every instance took part: the limit held among three senders, not within one.
  for (const count of sent) expect(count).toBeGreaterThan(0);
  expect(sent.reduce((sum, count) => sum + count, 0)).toBe(total);

  // The busiest second, wherever it starts: each window opens at an arrival.
  const times = seen.map((a) => a.at).sort((a, b) => a - b);
  let busiest = 0;
  for (let i = 0, j = 0; i < times.length; i++) {
    while (j < times.length && times[j] < times[i] + 1000) j++;
    busiest = Math.max(busiest, j - i);
  }
  expect({ stallMs, distinguishable: RATE + tolerance(stallMs) < INSTANCES * RATE }).toEqual({ stallMs, distinguishable: true });
  expect(busiest).toBeLessThanOrEqual(RATE + tolerance(stallMs));
  // Over the whole run as well: the last arrival's slot is (total - 1) / rate after the first's,
  // and the first can have arrived late by its sender's stall plus the sink's (the sink stamps
  // what came in during its own stall late), plus the 50 ms grace, plus a pooled connection's
  // greeting when the first mail opened one (100 ms, as above), and the two mails' SMTP transit
  // times differ by a few ms (20 allowed). Unpaced, three instances would take a third of this.
  const senderStallMs = Math.max(...stopped.map((m) => m.maxLagMs));
  const lowerBound = ((total - 1) / RATE) * 1000 - senderStallMs - sinkLagMs - 50 - 100 - 20;
  expect(lowerBound).toBeGreaterThan(((total - 1) / (INSTANCES * RATE)) * 1000);
  expect(times[times.length - 1] - times[0]).toBeGreaterThanOrEqual(lowerBound);
  const [rows] = await sql(`SELECT count(*) FILTER (WHERE status = 'sent')::int AS sent, count(*)::int AS all FROM deliveries`);
  expect(rows).toEqual({ sent: total, all: total });
}, 300_000);
