// "Delivered" and "tracking mail handed to SMTP" never interleave: the worker holds the shipment
// row FOR SHARE from its check until its hand-over commits, a carrier event takes it FOR UPDATE.
// Shown three ways: a hand-over held open makes the event wait; an event held open makes the
// worker wait (and then suppress); and a real worker process racing carrier events.
import { ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { Client } from 'pg';
import { SystemClock } from '../../src/common/clock';
import { DeliveryWorker } from '../../src/delivery/delivery-worker';
import { startTestApp, TestApp, TEST_SECRETS } from '../support/app';
import { SmtpSink, startSmtpSink } from '../support/smtp-sink';

const MAIN = resolve(__dirname, '../../dist/main.js');
let t: TestApp;
let sink: SmtpSink;
const children = new Set<ChildProcess>();

const sleep = (ms: number) => new Promise((done) => setTimeout(done, ms));
const ago = (minutes: number) => new Date(Date.now() - minutes * 60_000).toISOString();

async function sql(text: string, params: unknown[] = []): Promise<any[]> {
  const client = new Client({ connectionString: t.db.url });
  await client.connect();
  try {
    return (await client.query(text, params)).rows;
  } finally {
    await client.end();
  }
}

async function until(what: string, check: () => Promise<boolean> | boolean, timeoutMs: number, output = () => ''): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}\n${output()}`);
    await sleep(10);
  }
}

/** Backends of this test database waiting for a row lock, with the statement they wait in. */
const lockWaits = () =>
  sql(
    `SELECT query FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock' AND pid <> pg_backend_pid()`,
  ) as Promise<{ query: string }[]>;

let seq = 0;
/** An order and one parcel for a fresh customer; the order confirmation is sent first (drained) unless told otherwise. */
async function parcel(email = `race${++seq}@example.com`): Promise<{ id: string; email: string; trackingNumber: string }> {
  const number = `R-${++seq}`;
  const order = await t.api('POST', '/v1/orders', { body: { number, email, items: [{ sku: 'MUG', name: 'Mug', quantity: 1 }], placedAt: ago(60), locale: 'en' } });
  expect(order.status).toBe(201);
  const trackingNumber = `RACE${seq}`;
  const shipment = await t.api('POST', '/v1/shipments', {
    body: { orderNumber: number, carrier: 'dhl', trackingNumber, trackingUrl: `https://track.example.com/${trackingNumber}` },
  });
  expect(shipment.status).toBe(201);
  return { id: shipment.body.id, email, trackingNumber };
}

const delivered = (shipmentId: string, eventId = `delivered-${shipmentId}`) =>
  t.api('POST', `/v1/shipments/${shipmentId}/events`, { body: { eventId, status: 'delivered', occurredAt: ago(1) } });

beforeAll(async () => {
  sink = await startSmtpSink();
  // Real time: the worker process in the last test runs on the system clock, and the event times
  // are compared with the sink's.
  // No settle hold: these tests are about the hand-over itself, with the mail due at once.
  t = await startTestApp({ clock: new SystemClock(), env: { SMTP_URL: sink.url, SHIPMENT_SETTLE_SECONDS: '0' } });
});
afterAll(async () => {
  for (const child of children) child.kill('SIGKILL');
  await t?.close();
  await sink?.close();
});

describe('a delivered event and a tracking mail being handed over', () => {
  it('makes the delivered event wait while the worker hands the tracking mail to SMTP: the mail is accepted before the event commits', async () => {
    const shipment = await parcel();
    // Only the tracking mail is in the way: the confirmation went before.
    await sql(`UPDATE deliveries SET status = 'sent', reason = 'sent' WHERE kind = 'order_confirmation'`);
    let rcpt!: () => void;
    const inSmtp = new Promise<void>((done) => (rcpt = done));
    // The relay takes 1.5 s to accept: the worker's hand-over transaction stays open that long.
    sink.fault((ctx) => (ctx.stage === 'message' ? (rcpt(), { kind: 'accept', delayMs: 1500 }) : undefined));
    let acceptedAt = 0;
    void sink.waitFor(1, 10_000).then(() => (acceptedAt = Date.now()));

    const draining = t.app.get(DeliveryWorker).drain();
    await inSmtp;
    let answeredAt = 0;
    const posting = delivered(shipment.id).then((res) => ((answeredAt = Date.now()), res));

    // The event handler is stuck on the shipment row lock while the mail is still in SMTP.
    await until('the event handler to wait for the row lock', async () => (await lockWaits()).some((w) => /FROM shipments .*FOR UPDATE/s.test(w.query)), 1000);
    expect(sink.messages).toHaveLength(0);
    expect(answeredAt).toBe(0);

    const [res, stats] = await Promise.all([posting, draining]);
    sink.fault(undefined);
    expect(res.status).toBe(200);
    expect(res.body.status).toBe('delivered');
    expect(stats.sent).toBe(1);
    expect(acceptedAt).toBeGreaterThan(0);
    expect(acceptedAt).toBeLessThan(answeredAt);
    const [event] = await sql(`SELECT received_at FROM shipment_events WHERE shipment_id = $1`, [shipment.id]);
    expect(event.received_at.getTime()).toBeGreaterThanOrEqual(acceptedAt - 5);
  });

  it('makes the worker wait while a delivered event is being applied, and then suppresses the tracking mail', async () => {
    const shipment = await parcel();
    await sql(`UPDATE deliveries SET status = 'sent', reason = 'sent' WHERE kind = 'order_confirmation'`);
    sink.clear();
    // Exactly what the event handler does, with its transaction held open: lock, re-derive, update.
    const applying = new Client({ connectionString: t.db.url });
    await applying.connect();
    try {
      await applying.query('BEGIN');
      await applying.query(`SELECT id FROM shipments WHERE id = $1 FOR UPDATE`, [shipment.id]);
      await applying.query(`UPDATE shipments SET status = 'delivered', status_at = now(), delivered_at = now() WHERE id = $1`, [shipment.id]);

      const draining = t.app.get(DeliveryWorker).drain();
      await until('the worker to wait for the shipment row', async () => (await lockWaits()).some((w) => /FROM shipments .*FOR SHARE/s.test(w.query)), 2000);
      expect(sink.messages).toHaveLength(0);
      await applying.query('COMMIT');
      const stats = await draining;
      expect(stats).toMatchObject({ sent: 0, suppressed: 1 });
    } finally {
      await applying.end();
    }
    expect(sink.messages).toHaveLength(0);
    const [mail] = await sql(`SELECT status, reason FROM deliveries WHERE ref_id = $1`, [shipment.id]);
    expect(mail).toEqual({ status: 'suppressed', reason: 'already_delivered' });
  });

  it('never hands a tracking mail to SMTP after its delivered event took effect, with a worker process racing the carrier', async () => {
    const PARCELS = 40;
    // Confirmations out of the way first (sent by this process), so the worker process only sees tracking mails.
    const shipments = [];
    for (let i = 0; i < PARCELS; i += 1) shipments.push(await parcel(`two-proc-${i}@example.com`));
    await sql(`UPDATE deliveries SET status = 'sent', reason = 'sent' WHERE kind = 'order_confirmation'`);
    // Hold the tracking mails back until the worker process is up, then release them all at once.
    await sql(`UPDATE deliveries SET next_attempt_at = now() + interval '1 hour' WHERE kind = 'shipment_shipped' AND status = 'queued'`);
    sink.clear();

    const rcptAt = new Map<string, number>();
    // A slow relay (0-40 ms per mail) stretches each hand-over, so events land inside them.
    sink.fault((ctx) => {
      if (ctx.stage !== 'message') return undefined;
      rcptAt.set(ctx.rcpt!.toLowerCase(), Date.now());
      return { kind: 'accept', delayMs: Math.floor(Math.random() * 40) };
    });
    let output = '';
    const child = spawn(process.execPath, [MAIN], {
      env: {
        PATH: process.env.PATH,
        NODE_ENV: 'test',
        ...TEST_SECRETS,
        DATA_DIR: mkdtempSync(join(tmpdir(), 'tactful-race-worker-')),
        DATABASE_URL: t.db.url,
        SMTP_URL: sink.url,
        HOST: '127.0.0.1',
        PORT: '0',
        WORKER_ENABLED: 'true',
        SCHEDULER_ENABLED: 'false',
        WORKER_POLL_MS: '10',
        WORKER_BATCH_SIZE: '5',
        WORKER_CONCURRENCY: '4',
        LOG_LEVEL: 'warn',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    children.add(child);
    child.stdout!.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString()));
    // The worker process is up once it claims: give it a canary (a confirmation mail) and wait for it.
    await sql(
      `UPDATE deliveries SET status = 'queued', reason = 'queued', next_attempt_at = now() WHERE kind = 'order_confirmation' AND to_address = $1`,
      [shipments[0].email],
    );
    await until('the worker process to start sending', () => sink.messages.length > 0, 30_000, () => output);
    rcptAt.clear();

    await sql(`UPDATE deliveries SET next_attempt_at = now() WHERE kind = 'shipment_shipped' AND status = 'queued'`);
    // The carrier reports each parcel delivered at a random moment within the next 300 ms.
    const answers = await Promise.all(shipments.map(async (s) => (await sleep(Math.random() * 300), delivered(s.id))));
    expect(answers.every((a) => a.status === 200)).toBe(true);
    await until(
      'every tracking mail decided',
      async () => (await sql(`SELECT count(*)::int AS n FROM deliveries WHERE kind = 'shipment_shipped' AND status IN ('queued', 'sending')`))[0].n === 0,
      30_000,
      () => output,
    );
    child.kill('SIGTERM');

    const events: { shipment_id: string; received_at: Date }[] = await sql(
      `SELECT shipment_id, received_at FROM shipment_events WHERE shipment_id = ANY($1::uuid[])`,
      [shipments.map((s) => s.id)],
    );
    const appliedAt = new Map(events.map((e) => [e.shipment_id, e.received_at.getTime()]));
    const decisions: { ref_id: string; status: string; reason: string }[] = await sql(
      `SELECT ref_id, status, reason FROM deliveries WHERE kind = 'shipment_shipped' AND ref_id = ANY($1::text[])`,
      [shipments.map((s) => s.id)],
    );
    const late = shipments.filter((s) => rcptAt.has(s.email) && rcptAt.get(s.email)! >= appliedAt.get(s.id)!);
    const sent = decisions.filter((d) => d.status === 'sent').length;
    const suppressed = decisions.filter((d) => d.reason === 'already_delivered').length;
    process.stdout.write(`race with a worker process: ${PARCELS} parcels, ${sent} tracking mails went before delivery, ${suppressed} suppressed as already_delivered, ${late.length} late\n`);

    expect(late).toEqual([]);
    expect(sent + suppressed).toBe(PARCELS);
    // Every mail that reached the relay is one the database recorded as sent, and no parcel got two.
    expect(sink.messages.filter((m) => /shipment_shipped/.test(m.raw))).toHaveLength(sent);
    expect(rcptAt.size).toBe(sent);
  }, 90_000);
});
