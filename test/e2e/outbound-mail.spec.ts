// What a receiving MTA sees of Tactful's outbound mail: each mail's envelope sender is its own
// VERP address on the bounce domain (From and Reply-To unchanged, no Return-Path written by us),
// every mail carries a DKIM signature that verifies against the published key, and the service
// stream goes past a marketing backlog instead of queueing behind it.
import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { simpleParser } from 'mailparser';
import { dkimVerify } from 'mailauth/lib/dkim/verify';
import { FakeClock } from '../../src/common/clock';
import { dkimDnsRecord } from '../../src/delivery/dkim';
import { DeliveryKinds, subscriberGate } from '../../src/delivery/delivery-kinds';
import { DeliveryWorker } from '../../src/delivery/delivery-worker';
import { VerpCodec } from '../../src/delivery/verp';
import { startTestApp, TestApp, TEST_SECRETS } from '../support/app';
import { SinkMessage, startSmtpSink, SmtpSink } from '../support/smtp-sink';

const BOUNCE_DOMAIN = 'bounce.tactful.test';
const DKIM_SELECTOR = 'tactful2026';
const BACKLOG = 5_000;

let t: TestApp;
let sink: SmtpSink;
let worker: DeliveryWorker;
let dkimRecord: string;
const clock = new FakeClock('2026-03-02T08:00:00Z');

beforeAll(async () => {
  // Parsing 5,000 mails would cost more than sending them; the tests parse what they look at.
  sink = await startSmtpSink({ parse: false });
  const { privateKey } = generateKeyPairSync('ed25519');
  const keyFile = join(mkdtempSync(join(tmpdir(), 'tactful-dkim-')), 'dkim.pem');
  writeFileSync(keyFile, privateKey.export({ format: 'pem', type: 'pkcs8' }));
  dkimRecord = dkimDnsRecord(privateKey.export({ format: 'pem', type: 'pkcs8' }).toString());
  t = await startTestApp({
    clock,
    env: {
      SMTP_URL: sink.url,
      MAIL_FROM: 'Tactful News <news@tactful.test>',
      REPLY_TO: 'Tactful Team <team@tactful.test>',
      BOUNCE_DOMAIN,
      DKIM_DOMAIN: 'tactful.test',
      DKIM_SELECTOR,
      DKIM_PRIVATE_KEY_FILE: keyFile,
      WORKER_POLL_MS: '20',
    },
  });
  worker = t.app.get(DeliveryWorker);
  t.app.get(DeliveryKinds).register({
    kind: 'test_marketing',
    gate: (tx, delivery) => subscriberGate(tx, delivery),
    compose: async () => ({
      template: 'campaign',
      data: {
        subject: 'Die Messe in Köln ist verschoben',
        bodyHtml: '<p>Die Messe findet jetzt am 14. März statt.</p>',
        topicName: 'Messetermine',
        feedback: { usefulUrl: 'http://tactful.test/f/useful', notUsefulUrl: 'http://tactful.test/f/not-useful' },
      },
    }),
  });
  expect((await t.api('POST', '/v1/topics', { body: { key: 'trade-fairs', nameDe: 'Messetermine', nameEn: 'Trade fair dates' } })).status).toBe(201);
});

afterAll(async () => {
  await worker?.stop();
  await t?.close();
  await sink?.close();
});

beforeEach(() => sink.clear());

const verp = () => new VerpCodec([TEST_SECRETS.TOKEN_SECRET], BOUNCE_DOMAIN);
const to = (address: string) => (m: SinkMessage) => m.envelope.rcptTo.includes(address);

/** `count` active subscribers confirmed on trade-fairs, each with one queued marketing mail, due a minute ago. */
async function queueMarketingBacklog(count: number, prefix: string): Promise<void> {
  await t.sql(
    `INSERT INTO subscribers (email, locale, time_zone, cadence, status, source, confirmed_at)
     SELECT $2 || i || '@example.de', 'de', 'Europe/Berlin', 'weekly', 'active', 'import', $3 FROM generate_series(1, $1) i`,
    [count, prefix, clock.now()],
  );
  await t.sql(
    `INSERT INTO topic_subscriptions (subscriber_id, topic_id, status, consented_at, consent_source, confirmed_at)
     SELECT s.id, t.id, 'confirmed', $2, 'import', $2 FROM subscribers s, topics t WHERE t.key = 'trade-fairs' AND s.email LIKE $1 || '%'`,
    [prefix, clock.now()],
  );
  await t.sql(
    `INSERT INTO deliveries (subscriber_id, class, kind, topic_id, ref_id, locale, status, reason, idempotency_key, payload,
                             next_attempt_at, created_at, updated_at)
     SELECT s.id, 'marketing', 'test_marketing', t.id, 'cmp-backlog', 'de', 'queued', 'queued', 'backlog:' || s.id, '{}', $2, $2, $2
     FROM subscribers s, topics t WHERE t.key = 'trade-fairs' AND s.email LIKE $1 || '%'`,
    [prefix, new Date(clock.now().getTime() - 60_000)],
  );
}

describe('the envelope sender (VERP) and DKIM', () => {
  it('sends each mail from its own bounce address, which names its delivery; From and Reply-To stay as configured', async () => {
    const subscriber = await t.api('POST', '/v1/subscribers', { body: { email: 'lena@example.de', topics: ['trade-fairs'] } });
    expect(subscriber.status).toBe(201);
    await queueMarketingBacklog(2, 'verp-');
    await worker.drain();

    const rows = await t.sql(`SELECT id, to_address, subscriber_id, created_at FROM deliveries WHERE status = 'sent' ORDER BY id`);
    expect(rows).toHaveLength(3);
    expect(sink.messages).toHaveLength(3);
    const seen = new Set<string>();
    for (const message of sink.messages) {
      const claims = verp().verify(message.envelope.mailFrom);
      expect(message.envelope.mailFrom).toMatch(new RegExp(`^bounces\\+[0-9a-f]{40}@${BOUNCE_DOMAIN.replace(/\./g, '\\.')}$`));
      expect(claims).not.toBeNull();
      const [row] = await t.sql(`SELECT d.id, coalesce(s.email, d.to_address) AS email FROM deliveries d LEFT JOIN subscribers s ON s.id = d.subscriber_id WHERE d.id = $1`, [claims!.deliveryId]);
      expect(message.envelope.rcptTo).toEqual([row.email]);
      seen.add(row.id);
      const parsed = await simpleParser(message.raw);
      expect(parsed.from?.value).toEqual([{ name: 'Tactful News', address: 'news@tactful.test' }]);
      expect(parsed.replyTo?.value).toEqual([{ name: 'Tactful Team', address: 'team@tactful.test' }]);
      expect(message.raw.split('\r\n\r\n')[0]).not.toMatch(/^Return-Path:/im);
    }
    expect([...seen].sort()).toEqual(rows.map((r: any) => r.id).sort());
  });

  it('signs service and marketing mail so that it verifies against the key published at <selector>._domainkey', async () => {
    await t.api('POST', '/v1/subscribers', { body: { email: 'jonas@example.de', topics: ['trade-fairs'] } });
    await queueMarketingBacklog(1, 'dkim-');
    await worker.drain();
    expect(sink.messages).toHaveLength(2);
    const resolver = async (name: string, type: string) => {
      if (type === 'TXT' && name === `${DKIM_SELECTOR}._domainkey.tactful.test`) return [[dkimRecord]];
      throw Object.assign(new Error('not found'), { code: 'ENOTFOUND' });
    };
    for (const message of sink.messages) {
      const { results } = await dkimVerify(Buffer.from(message.raw, 'utf8'), { resolver });
      expect(results.map((r) => r.status.result)).toEqual(['pass']);
      expect(results[0].status.header).toMatchObject({ i: '@tactful.test', s: DKIM_SELECTOR, a: 'ed25519-sha256' });
    }
    const marketing = sink.messages.find((m) => m.envelope.rcptTo[0].startsWith('dkim-'))!;
    expect(marketing.raw).toMatch(/^List-Unsubscribe-Post: List-Unsubscribe=One-Click/m);
  });
});

describe('streams', () => {
  it(`hands an order confirmation over while ${BACKLOG.toLocaleString('en')} marketing mails queued before it are still going out`, async () => {
    await queueMarketingBacklog(BACKLOG, 'backlog-');
    let position = -1;
    worker.start();
    try {
      await sink.waitFor(100, 120_000);
      const order = await t.api('POST', '/v1/orders', {
        body: { number: 'A-1', email: 'buyer@shop-customer.de', items: [{ sku: 'MUG', name: 'Kaffeebecher', quantity: 1 }], placedAt: '2026-03-02T07:30:00Z' },
      });
      expect(order.status).toBe(201);
      const deadline = Date.now() + 120_000;
      while ((position = sink.messages.findIndex(to('buyer@shop-customer.de'))) < 0 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20));
    } finally {
      await worker.stop();
    }
    expect(position).toBeGreaterThanOrEqual(100);
    // Queued after the whole backlog and due later than all of it, yet handed over while at
    // least a fifth of the backlog was still waiting (counted once the worker stopped, so fewer
    // than when the confirmation went): its stream is claimed on its own. With one claim in
    // due order, it would have come last.
    const [counts] = await t.sql(`SELECT count(*) FILTER (WHERE status = 'queued')::int AS waiting FROM deliveries WHERE idempotency_key LIKE 'backlog:%'`);
    expect(counts.waiting).toBeGreaterThan(BACKLOG / 5);
    expect(sink.messages.filter(to('buyer@shop-customer.de'))).toHaveLength(1);
  }, 180_000);
});
