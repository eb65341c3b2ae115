// Double opt-in as a customer meets it: a mail in the outbox folder, a page with a button, a POST.
import { simpleParser } from 'mailparser';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { FakeClock } from '../../src/common/clock';
import { DeliveryWorker } from '../../src/delivery/delivery-worker';
import { TokenService } from '../../src/links/tokens';
import { ConfirmationService } from '../../src/subscribers/confirmation.service';
import { startTestApp, TestApp } from '../support/app';

let t: TestApp;
const clock = new FakeClock('2026-03-02T08:00:00Z');

beforeAll(async () => {
  t = await startTestApp({ clock });
  await t.api('POST', '/v1/topics', { body: { key: 'trade-fairs', nameDe: 'Messetermine', nameEn: 'Trade fair dates' } });
});
afterAll(() => t.close());

const sql = (text: string, params: unknown[] = []) => t.sql(text, params);

async function outboxMails() {
  const dir = t.config.outboxDir;
  return Promise.all(
    readdirSync(dir)
      .filter((f) => f.endsWith('.eml'))
      .map((f) => simpleParser(readFileSync(join(dir, f)))),
  );
}

const local = (url: string) => url.replace(t.config.publicUrl, t.baseUrl);

describe('double opt-in', () => {
  it('writes a German confirmation mail to the outbox folder, confirms only on POST, and stores the proof', async () => {
    const created = await t.api('POST', '/v1/subscribers', {
      body: { email: 'doi@example.de', locale: 'de', topics: ['trade-fairs'], attributes: { firstName: 'Anna' } },
    });
    expect(created.body.status).toBe('pending');
    const stats = await t.app.get(DeliveryWorker).drain();
    expect(stats.sent).toBe(1);

    const mails = await outboxMails();
    expect(mails).toHaveLength(1);
    const mail = mails[0];
    expect(mail.subject).toMatch(/bestätigen/i);
    expect(mail.text).toContain('Messetermine');
    expect(mail.html).toContain('Messetermine');
    expect(mail.headers.get('list-unsubscribe')).toBeUndefined(); // a service mail, not advertising
    expect(mail.messageId).toMatch(/^<[0-9a-f]{32}@tactful\.localhost>$/);
    const link = /http:\/\/tactful\.test\/confirm\/[\w.-]+/.exec(mail.text ?? '')?.[0];
    expect(link).toBeDefined();
    expect(mail.html).toContain(link);

    // A link scanner's GET changes nothing.
    for (let i = 0; i < 5; i++) {
      const page = await fetch(local(link!));
      expect(page.status).toBe(200);
      expect(await page.text()).toContain('<form method="post"');
    }
    expect((await t.api('GET', `/v1/subscribers/${created.body.id}`)).body.status).toBe('pending');

    const confirmed = await fetch(local(link!), {
      method: 'POST',
      // Nobody is trusted to name the client (TRUST_PROXY unset): a forged header changes nothing.
      headers: { 'content-type': 'application/x-www-form-urlencoded', 'user-agent': 'Browser/1.0', 'x-forwarded-for': '203.0.113.9' },
      body: '',
    });
    expect(confirmed.status).toBe(200);
    expect(await confirmed.text()).toContain('bestätigt');
    const after = await t.api('GET', `/v1/subscribers/${created.body.id}`);
    expect(after.body).toMatchObject({ status: 'active', confirmedAt: '2026-03-02T08:00:00.000Z' });
    expect(after.body.topics[0]).toMatchObject({ topic: 'trade-fairs', status: 'confirmed' });
    const [proof] = await sql(`SELECT host(confirmation_ip) AS ip, confirmation_user_agent AS ua FROM subscribers WHERE id = $1`, [created.body.id]);
    expect(proof).toEqual({ ip: '127.0.0.1', ua: 'Browser/1.0' });
  });

  it('answers a forged or truncated confirmation token with a 404 page and changes nothing', async () => {
    const created = await t.api('POST', '/v1/subscribers', { body: { email: 'forged@example.com', topics: ['trade-fairs'] } });
    const forged = await fetch(`${t.baseUrl}/confirm/abcd.AQ.xyz`, { method: 'POST' });
    expect(forged.status).toBe(404);
    expect(forged.headers.get('content-type')).toContain('text/html');
    expect((await t.api('GET', `/v1/subscribers/${created.body.id}`)).body.status).toBe('pending');
  });

  it('sends at most one reminder and erases sign-ups never confirmed within 30 days', async () => {
    const created = await t.api('POST', '/v1/subscribers', { body: { email: 'slow@example.com', locale: 'en', topics: ['trade-fairs'] } });
    const confirmation = t.app.get(ConfirmationService);
    clock.advance(4 * 86_400_000);
    expect(await confirmation.sendReminders()).toBeGreaterThanOrEqual(1);
    expect(await confirmation.sendReminders()).toBe(0);
    const reminders = await sql(`SELECT count(*)::int AS n FROM deliveries WHERE subscriber_id = $1 AND kind = 'confirm_reminder'`, [created.body.id]);
    expect(reminders[0].n).toBe(1);
    clock.advance(27 * 86_400_000);
    expect(await confirmation.expirePending()).toBeGreaterThanOrEqual(1);
    expect((await t.api('GET', `/v1/subscribers/${created.body.id}`)).status).toBe(404);
    expect((await t.api('GET', `/v1/subscribers?email=doi@example.de`)).body.items).toHaveLength(1); // confirmed ones stay
  });

  it('keeps a sign-up never confirmed while it is a shop customer: its orders, parcels and tracking mails stay', async () => {
    const created = await t.api('POST', '/v1/subscribers', { body: { email: 'buyer@example.com', locale: 'en', topics: ['trade-fairs'] } });
    const order = await t.api('POST', '/v1/orders', {
      body: { number: 'A-1001', email: 'buyer@example.com', items: [{ sku: 'MUG', name: 'Mug', quantity: 1 }], placedAt: clock.now().toISOString() },
    });
    expect(order.status).toBe(201);
    clock.advance(29 * 86_400_000);
    const shipment = await t.api('POST', '/v1/shipments', {
      body: { orderNumber: 'A-1001', carrier: 'dhl', trackingNumber: 'JJD0001', trackingUrl: 'https://track.example.com/JJD0001' },
    });
    expect(shipment.status).toBe(201);
    clock.advance(2 * 86_400_000);
    await t.app.get(ConfirmationService).expirePending();
    // The sign-up was never confirmed, so it still gets no marketing; but the parcel is on its way.
    expect((await t.api('GET', `/v1/subscribers/${created.body.id}`)).body.status).toBe('pending');
    const event = await t.api('POST', `/v1/shipments/${shipment.body.id}/events`, {
      body: { eventId: 'dhl-1', status: 'out_for_delivery', occurredAt: clock.now().toISOString() },
    });
    expect(event.status).toBe(200);
    const [{ n }] = await sql(`SELECT count(*)::int AS n FROM deliveries WHERE subscriber_id = $1 AND class = 'transactional'`, [created.body.id]);
    expect(n).toBeGreaterThanOrEqual(2); // the order confirmation and the parcel's mails
  });

  it('queues one confirmation per pending subscriber of an import, and none for confirmed rows', async () => {
    const before = (await sql(`SELECT count(*)::int AS n FROM deliveries WHERE kind = 'confirm_subscription'`))[0].n;
    const res = await t.api('POST', '/v1/subscribers/import', {
      body: [
        { email: 'imp1@example.com', topics: ['trade-fairs'] },
        { email: 'imp2@example.com', topics: ['trade-fairs'], consent: { source: 'form', confirmedAt: '2026-01-01T00:00:00Z' } },
      ],
    });
    expect(res.body.created).toBe(2);
    await t.api('POST', '/v1/subscribers/import', { body: [{ email: 'imp1@example.com' }] });
    const after = (await sql(`SELECT count(*)::int AS n FROM deliveries WHERE kind = 'confirm_subscription'`))[0].n;
    expect(after - before).toBe(1);
  });
});

describe('behind a trusted load balancer (TRUST_PROXY)', () => {
  it('stores the client address the proxy names as the consent evidence', async () => {
    const behind = await startTestApp({ clock, env: { TRUST_PROXY: '127.0.0.1' } });
    try {
      await behind.api('POST', '/v1/topics', { body: { key: 'offers', nameDe: 'Angebote', nameEn: 'Offers' } });
      const created = await behind.api('POST', '/v1/subscribers', { body: { email: 'proxied@example.de', topics: ['offers'] } });
      const token = behind.app.get(TokenService).sign('confirm', created.body.id);
      const confirmed = await fetch(`${behind.baseUrl}/confirm/${token}`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded', 'x-forwarded-for': '203.0.113.9' },
        body: '',
      });
      expect(confirmed.status).toBe(200);
      const [proof] = await behind.sql(`SELECT host(confirmation_ip) AS ip FROM subscribers WHERE id = $1`, [created.body.id]);
      expect(proof.ip).toBe('203.0.113.9');
    } finally {
      await behind.close();
    }
  });
});
