// The mail pipeline as a customer and a relay meet it: the real app sends over real SMTP to an
// in-process sink that misbehaves on demand; the worker is driven by the test (drain()) with a
// fake clock, so backoff, leases and domain pauses are travelled through instead of waited for.
import type { ParsedMail } from 'mailparser';
import { spawn } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DataSource } from 'typeorm';
import { FakeClock } from '../../src/common/clock';
import { signWebhook } from '../../src/common/signatures';
import { DeliveryKinds, subscriberGate } from '../../src/delivery/delivery-kinds';
import { DeliveryReferences } from '../../src/delivery/delivery-reference';
import { DeliveryWorker, messageIdFor } from '../../src/delivery/delivery-worker';
import { TokenService } from '../../src/links/tokens';
import { startTestApp, TestApp, TEST_SECRETS } from '../support/app';
import { snapshotDist } from '../support/dist-snapshot';
import { FaultFn, SinkMessage, startSmtpSink, SmtpSink } from '../support/smtp-sink';

const SENDER_DOMAIN = 'tactful.localhost';
const RETRY_MAX_ATTEMPTS = 4;
const RETRY_BASE_SECONDS = 60;
const DOMAIN_PAUSE_MINUTES = 60;
const CONFIRMED = { source: 'form', confirmedAt: '2026-01-10T09:00:00Z' };

let t: TestApp;
let sink: SmtpSink;
let db: DataSource;
let worker: DeliveryWorker;
const clock = new FakeClock('2026-03-02T08:00:00Z');

beforeAll(async () => {
  sink = await startSmtpSink();
  t = await startTestApp({
    clock,
    env: {
      SMTP_URL: sink.url,
      RETRY_MAX_ATTEMPTS: String(RETRY_MAX_ATTEMPTS),
      RETRY_BASE_SECONDS: String(RETRY_BASE_SECONDS),
      DOMAIN_PAUSE_MINUTES: String(DOMAIN_PAUSE_MINUTES),
    },
  });
  db = t.app.get(DataSource);
  worker = t.app.get(DeliveryWorker);
  // A marketing message kind for this file only (the real campaign kind belongs to src/campaigns):
  // the same consent gate every subscriber mail passes, and the real campaign template. The row's
  // payload drives the content, so a test can hand it a hostile subject or header.
  t.app.get(DeliveryKinds).register({
    kind: 'test_marketing',
    gate: (tx, delivery) => subscriberGate(tx, delivery),
    compose: async (_tx, delivery) => ({
      template: 'campaign',
      data: {
        subject: delivery.payload.subject ?? 'Die Messe in Köln ist verschoben',
        bodyHtml: delivery.payload.bodyHtml ?? '<p>Die Messe findet jetzt am 14. März statt.</p>',
        topicName: 'Messetermine',
        feedback: { usefulUrl: 'http://tactful.test/f/useful', notUsefulUrl: 'http://tactful.test/f/not-useful' },
      },
      headers: delivery.payload.headers as Record<string, string> | undefined,
    }),
  });
  for (const [key, nameDe, nameEn] of [
    ['trade-fairs', 'Messetermine', 'Trade fair dates'],
    ['offers', 'Angebote', 'Offers'],
  ]) {
    expect((await t.api('POST', '/v1/topics', { body: { key, nameDe, nameEn } })).status).toBe(201);
  }
});

afterAll(async () => {
  await t?.close();
  await sink?.close();
});

beforeEach(() => sink.clear());

// ---------------------------------------------------------------------------------------------

async function sql(text: string, params: unknown[] = []): Promise<any[]> {
  return db.query(text, params);
}

async function delivery(id: string): Promise<any> {
  const [row] = await sql(`SELECT * FROM deliveries WHERE id = $1`, [id]);
  return row;
}

async function createSubscriber(body: Record<string, unknown>): Promise<{ id: string; email: string }> {
  const res = await t.api('POST', '/v1/subscribers', { body: { topics: ['trade-fairs'], ...body } });
  expect(res.status).toBe(201);
  return res.body;
}

/** A pending subscriber created through the API, and the id of their queued confirmation mail. */
async function pendingWithConfirmation(email: string, extra: Record<string, unknown> = {}): Promise<{ subscriberId: string; deliveryId: string }> {
  const subscriber = await createSubscriber({ email, ...extra });
  const [row] = await sql(`SELECT id FROM deliveries WHERE subscriber_id = $1 AND kind = 'confirm_subscription'`, [subscriber.id]);
  expect(row).toBeDefined();
  return { subscriberId: subscriber.id, deliveryId: row.id };
}

/** Queues one test_marketing mail for a subscriber on 'trade-fairs', as a campaign would. */
async function queueMarketing(
  subscriberId: string,
  payload: Record<string, unknown> = {},
  key = `test-marketing:${subscriberId}:${Math.random()}`,
): Promise<string> {
  const [row] = await sql(
    `INSERT INTO deliveries (subscriber_id, class, kind, topic_id, ref_id, locale, status, reason, idempotency_key, payload,
                             next_attempt_at, created_at, updated_at)
     SELECT s.id, 'marketing', 'test_marketing', t.id, 'cmp-test', s.locale, 'queued', 'queued', $2, $3::jsonb, $4, $4, $4
     FROM subscribers s, topics t WHERE s.id = $1 AND t.key = 'trade-fairs'
     RETURNING id`,
    [subscriberId, key, JSON.stringify(payload), clock.now()],
  );
  return row.id;
}

/** A header's value as written, unfolded (mailparser turns List-* headers into objects). */
function header(parsed: ParsedMail, name: string): string | undefined {
  const line = parsed.headerLines.find((candidate) => candidate.key === name.toLowerCase())?.line;
  return line
    ?.slice(name.length + 1)
    .replace(/\r?\n[ \t]+/g, ' ')
    .trim();
}

const to = (address: string) => (m: SinkMessage) => m.envelope.rcptTo.includes(address);

/** Counts every RCPT TO the sink sees per address, and answers with `fault` where it returns one. */
function watchRcpts(fault: FaultFn = () => undefined): Map<string, number> {
  const seen = new Map<string, number>();
  sink.fault((ctx) => {
    if (ctx.stage === 'message' && ctx.rcpt) seen.set(ctx.rcpt.toLowerCase(), (seen.get(ctx.rcpt.toLowerCase()) ?? 0) + 1);
    return fault(ctx);
  });
  return seen;
}

function confirmLink(text: string): string {
  const link = /http:\/\/tactful\.test\/confirm\/[\w.-]+/.exec(text)?.[0];
  if (!link) throw new Error(`no confirm link in:\n${text}`);
  return link;
}

// ---------------------------------------------------------------------------------------------

describe('the double opt-in mail over real SMTP', () => {
  it('sends a new German subscriber a well-formed service mail with the confirm link in both parts, and a POST makes them active', async () => {
    const { subscriberId, deliveryId } = await pendingWithConfirmation('anna.kunz@example.de', {
      locale: 'de',
      topics: ['trade-fairs', 'offers'],
      attributes: { firstName: 'Anna' },
    });

    const stats = await worker.drain();
    expect(stats).toMatchObject({ claimed: 1, sent: 1 });
    const [mail] = await sink.waitFor(1);
    const parsed = mail.parsed;

    // Envelope and headers.
    expect(mail.envelope).toEqual({ mailFrom: `newsletter@${SENDER_DOMAIN}`, rcptTo: ['anna.kunz@example.de'] });
    expect(parsed.from?.value).toEqual([{ name: 'Tactful', address: `newsletter@${SENDER_DOMAIN}` }]);
    expect(parsed.to && !Array.isArray(parsed.to) ? parsed.to.value : undefined).toEqual([{ name: '', address: 'anna.kunz@example.de' }]);
    expect(parsed.messageId).toMatch(/^<[0-9a-f]{32}@tactful\.localhost>$/);
    expect(parsed.messageId).toBe(messageIdFor(`confirm:${subscriberId}`, SENDER_DOMAIN));
    expect(parsed.date).toBeInstanceOf(Date);
    expect(header(parsed, 'MIME-Version')).toBe('1.0');
    expect(parsed.subject).toBe('Bitte bestätigen Sie Ihre Anmeldung bei Tactful');
    // A service mail, not advertising: no unsubscribe headers, no list.
    expect(header(parsed, 'List-Unsubscribe')).toBeUndefined();
    expect(header(parsed, 'List-Unsubscribe-Post')).toBeUndefined();
    expect(header(parsed, 'List-Id')).toBeUndefined();
    expect(header(parsed, 'Feedback-ID')).toBe('confirm_subscription:confirm_subscription:service:tactful');
    // Opaque to the recipient (no sequential row id), readable with the token secret.
    const reference = header(parsed, 'X-Tactful-Delivery')!;
    expect(reference).toMatch(/^[A-Za-z0-9_-]{22}$/);
    expect(reference).not.toContain(String(deliveryId));
    expect(new DeliveryReferences([TEST_SECRETS.TOKEN_SECRET]).decode(reference)).toBe(String(deliveryId));
    expect(new DeliveryReferences(['another-secret-0123456789abcdef0123456789']).decode(reference)).toBeNull();
    expect(mail.raw).toMatch(/Content-Type: multipart\/alternative/i);

    // Both parts, in German, naming the chosen topics, with the same confirm link.
    expect(parsed.text?.trim().length).toBeGreaterThan(200);
    expect(typeof parsed.html === 'string' && parsed.html.length).toBeGreaterThan(1000);
    const html = parsed.html as string;
    expect(parsed.text).toContain('Hallo Anna,');
    expect(parsed.text).toContain('Bitte bestätigen Sie, dass diese E-Mail-Adresse Ihnen gehört.');
    expect(parsed.text).toMatch(/- Angebote\n- Messetermine/);
    expect(html).toContain('Anmeldung bestätigen');
    expect(html).toContain('<li>Messetermine</li>');
    const link = confirmLink(parsed.text!);
    expect(html).toContain(`href="${link}"`);
    expect(t.app.get(TokenService).verify('confirm', link.split('/').pop()!)).toBe(subscriberId);

    // The outbox row records the hand-over.
    expect(await delivery(deliveryId)).toMatchObject({
      status: 'sent',
      reason: 'sent',
      attempts: 1,
      message_id: parsed.messageId,
      lease_owner: null,
      sent_at: clock.now(),
    });
    expect((await delivery(deliveryId)).smtp_response).toMatch(/^250 /);

    // GET shows a button and changes nothing; POST confirms.
    const page = await fetch(link.replace('http://tactful.test', t.baseUrl));
    expect(await page.text()).toContain('<form method="post"');
    expect((await t.api('GET', `/v1/subscribers/${subscriberId}`)).body.status).toBe('pending');
    const confirmed = await fetch(link.replace('http://tactful.test', t.baseUrl), {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', 'user-agent': 'Firefox/140' },
      body: '',
    });
    expect(confirmed.status).toBe(200);
    const after = (await t.api('GET', `/v1/subscribers/${subscriberId}`)).body;
    expect(after.status).toBe('active');
    expect(after.topics.map((x: { topic: string; status: string }) => [x.topic, x.status])).toEqual([
      ['offers', 'confirmed'],
      ['trade-fairs', 'confirmed'],
    ]);
  });

  it('sends an English subscriber the English mail', async () => {
    const { subscriberId } = await pendingWithConfirmation('tom.baker@example.com', { locale: 'en' });
    await worker.drain();
    const [mail] = await sink.waitFor(1);
    expect(mail.parsed.subject).toBe('Please confirm your sign-up with Tactful');
    expect(mail.parsed.text).toContain('Hello,');
    expect(mail.parsed.text).toContain('- Trade fair dates');
    expect(mail.parsed.text).toContain('Please confirm that this email address is yours.');
    expect(mail.parsed.html).toContain('Confirm sign-up');
    expect(mail.parsed.html).not.toContain('bestätigen');
    const link = confirmLink(mail.parsed.text!);
    expect(mail.parsed.html).toContain(`href="${link}"`);
    expect(t.app.get(TokenService).verify('confirm', link.split('/').pop()!)).toBe(subscriberId);
  });
});

describe('marketing mail headers', () => {
  it('carries List-Unsubscribe with a one-click URL and a mailto, List-Unsubscribe-Post, List-Id and Feedback-ID', async () => {
    const subscriber = await createSubscriber({ email: 'marketing@example.de', consent: CONFIRMED });
    const id = await queueMarketing(subscriber.id);
    expect(await worker.drain()).toMatchObject({ sent: 1 });
    const [mail] = await sink.waitFor(1);

    const listUnsubscribe = header(mail.parsed, 'List-Unsubscribe');
    const match = /^<(http:\/\/tactful\.test\/u\/([\w.-]+))>, <mailto:unsubscribe@tactful\.localhost\?subject=unsubscribe-([\w.-]+)>$/.exec(
      listUnsubscribe ?? '',
    );
    expect(match).not.toBeNull();
    const [, url, token, mailtoToken] = match!;
    expect(mailtoToken).toBe(token);
    const tokens = t.app.get(TokenService);
    expect(tokens.verify('unsubscribe', token)).toBe(subscriber.id);
    expect(tokens.verify('preferences', token)).toBeNull(); // a token is good for its purpose only
    expect(header(mail.parsed, 'List-Unsubscribe-Post')).toBe('List-Unsubscribe=One-Click');
    expect(header(mail.parsed, 'List-Id')).toBe('Tactful <test_marketing.tactful.localhost>');
    expect(header(mail.parsed, 'Feedback-ID')).toBe('cmp-test:test_marketing:marketing:tactful');
    // The footer links match the header.
    expect(mail.parsed.text).toContain(`${url}\n`);
    expect(mail.parsed.html).toContain(`href="${url}"`);
    expect(mail.parsed.text).toContain('http://tactful.test/p/');
    expect(await delivery(id)).toMatchObject({ status: 'sent', reason: 'sent' });
  });
});

describe('relay faults', () => {
  // Gmail's "421 4.7.0 Try again later, closing connection" comes in reply to the final dot: the
  // relay saw the message and explicitly refused it, so the outbox retries it after the backoff.
  it('retries a 421 in reply to the message once after the backoff and delivers exactly one copy (attempts = 2)', async () => {
    const { deliveryId } = await pendingWithConfirmation('greylisted@example.org');
    const rcpts = watchRcpts((ctx) =>
      ctx.stage === 'message' && ctx.attempt === 1 ? { kind: 'reject-data', code: 421, message: '4.7.0 Try again later, closing connection.' } : undefined,
    );

    expect(await worker.drain()).toMatchObject({ claimed: 1, retried: 1, sent: 0 });
    const waiting = await delivery(deliveryId);
    expect(waiting).toMatchObject({ status: 'queued', reason: 'retrying', attempts: 1, unknown_outcomes: 0 });
    expect(waiting.smtp_response).toMatch(/^421 4\.7\.0 /);
    const waitSeconds = (waiting.next_attempt_at.getTime() - clock.now().getTime()) / 1000;
    expect(waitSeconds).toBeGreaterThanOrEqual(RETRY_BASE_SECONDS * 0.8);
    expect(waitSeconds).toBeLessThanOrEqual(RETRY_BASE_SECONDS * 1.2);

    // Not before the backoff is over.
    clock.advance(waitSeconds * 1000 - 1000);
    expect(await worker.drain()).toMatchObject({ claimed: 0 });
    clock.advance(1000);
    expect(await worker.drain()).toMatchObject({ claimed: 1, sent: 1 });

    expect(rcpts.get('greylisted@example.org')).toBe(2);
    expect(sink.rejectedAfterData).toHaveLength(1);
    expect(sink.messages.filter(to('greylisted@example.org'))).toHaveLength(1);
    expect(await delivery(deliveryId)).toMatchObject({ status: 'sent', reason: 'sent', attempts: 2 });
  });

  // nodemailer's pool (10.x, pool-resource.js) resends by itself when a REUSED connection gets a 421
  // before a byte of the message went out (the relay closed an idle connection): that retry is
  // invisible to the outbox and cannot duplicate, so the row shows one attempt.
  it('lets the pool resend at once when a reused connection answers RCPT with 421 (one copy, attempts = 1)', async () => {
    // Warm the pool, so the next mail goes over a connection that has sent before.
    await pendingWithConfirmation('warm-up@example.org');
    expect(await worker.drain()).toMatchObject({ sent: 1 });
    const { deliveryId } = await pendingWithConfirmation('rcpt-421@example.org');
    const rcpts = watchRcpts((ctx) =>
      ctx.rcpt === 'rcpt-421@example.org' && ctx.attempt === 1 ? { kind: 'reject-rcpt', code: 421, message: '4.3.2 Service shutting down' } : undefined,
    );

    expect(await worker.drain()).toMatchObject({ claimed: 1, sent: 1, retried: 0 });
    expect(rcpts.get('rcpt-421@example.org')).toBe(2);
    expect(sink.messages.filter(to('rcpt-421@example.org'))).toHaveLength(1);
    expect(await delivery(deliveryId)).toMatchObject({ status: 'sent', attempts: 1 });
  });

  it('backs off ever longer on a repeated 451 and fails with failed_retries_exhausted after RETRY_MAX_ATTEMPTS', async () => {
    const { deliveryId } = await pendingWithConfirmation('always-busy@example.org');
    const rcpts = watchRcpts((ctx) =>
      ctx.stage === 'message' ? { kind: 'reject-rcpt', code: 451, message: '4.7.1 Greylisted, please try again later' } : undefined,
    );

    const gaps: number[] = [];
    for (let attempt = 1; attempt <= RETRY_MAX_ATTEMPTS; attempt++) {
      await worker.drain();
      const row = await delivery(deliveryId);
      expect(row.attempts).toBe(attempt);
      if (attempt < RETRY_MAX_ATTEMPTS) {
        expect(row).toMatchObject({ status: 'queued', reason: 'retrying' });
        gaps.push((row.next_attempt_at.getTime() - clock.now().getTime()) / 1000);
        clock.set(row.next_attempt_at);
      } else {
        expect(row).toMatchObject({ status: 'failed', reason: 'failed_retries_exhausted' });
        expect(row.smtp_response).toContain('451 4.7.1 Greylisted');
      }
    }
    process.stdout.write(`451 backoff gaps (s): ${gaps.join(', ')}\n`);
    // base × 2^(n-1) with ±20 % jitter: the bands do not overlap, so each gap is longer than the last.
    gaps.forEach((gap, i) => {
      expect(gap).toBeGreaterThanOrEqual(RETRY_BASE_SECONDS * 2 ** i * 0.8);
      expect(gap).toBeLessThanOrEqual(RETRY_BASE_SECONDS * 2 ** i * 1.2);
    });
    expect(gaps[1]).toBeGreaterThan(gaps[0]);
    expect(gaps[2]).toBeGreaterThan(gaps[1]);

    // Given up for good: a day later nothing is tried again.
    clock.advance(86_400_000);
    expect(await worker.drain()).toMatchObject({ claimed: 0 });
    expect(rcpts.get('always-busy@example.org')).toBe(RETRY_MAX_ATTEMPTS);
    expect(sink.messages).toHaveLength(0);
  });

  it('marks a 550 5.1.1 as failed_bounced, bounces the subscriber, and suppresses their next mail without any SMTP traffic', async () => {
    const { subscriberId, deliveryId } = await pendingWithConfirmation('gone@example.net');
    const rcpts = watchRcpts((ctx) =>
      ctx.rcpt === 'gone@example.net'
        ? { kind: 'reject-rcpt', code: 550, message: '5.1.1 <gone@example.net>: Recipient address rejected: User unknown' }
        : undefined,
    );

    expect(await worker.drain()).toMatchObject({ failed: 1 });
    expect(await delivery(deliveryId)).toMatchObject({ status: 'failed', reason: 'failed_bounced', attempts: 1 });
    expect((await t.api('GET', `/v1/subscribers/${subscriberId}`)).body.status).toBe('bounced');

    // A later mail, even a service one (the reminder), is decided at send time and never reaches SMTP.
    const [reminder] = await sql(
      `INSERT INTO deliveries (subscriber_id, class, kind, locale, status, reason, idempotency_key, next_attempt_at, created_at, updated_at)
       VALUES ($1, 'service', 'confirm_reminder', 'de', 'queued', 'queued', $2, $3, $3, $3) RETURNING id`,
      [subscriberId, `confirm-reminder:${subscriberId}`, clock.now()],
    );
    expect(await worker.drain()).toMatchObject({ claimed: 1, suppressed: 1, sent: 0 });
    expect(await delivery(reminder.id)).toMatchObject({ status: 'suppressed', reason: 'suppressed_bounced', message_id: null });
    expect(rcpts.get('gone@example.net')).toBe(1);
    expect(sink.messages).toHaveLength(0);
  });

  it('pauses a domain that answers 554 5.7.1, holds its other mail until the pause ends, then sends all of it', async () => {
    const blocked = (ctx: { rcpt?: string }) => ctx.rcpt?.endsWith('@blocking.example') ?? false;
    const rcpts = watchRcpts((ctx) =>
      blocked(ctx)
        ? { kind: 'reject-rcpt', code: 554, message: '5.7.1 Service unavailable; client host [127.0.0.1] blocked using zen.spamhaus.org' }
        : undefined,
    );
    const first = await pendingWithConfirmation('first@blocking.example');
    expect(await worker.drain()).toMatchObject({ claimed: 1, retried: 1 });
    const pausedAt = clock.now();
    const until = new Date(pausedAt.getTime() + DOMAIN_PAUSE_MINUTES * 60_000);
    const [pause] = await sql(`SELECT * FROM domain_pauses WHERE domain = 'blocking.example'`);
    expect(pause.paused_until).toEqual(until);
    expect(pause.reason).toContain('5.7.1');
    // A policy block is about us, not the mail: it waits, without using up an attempt.
    expect(await delivery(first.deliveryId)).toMatchObject({ status: 'queued', reason: 'domain_paused', attempts: 0, next_attempt_at: until });

    // More mail for the paused domain, and some for another domain.
    const second = await pendingWithConfirmation('second@blocking.example');
    const third = await pendingWithConfirmation('third@blocking.example');
    const elsewhere = await pendingWithConfirmation('elsewhere@example.org');
    expect(await worker.drain()).toMatchObject({ claimed: 3, sent: 1 });
    expect(sink.messages.map((m) => m.envelope.rcptTo[0])).toEqual(['elsewhere@example.org']);
    for (const held of [second, third]) {
      expect(await delivery(held.deliveryId)).toMatchObject({ status: 'queued', reason: 'domain_paused', attempts: 0, next_attempt_at: until });
    }
    expect(await delivery(elsewhere.deliveryId)).toMatchObject({ status: 'sent' });

    // Half-way through the pause: still nothing for that domain.
    clock.advance((DOMAIN_PAUSE_MINUTES / 2) * 60_000);
    expect(await worker.drain()).toMatchObject({ claimed: 0 });
    expect([...rcpts.keys()].filter((rcpt) => rcpt.endsWith('@blocking.example'))).toEqual(['first@blocking.example']);

    // The block is lifted and the pause is over: all three go, once each.
    sink.fault(undefined);
    clock.set(until);
    expect(await worker.drain()).toMatchObject({ claimed: 3, sent: 3 });
    expect(
      sink.messages
        .filter((m) => m.envelope.rcptTo[0].endsWith('@blocking.example'))
        .map((m) => m.envelope.rcptTo[0])
        .sort(),
    ).toEqual(['first@blocking.example', 'second@blocking.example', 'third@blocking.example']);
    for (const done of [first, second, third]) {
      expect(await delivery(done.deliveryId)).toMatchObject({ status: 'sent', attempts: 1 });
    }
  });

  // The rule (retry.policy.ts afterAttempt 'unknown', delivery-worker.ts unknownResends = 1): when
  // the whole message went out and the connection died before the reply to the final dot, the
  // relay may or may not have queued it. Tactful sends it ONCE more, after RETRY_BASE_SECONDS and
  // under the same Message-ID (so a receiver that did get it can drop the copy); the row keeps
  // reason unknown_outcome and unknown_outcomes counts the blind hand-overs. A second unanswered
  // hand-over leaves the row in status `unknown` for a human: never a third copy.
  it('re-sends a mail whose connection dropped after DATA once, under the same Message-ID', async () => {
    const { deliveryId } = await pendingWithConfirmation('cut-once@example.org');
    watchRcpts((ctx) => (ctx.stage === 'message' && ctx.attempt === 1 ? { kind: 'cut-after-data' } : undefined));

    expect(await worker.drain()).toMatchObject({ claimed: 1, retried: 1 });
    const row = await delivery(deliveryId);
    expect(row).toMatchObject({ status: 'queued', reason: 'unknown_outcome', unknown_outcomes: 1, attempts: 1 });
    expect(row.next_attempt_at).toEqual(new Date(clock.now().getTime() + RETRY_BASE_SECONDS * 1000));
    expect(sink.cutAfterData).toHaveLength(1); // the relay did get the whole message

    clock.set(row.next_attempt_at);
    expect(await worker.drain()).toMatchObject({ claimed: 1, sent: 1 });
    expect(sink.messages).toHaveLength(1);
    expect(sink.messages[0].parsed.messageId).toBe(sink.cutAfterData[0].parsed.messageId);
    expect(await delivery(deliveryId)).toMatchObject({ status: 'sent', reason: 'sent', unknown_outcomes: 1, attempts: 2 });
  });

  it('leaves a mail whose hand-over went unanswered twice in status unknown and never sends a third copy', async () => {
    const { deliveryId } = await pendingWithConfirmation('cut-twice@example.org');
    const rcpts = watchRcpts((ctx) => (ctx.stage === 'message' ? { kind: 'cut-after-data' } : undefined));

    await worker.drain();
    clock.set((await delivery(deliveryId)).next_attempt_at);
    await worker.drain();
    expect(await delivery(deliveryId)).toMatchObject({ status: 'unknown', reason: 'unknown_outcome', unknown_outcomes: 2, attempts: 2 });

    clock.advance(86_400_000);
    expect(await worker.drain()).toMatchObject({ claimed: 0 });
    expect(rcpts.get('cut-twice@example.org')).toBe(2);
    expect(sink.cutAfterData).toHaveLength(2);
    expect(sink.messages).toHaveLength(0);
  });
});

describe('consent at the moment of hand-over', () => {
  it('suppresses a queued marketing mail when the subscriber unsubscribes before the worker gets to it', async () => {
    const subscriber = await createSubscriber({ email: 'changed-mind@example.de', consent: CONFIRMED });
    const id = await queueMarketing(subscriber.id);
    const rcpts = watchRcpts();

    expect((await t.api('PATCH', `/v1/subscribers/${subscriber.id}`, { body: { status: 'unsubscribed' } })).status).toBe(200);
    expect(await worker.drain()).toMatchObject({ claimed: 1, suppressed: 1, sent: 0 });

    expect(await delivery(id)).toMatchObject({ status: 'suppressed', reason: 'suppressed_unsubscribed', message_id: null, sent_at: null });
    expect(rcpts.size).toBe(0);
    expect(sink.messages).toHaveLength(0);
  });

  it('makes an unsubscribe that arrives during the hand-over wait until the hand-over is recorded', async () => {
    const subscriber = await createSubscriber({ email: 'mid-flight@example.de', consent: CONFIRMED });
    const id = await queueMarketing(subscriber.id);
    let rcptSeen!: () => void;
    const atRcpt = new Promise<void>((resolve) => (rcptSeen = resolve));
    // The relay takes 1.5 s to answer the final dot.
    watchRcpts((ctx) => {
      if (ctx.stage !== 'message') return undefined;
      rcptSeen();
      return { kind: 'accept', delayMs: 1500 };
    });

    const draining = worker.drain();
    await atRcpt;
    let patchDone = false;
    const patch = t.api('PATCH', `/v1/subscribers/${subscriber.id}`, { body: { status: 'unsubscribed' } }).then((res) => {
      patchDone = true;
      return res;
    });
    await new Promise((resolve) => setTimeout(resolve, 500));
    // The hand-over transaction holds the subscriber row: the unsubscribe is waiting, not lost.
    expect(patchDone).toBe(false);
    expect((await sql(`SELECT status FROM subscribers WHERE id = $1`, [subscriber.id]))[0].status).toBe('active');

    expect(await draining).toMatchObject({ sent: 1 });
    expect((await patch).body.status).toBe('unsubscribed');
    expect(await delivery(id)).toMatchObject({ status: 'sent', reason: 'sent' });
    expect(sink.messages).toHaveLength(1);

    // The next mail is decided after the unsubscribe committed.
    const next = await queueMarketing(subscriber.id);
    expect(await worker.drain()).toMatchObject({ suppressed: 1 });
    expect(await delivery(next)).toMatchObject({ status: 'suppressed', reason: 'suppressed_unsubscribed' });
    expect(sink.messages).toHaveLength(1);
  });
});

describe('POST /webhooks/mail-events', () => {
  const nowSeconds = () => Math.floor(clock.now().getTime() / 1000);

  async function postEvent(body: unknown, sign: { secret?: string; at?: number } | false = {}): Promise<{ status: number; body: any }> {
    const raw = JSON.stringify(body);
    const headers: Record<string, string> = { 'content-type': 'application/json' };
    if (sign !== false) headers['x-tactful-signature'] = signWebhook(sign.secret ?? TEST_SECRETS.WEBHOOK_SECRET, raw, sign.at ?? nowSeconds());
    const res = await fetch(`${t.baseUrl}/webhooks/mail-events`, { method: 'POST', headers, body: raw });
    return { status: res.status, body: await res.json() };
  }

  const status = async (id: string) => (await t.api('GET', `/v1/subscribers/${id}`)).body.status;

  it('refuses unsigned, wrongly signed and stale requests with 401 and changes nothing', async () => {
    const subscriber = await createSubscriber({ email: 'hook-guard@example.de', consent: CONFIRMED });
    const event = { id: 'evt-guard-1', type: 'bounce', email: 'hook-guard@example.de' };

    const unsigned = await postEvent(event, false);
    expect(unsigned.status).toBe(401);
    expect(unsigned.body.detail).toMatch(/missing x-tactful-signature/);
    const forged = await postEvent(event, { secret: 'not-the-webhook-secret-0123456789abcdef' });
    expect(forged.status).toBe(401);
    expect(forged.body.detail).toMatch(/does not match/);
    const stale = await postEvent(event, { at: nowSeconds() - 301 });
    expect(stale.status).toBe(401);
    expect(stale.body.detail).toMatch(/timestamp outside/);

    expect(await status(subscriber.id)).toBe('active');
    // None of them used up the event id: the genuine event still counts.
    expect((await postEvent(event)).body).toEqual({ duplicate: false, subscriberFound: true, action: 'bounced' });
  });

  it('bounces on a hard bounce, and ignores a replayed event id', async () => {
    const subscriber = await createSubscriber({ email: 'hook-bounce@example.de', consent: CONFIRMED });
    const event = { id: 'evt-bounce-1', type: 'bounce', bounceType: 'hard', email: 'Hook-Bounce@example.de', detail: '550 5.1.1 user unknown' };

    const first = await postEvent(event);
    expect(first).toEqual({ status: 200, body: { duplicate: false, subscriberFound: true, action: 'bounced' } });
    expect(await status(subscriber.id)).toBe('bounced');

    // Support reactivates the address; a replay of the old event (freshly signed) must not undo that.
    expect((await t.api('PATCH', `/v1/subscribers/${subscriber.id}`, { body: { status: 'active' } })).status).toBe(200);
    const replay = await postEvent(event);
    expect(replay).toEqual({ status: 200, body: { duplicate: true, subscriberFound: false, action: 'none' } });
    expect(await status(subscriber.id)).toBe('active');
  });

  it('finds the subscriber by Message-ID, and a complaint revokes every topic subscription', async () => {
    const subscriber = await createSubscriber({ email: 'hook-complaint@example.de', topics: ['trade-fairs', 'offers'], consent: CONFIRMED });
    await queueMarketing(subscriber.id);
    await worker.drain();
    const [mail] = await sink.waitFor(1);

    const res = await postEvent({ id: 'evt-complaint-1', type: 'complaint', messageId: mail.parsed.messageId });
    expect(res).toEqual({ status: 200, body: { duplicate: false, subscriberFound: true, action: 'complained' } });
    const after = (await t.api('GET', `/v1/subscribers/${subscriber.id}`)).body;
    expect(after.status).toBe('complained');
    expect(after.topics).toHaveLength(2);
    for (const topic of after.topics) expect(topic).toMatchObject({ status: 'revoked', revokedAt: clock.now().toISOString() });

    // And nothing but transactional mail reaches them again.
    const next = await queueMarketing(subscriber.id);
    await worker.drain();
    expect(await delivery(next)).toMatchObject({ status: 'suppressed', reason: 'suppressed_complained' });
    expect(sink.messages).toHaveLength(1);
  });

  it('answers a correctly signed but invalid body with a 400 problem naming the field', async () => {
    const badType = await postEvent({ id: 'evt-bad-1', type: 'spam', email: 'x@example.de' });
    expect(badType.status).toBe(400);
    expect(badType.body.errors.map((e: { field: string }) => e.field)).toEqual(['type']);

    const noRecipient = await postEvent({ id: 'evt-bad-2', type: 'bounce' });
    expect(noRecipient.status).toBe(400);
    expect(noRecipient.body.errors.map((e: { field: string }) => e.field)).toEqual(['email']);

    const badEmail = await postEvent({ id: 'evt-bad-3', type: 'bounce', email: 'not-an-address' });
    expect(badEmail.status).toBe(400);
    expect(badEmail.body.errors.map((e: { field: string }) => e.field)).toEqual(['email']);
    // A rejected event is not remembered: the same id, sent correctly, is processed.
    const [{ n }] = await sql(`SELECT count(*)::int AS n FROM webhook_events WHERE event_id LIKE 'evt-bad-%'`);
    expect(n).toBe(0);
    // An address without a subscriber is remembered (as a hash), so order mail stops going to it.
    expect((await postEvent({ id: 'evt-bad-3', type: 'bounce', email: 'nobody-here@example.de' })).body).toEqual({
      duplicate: false,
      subscriberFound: false,
      action: 'bounced',
    });
  });

  it('remembers a hard bounce of an address that is no subscriber, found by Message-ID: its next order mail is suppressed', async () => {
    const placedAt = new Date(clock.now().getTime() - 3_600_000).toISOString();
    const order = (number: string, email: string) =>
      t.api('POST', '/v1/orders', { body: { number, email, items: [{ sku: 'MUG', name: 'Mug', quantity: 1 }], placedAt } });
    expect((await order('MB-1', 'shop-only@example.org')).status).toBe(201);
    await worker.drain();
    const [{ message_id }] = await sql(`SELECT message_id FROM deliveries WHERE to_address = 'shop-only@example.org' AND status = 'sent'`);

    // A soft bounce is only noted; a complaint still lets order mail through (as for a subscriber).
    expect((await postEvent({ id: 'evt-shop-soft', type: 'bounce', bounceType: 'soft', messageId: message_id })).body.action).toBe('noted');
    expect((await postEvent({ id: 'evt-shop-complaint', type: 'complaint', messageId: message_id })).body.action).toBe('complained');
    expect((await order('MB-2', 'shop-only@example.org')).status).toBe(201);
    await worker.drain();
    expect(sink.messages.filter(to('shop-only@example.org'))).toHaveLength(2);

    expect((await postEvent({ id: 'evt-shop-hard', type: 'bounce', messageId: message_id })).body).toEqual({
      duplicate: false,
      subscriberFound: false,
      action: 'bounced',
    });
    const third = await order('MB-3', 'shop-only@example.org');
    const elsewhere = await order('MB-4', 'shop-elsewhere@example.org');
    await worker.drain();
    expect(sink.messages.filter(to('shop-only@example.org'))).toHaveLength(2);
    expect(sink.messages.filter(to('shop-elsewhere@example.org'))).toHaveLength(1);
    expect((await t.api('GET', `/v1/orders/${third.body.id}`)).body.mails).toEqual([
      expect.objectContaining({ kind: 'order_confirmation', status: 'suppressed', reason: 'suppressed_bounced' }),
    ]);
    expect((await t.api('GET', `/v1/orders/${elsewhere.body.id}`)).body.mails).toEqual([expect.objectContaining({ status: 'sent' })]);
    // Only a hash is kept, and no subscriber was made of the shop customer.
    const [{ n }] = await sql(`SELECT count(*)::int AS n FROM subscribers WHERE email LIKE 'shop-%'`);
    expect(n).toBe(0);
    expect(await sql(`SELECT reason FROM bounced_addresses WHERE email_hash = sha256('shop-only@example.org')`)).toEqual([{ reason: 'bounced' }]);
  });
});

describe('injection', () => {
  it('renders subscriber attributes that look like template code or HTML inert and escaped', async () => {
    const code = `{{constructor.constructor('return process')()}}`;
    const script = '<script>alert(1)</script>';
    await pendingWithConfirmation('code@example.de', { locale: 'de', attributes: { firstName: code } });
    await pendingWithConfirmation('script@example.de', { locale: 'de', attributes: { firstName: script } });
    expect(await worker.drain()).toMatchObject({ sent: 2 });
    const mails = await sink.waitFor(2);
    const codeMail = mails.find(to('code@example.de'))!.parsed;
    const scriptMail = mails.find(to('script@example.de'))!.parsed;

    // Data is never compiled: the braces arrive as text, HTML-escaped in the HTML part.
    expect(codeMail.text).toContain(`Hallo ${code},`);
    expect(codeMail.html).toContain('Hallo {{constructor.constructor(&#x27;return process&#x27;)()}},');
    for (const part of [codeMail.text, codeMail.html as string]) {
      expect(part).not.toMatch(/\[object process\]|function Function|native code/);
    }
    expect(scriptMail.html).toContain('Hallo &lt;script&gt;alert(1)&lt;/script&gt;,');
    expect(scriptMail.html).not.toMatch(/<script/i);
    // The text part is text/plain: the tag is shown, not run.
    expect(scriptMail.text).toContain(`Hallo ${script},`);
  });

  it('keeps a subject with CR/LF on one header line: no header or recipient can be smuggled in', async () => {
    const subscriber = await createSubscriber({ email: 'subject-crlf@example.de', consent: CONFIRMED });
    const id = await queueMarketing(subscriber.id, { subject: 'Neu bei uns\r\nBcc: victim@evil.example\r\n\r\n<h1>fake body</h1>' });
    const rcpts = watchRcpts();
    expect(await worker.drain()).toMatchObject({ sent: 1 });
    const [mail] = await sink.waitFor(1);
    expect(mail.parsed.subject).toBe('Neu bei uns Bcc: victim@evil.example <h1>fake body</h1>');
    expect(header(mail.parsed, 'Bcc')).toBeUndefined();
    expect(mail.envelope.rcptTo).toEqual(['subject-crlf@example.de']);
    expect([...rcpts.keys()]).toEqual(['subject-crlf@example.de']);
    expect(await delivery(id)).toMatchObject({ status: 'sent' });
  });

  it('refuses a header value with CR/LF before any SMTP traffic and records the delivery as failed, not sent', async () => {
    const subscriber = await createSubscriber({ email: 'header-crlf@example.de', consent: CONFIRMED });
    const id = await queueMarketing(subscriber.id, { headers: { 'X-Campaign': 'spring\r\nBcc: victim@evil.example' } });
    const rcpts = watchRcpts();
    expect(await worker.drain()).toMatchObject({ claimed: 1, failed: 1, sent: 0 });
    const row = await delivery(id);
    expect(row).toMatchObject({ status: 'failed', reason: 'failed_permanent', sent_at: null, lease_owner: null });
    expect(row.smtp_response).toMatch(/X-Campaign contains CR, LF or NUL/);
    expect(rcpts.size).toBe(0);
    expect(sink.messages).toHaveLength(0);
    expect(sink.connectionCount).toBe(0);
  });
});

describe('a MAIL_FROM with CR/LF in the display name', () => {
  // Enforced twice: config.ts refuses it at start-up (below), and assertSafeMail in
  // mail-transport.ts refuses any header value with CR/LF at send time (the X-Campaign test above).
  it('stops the real service at start-up with a message naming MAIL_FROM, before any mail can go', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'tactful-mailfrom-'));
    const dist = await snapshotDist();
    const child = spawn(process.execPath, [dist.main], {
      env: {
        PATH: process.env.PATH,
        NODE_ENV: 'test',
        ...TEST_SECRETS,
        DATA_DIR: dataDir,
        DATABASE_URL: t.db.url,
        SMTP_URL: sink.url,
        PORT: '0',
        MAIL_FROM: 'Tactful\r\nBcc: victim@evil.example <newsletter@tactful.localhost>',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
    dist.dispose();
    expect(code).toBe(1);
    expect(stderr).toMatch(/Invalid configuration:\n\s+MAIL_FROM: must be an address/);
    expect(sink.connectionCount).toBe(0);
  }, 120_000);
});
