// Orders and shipments as a shop, a carrier and a customer meet them: real HTTP, real SMTP sink,
// real PostgreSQL, virtual time. The rule behind every test: a customer never gets a tracking mail
// for a parcel they already have, and an order never signs anyone up for marketing. Status mails
// are held SHIPMENT_SETTLE_SECONDS (default 120) in the outbox: settle() moves the clock past the
// hold and runs the worker; drain() alone hands over only what is due now.
import fc from 'fast-check';
import { Client } from 'pg';
import { CampaignDispatchService } from '../../src/campaigns/campaign-dispatch.service';
import { FakeClock } from '../../src/common/clock';
import { signWebhook } from '../../src/common/signatures';
import { DeliveryWorker } from '../../src/delivery/delivery-worker';
import { CarrierEvent, CarrierStatus, compareEvents, deriveShipmentState } from '../../src/shipments/shipment-state.policy';
import { startTestApp, TestApp, TEST_SECRETS } from '../support/app';
import { createCampaign, createTopics, importConfirmed } from '../support/seed';
import { SinkMessage, SmtpSink, startSmtpSink } from '../support/smtp-sink';

const MIN = 60_000;
let t: TestApp;
let sink: SmtpSink;
// A Monday, 10:00 in Berlin.
const clock = new FakeClock('2026-03-02T09:00:00Z');
let anna: string;

async function sql(text: string, params: unknown[] = []): Promise<any[]> {
  const client = new Client({ connectionString: t.db.url });
  await client.connect();
  try {
    return (await client.query(text, params)).rows;
  } finally {
    await client.end();
  }
}

const SETTLE_MS = 120_000;
const drain = () => t.app.get(DeliveryWorker).drain();
/** Past the hold of every status mail queued or re-held until now, then the worker. */
const settle = () => (clock.advance(SETTLE_MS + 1000), drain());
const received = (email: string) => sink.messages.filter((m) => m.envelope.rcptTo.includes(email));
/** The worker's Feedback-ID header is "<refId>:<kind>:<class>:tactful": which shipment and kind a mail was. */
const feedbackId = (m: SinkMessage) => /^Feedback-ID: (.+)$/m.exec(headerBlock(m))?.[1] ?? '';
const headerBlock = (m: SinkMessage) => m.raw.split('\r\n\r\n')[0].replace(/\r\n[ \t]+/g, ' ');
const mailsAbout = (shipmentId: string) => sink.messages.filter((m) => feedbackId(m).startsWith(`${shipmentId}:`));
const isoIn = (minutes: number) => new Date(clock.now().getTime() + minutes * MIN).toISOString();

let orderSeq = 0;
async function placeOrder(email: string, items = [{ sku: 'MUG', name: 'Kaffeebecher', quantity: 1 }], extra: Record<string, unknown> = {}) {
  const number = `A-${++orderSeq}`;
  const res = await t.api('POST', '/v1/orders', { body: { number, email, items, placedAt: isoIn(-60), ...extra } });
  expect(res.status).toBe(201);
  return res.body;
}

let parcelSeq = 0;
async function ship(orderNumber: string, extra: Record<string, unknown> = {}) {
  const tracking = `TRK${++parcelSeq}`;
  const res = await t.api('POST', '/v1/shipments', {
    body: { orderNumber, carrier: 'dhl', trackingNumber: tracking, trackingUrl: `https://track.example.com/${tracking}?lang=de`, ...extra },
  });
  expect(res.status).toBe(201);
  return res.body;
}

let eventSeq = 0;
async function event(shipmentId: string, status: CarrierStatus, minutes = 0, eventId = `evt-${++eventSeq}`) {
  const res = await t.api('POST', `/v1/shipments/${shipmentId}/events`, { body: { eventId, status, occurredAt: isoIn(minutes) } });
  expect(res.status).toBe(200);
  return res.body;
}

async function webhook(body: unknown, sign: { secret?: string; at?: number } | false = {}) {
  const raw = JSON.stringify(body);
  const headers: Record<string, string> = { 'content-type': 'application/json' };
  const seconds = Math.floor(clock.now().getTime() / 1000);
  if (sign !== false) headers['x-tactful-signature'] = signWebhook(sign.secret ?? TEST_SECRETS.WEBHOOK_SECRET, raw, sign.at ?? seconds);
  const res = await fetch(`${t.baseUrl}/webhooks/carrier`, { method: 'POST', headers, body: raw });
  return { status: res.status, contentType: res.headers.get('content-type') ?? '', body: (await res.json()) as any };
}

const mailOf = (shipment: { mails: { kind: string }[] }, kind: string) => shipment.mails.find((m) => m.kind === kind);
const getShipment = async (id: string) => (await t.api('GET', `/v1/shipments/${id}`)).body;

beforeAll(async () => {
  sink = await startSmtpSink();
  t = await startTestApp({ clock, env: { SMTP_URL: sink.url } });
  await createTopics(t, ['offers']);
  const ids = await importConfirmed(t, [{ email: 'anna@example.de', locale: 'de', topics: ['offers'] }]);
  anna = ids.get('anna@example.de')!;
});
afterAll(async () => {
  await t.close();
  await sink.close();
});
beforeEach(async () => {
  await settle();
  sink.clear();
});

describe('orders', () => {
  it('confirms an order of a subscriber as transactional mail on their timeline, with no marketing blocks', async () => {
    const order = await placeOrder('Anna@Example.de', [
      { sku: 'MUG', name: 'Kaffeebecher', quantity: 2 },
      { sku: 'POT', name: 'Teekanne', quantity: 1 },
    ]);
    expect(order).toMatchObject({ subscriberId: anna, locale: 'de', email: 'anna@example.de', shop: 'main' });
    await drain();

    const [mail] = received('anna@example.de');
    expect(received('anna@example.de')).toHaveLength(1);
    expect(mail.parsed.subject).toBe(`Ihre Bestellung ${order.number} bei Tactful`);
    expect(mail.parsed.text).toContain('- 2 × Kaffeebecher');
    expect(mail.parsed.text).toContain('Sie enthält keine Werbung');
    // Transactional: no unsubscribe header, no unsubscribe link, no campaign content.
    const headers = headerBlock(mail);
    expect(headers).not.toMatch(/^List-Unsubscribe/im);
    expect(headers).not.toMatch(/^List-Id/im);
    expect(feedbackId(mail)).toBe(`${order.id}:order_confirmation:transactional:tactful`);
    for (const part of [mail.parsed.html as string, mail.parsed.text!]) {
      expect(part).not.toMatch(/\/u\/|Abmelden|Unsubscribe|Thema offers|Neuigkeiten/);
    }

    const timeline = await t.api('GET', `/v1/subscribers/${anna}/timeline`);
    expect(timeline.body.items.find((i: any) => i.refId === order.id)).toMatchObject({
      class: 'transactional',
      kind: 'order_confirmation',
      status: 'sent',
      reason: 'sent',
    });
    // Transactional mail neither takes nor waits for the marketing window.
    expect(timeline.body.lastMarketingAt).toBeNull();
  });

  it('gives an unknown shop customer the order mail and nothing else: no subscriber, no campaign, and they can still sign up', async () => {
    const order = await placeOrder('shopper@example.com', undefined, { locale: 'en' });
    expect(order.subscriberId).toBeNull();
    expect((await t.api('GET', '/v1/subscribers?email=shopper@example.com')).body.items).toEqual([]);

    const campaign = await createCampaign(t, { name: 'after-order offer', topic: 'offers' });
    await t.api('POST', `/v1/campaigns/${campaign}/schedule`, { body: {} });
    await t.app.get(CampaignDispatchService).dispatchDue();
    await drain();

    const mails = received('shopper@example.com');
    expect(mails.map((m) => m.parsed.subject)).toEqual([`Your order ${order.number} with Tactful`]);
    expect(headerBlock(mails[0])).not.toMatch(/^List-Unsubscribe/im);
    expect(mails[0].parsed.text).not.toMatch(/Manage preferences/);
    expect(received('anna@example.de')).toHaveLength(1); // the campaign went to the subscriber only
    expect(await sql(`SELECT count(*)::int AS n FROM deliveries WHERE to_address = 'shopper@example.com' AND class <> 'transactional'`)).toEqual([{ n: 0 }]);

    // Being a customer did not take their address: signing up works as for anyone (double opt-in).
    const signUp = await t.api('POST', '/v1/subscribers', { body: { email: 'shopper@example.com', topics: ['offers'] } });
    expect(signUp.status).toBe(201);
    expect(signUp.body.status).toBe('pending');
  });

  it('is idempotent by order number: the same order again is 200 and queues nothing; other content is 409 naming the field', async () => {
    const body = { number: 'B-1', email: 'repeat@example.com', items: [{ sku: 'MUG', name: 'Mug', quantity: 1 }], placedAt: isoIn(-30) };
    const first = await t.api('POST', '/v1/orders', { body });
    const again = await t.api('POST', '/v1/orders', { body });
    expect([first.status, again.status]).toEqual([201, 200]);
    expect(again.body.id).toBe(first.body.id);
    const other = await t.api('POST', '/v1/orders', { body: { ...body, items: [{ sku: 'MUG', name: 'Mug', quantity: 5 }] } });
    expect(other.status).toBe(409);
    expect(other.body.errors).toEqual([expect.objectContaining({ field: 'number' })]);
    // Another shop may use the same number.
    expect((await t.api('POST', '/v1/orders', { body: { ...body, shop: 'outlet' } })).status).toBe(201);

    await drain();
    expect(received('repeat@example.com')).toHaveLength(2);
  });

  it('sends the order confirmation (the receipt) even when every parcel arrived before it could go', async () => {
    const order = await placeOrder('anna@example.de');
    const shipment = await ship(order.number);
    await event(shipment.id, 'delivered', -1);
    await settle();
    // The receipt, and no tracking mail for the parcel already there.
    expect(received('anna@example.de').map((m) => feedbackId(m))).toEqual([`${order.id}:order_confirmation:transactional:tactful`]);
    expect(received('anna@example.de')[0].parsed.text).toContain('- 1 × Kaffeebecher');
    const after = (await t.api('GET', `/v1/orders/${order.id}`)).body;
    expect(after.shipmentIds).toEqual([shipment.id]);
    expect(after.mails).toEqual([expect.objectContaining({ kind: 'order_confirmation', status: 'sent', reason: 'sent' })]);
    expect((await getShipment(shipment.id)).mails).toEqual([
      expect.objectContaining({ kind: 'shipment_shipped', status: 'suppressed', reason: 'already_delivered' }),
    ]);
  });

  it('is never held: the confirmation goes at once while the parcel registered with it waits for its status to settle', async () => {
    const order = await placeOrder('anna@example.de');
    const shipment = await ship(order.number);
    await drain();
    expect(received('anna@example.de').map((m) => feedbackId(m))).toEqual([`${order.id}:order_confirmation:transactional:tactful`]);
    expect(mailOf(await getShipment(shipment.id), 'shipment_shipped')).toMatchObject({ status: 'queued', reason: 'queued_settling' });
  });

  it('stops mailing a shop customer whose address has since bounced as a subscriber', async () => {
    const order = await placeOrder('gone@example.com');
    expect(order.subscriberId).toBeNull();
    await importConfirmed(t, [{ email: 'gone@example.com', topics: ['offers'] }]);
    await sql(`UPDATE subscribers SET status = 'bounced' WHERE email = 'gone@example.com'`);
    await drain();
    expect(received('gone@example.com')).toHaveLength(0);
    expect((await t.api('GET', `/v1/orders/${order.id}`)).body.mails).toEqual([
      expect.objectContaining({ kind: 'order_confirmation', status: 'suppressed', reason: 'suppressed_bounced' }),
    ]);
  });

  it('remembers a relay’s 550 5.1.1 for a shop customer who is no subscriber: the next order’s mail is not sent to the dead address', async () => {
    let tries = 0;
    sink.fault((ctx) => {
      if (ctx.stage !== 'message' || ctx.rcpt !== 'nobody-home@example.com') return undefined;
      tries++;
      return { kind: 'reject-rcpt', code: 550, message: '5.1.1 No such user' };
    });
    try {
      const first = await placeOrder('nobody-home@example.com');
      await drain();
      expect((await t.api('GET', `/v1/orders/${first.id}`)).body.mails).toEqual([expect.objectContaining({ status: 'failed' })]);
      const second = await placeOrder('nobody-home@example.com');
      const other = await placeOrder('somebody-home@example.com');
      await drain();
      expect(tries).toBe(1);
      expect((await t.api('GET', `/v1/orders/${second.id}`)).body.mails).toEqual([
        expect.objectContaining({ kind: 'order_confirmation', status: 'suppressed', reason: 'suppressed_bounced' }),
      ]);
      expect(received('somebody-home@example.com')).toHaveLength(1);
      expect((await t.api('GET', `/v1/orders/${other.id}`)).body.subscriberId).toBeNull();
    } finally {
      sink.fault(undefined);
    }
  });

  it('rejects bad orders with problem+json naming each field, storing nothing', async () => {
    const before = await sql(`SELECT count(*)::int AS n FROM orders`);
    const res = await t.api('POST', '/v1/orders', {
      body: { number: 'C-1', email: 'not-an-address', items: [{ sku: 'MUG', name: 'Mug', quantity: 0 }], placedAt: 'yesterday' },
    });
    expect(res.status).toBe(400);
    expect(res.headers.get('content-type')).toContain('application/problem+json');
    expect(res.body.errors.map((e: any) => e.field).sort()).toEqual(['email', 'items[0].quantity', 'placedAt']);

    const twice = await t.api('POST', '/v1/orders', {
      body: {
        number: 'C-2',
        email: 'x@example.com',
        placedAt: isoIn(-1),
        items: [
          { sku: 'MUG', name: 'Mug', quantity: 1 },
          { sku: 'MUG', name: 'Mug', quantity: 2 },
        ],
      },
    });
    expect(twice.status).toBe(400);
    expect(twice.body.errors).toEqual([expect.objectContaining({ field: 'items[1].sku' })]);
    const future = await t.api('POST', '/v1/orders', {
      body: { number: 'C-3', email: 'x@example.com', placedAt: isoIn(60), items: [{ sku: 'MUG', name: 'Mug', quantity: 1 }] },
    });
    expect(future.body.errors).toEqual([expect.objectContaining({ field: 'placedAt', message: 'lies in the future' })]);
    expect(await sql(`SELECT count(*)::int AS n FROM orders`)).toEqual(before);
  });
});

describe('tracking mail that checks itself', () => {
  it('sends nothing when the parcel was delivered before the worker ran, and says already_delivered on the timeline', async () => {
    const order = await placeOrder('anna@example.de');
    await drain();
    sink.clear();
    const shipment = await ship(order.number);
    expect(mailOf(shipment, 'shipment_shipped')).toMatchObject({ status: 'queued', reason: 'queued_settling' });
    await event(shipment.id, 'in_transit', -20);
    await event(shipment.id, 'delivered', -1);
    const deliveredAt = isoIn(-1);
    await settle();

    expect(sink.messages).toHaveLength(0);
    const timeline = await t.api('GET', `/v1/subscribers/${anna}/timeline`);
    expect(timeline.body.items.find((i: any) => i.refId === shipment.id)).toMatchObject({
      kind: 'shipment_shipped',
      status: 'suppressed',
      reason: 'already_delivered',
      reasonLabel: { de: 'Paket bereits zugestellt', en: 'Parcel already delivered' },
    });
    const after = await getShipment(shipment.id);
    expect(after).toMatchObject({ status: 'delivered', deliveredAt });
    expect(after.mails).toEqual([expect.objectContaining({ kind: 'shipment_shipped', reason: 'already_delivered' })]);
  });

  it('lets only the newest mail go: the out-for-delivery mail supersedes a tracking mail still queued', async () => {
    const order = await placeOrder('anna@example.de');
    const shipment = await ship(order.number);
    await event(shipment.id, 'in_transit', -30);
    const out = await event(shipment.id, 'out_for_delivery', -5);
    expect(out).toMatchObject({ previousStatus: 'in_transit', status: 'out_for_delivery', mailsQueued: ['shipment_out_for_delivery'] });
    await settle();

    const mails = mailsAbout(shipment.id);
    expect(mails).toHaveLength(1);
    expect(mails[0].parsed.subject).toBe(`Ihr Paket aus der Bestellung ${order.number} kommt heute`);
    expect(mails[0].parsed.text).toContain(shipment.trackingUrl);
    const after = await getShipment(shipment.id);
    expect(mailOf(after, 'shipment_shipped')).toMatchObject({ status: 'suppressed', reason: 'superseded' });
    expect(mailOf(after, 'shipment_out_for_delivery')).toMatchObject({ status: 'sent', reason: 'sent' });

    // Delivered now: nothing more, ever.
    await event(shipment.id, 'delivered', 0);
    await settle();
    expect(mailsAbout(shipment.id)).toHaveLength(1);
  });

  it('tells a split order which items are still coming, and which are in another parcel already', async () => {
    const order = await placeOrder('anna@example.de', [
      { sku: 'MUG', name: 'Kaffeebecher', quantity: 2 },
      { sku: 'POT', name: 'Teekanne', quantity: 1 },
      { sku: 'LID', name: 'Deckel', quantity: 1 },
    ]);
    await drain();
    sink.clear();

    const first = await ship(order.number, { items: [{ sku: 'MUG', quantity: 2 }] });
    await settle();
    const [firstMail] = mailsAbout(first.id);
    expect(firstMail.parsed.subject).toBe(`Ein Teil Ihrer Bestellung ${order.number} ist unterwegs`);
    expect(firstMail.parsed.text).toContain('- 2 × Kaffeebecher');
    expect(firstMail.parsed.text).toContain('Aus dieser Bestellung kommt noch:');
    expect(firstMail.parsed.text).toContain('- 1 × Teekanne – folgt in einem späteren Paket');
    expect(firstMail.parsed.text).toContain('- 1 × Deckel – folgt in einem späteren Paket');

    // The teapot goes separately; the lid stays open. Parcel one is still on its way.
    const second = await ship(order.number, { items: [{ sku: 'POT', quantity: 1 }] });
    await settle();
    const text = mailsAbout(second.id)[0].parsed.text!;
    expect(text).toContain('- 2 × Kaffeebecher – bereits in einem eigenen Paket unterwegs');
    expect(text).toContain('- 1 × Deckel – folgt in einem späteren Paket');
    expect(text).not.toContain('Teekanne –');

    // Once the first two arrived, the last parcel completes the order: nothing is still to come.
    await event(first.id, 'delivered', 0);
    await event(second.id, 'delivered', 0);
    const last = await ship(order.number); // default: the rest of the order
    expect(last.items).toEqual([{ sku: 'LID', quantity: 1 }]);
    await settle();
    const lastMail = mailsAbout(last.id)[0];
    expect(lastMail.parsed.subject).toBe(`Ihre Bestellung ${order.number} ist unterwegs`);
    expect(lastMail.parsed.text).not.toContain('kommt noch');
  });

  it('refuses a parcel with items outside the order or beyond what is left, naming the item', async () => {
    const order = await placeOrder('anna@example.de', [{ sku: 'MUG', name: 'Kaffeebecher', quantity: 2 }]);
    await ship(order.number, { items: [{ sku: 'MUG', quantity: 1 }] });
    const body = { orderNumber: order.number, carrier: 'dhl', trackingNumber: 'TRK-X1', trackingUrl: 'https://track.example.com/x' };
    const stranger = await t.api('POST', '/v1/shipments', { body: { ...body, items: [{ sku: 'HAT', quantity: 1 }] } });
    expect(stranger.status).toBe(400);
    expect(stranger.body.errors).toEqual([expect.objectContaining({ field: 'items[0].sku' })]);
    const tooMany = await t.api('POST', '/v1/shipments', { body: { ...body, items: [{ sku: 'MUG', quantity: 2 }] } });
    expect(tooMany.body.errors).toEqual([{ field: 'items[0].quantity', message: 'only 1 of MUG are not in a parcel yet' }]);
    const insecure = await t.api('POST', '/v1/shipments', { body: { ...body, trackingUrl: 'http://track.example.com/x' } });
    expect(insecure.status).toBe(400);
    expect(insecure.body.errors).toEqual([expect.objectContaining({ field: 'trackingUrl' })]);
    const unknownOrder = await t.api('POST', '/v1/shipments', { body: { ...body, orderNumber: 'NOPE-1' } });
    expect(unknownOrder.status).toBe(422);
    expect(unknownOrder.body.errors).toEqual([expect.objectContaining({ field: 'orderNumber' })]);
    expect(await sql(`SELECT count(*)::int AS n FROM shipments WHERE tracking_number = 'TRK-X1'`)).toEqual([{ n: 0 }]);
  });

  it('registers a parcel once: the same POST again is 200 and queues no second tracking mail', async () => {
    const order = await placeOrder('anna@example.de');
    const body = { orderNumber: order.number, carrier: 'dhl', trackingNumber: 'TRK-ONCE', trackingUrl: 'https://track.example.com/once' };
    const first = await t.api('POST', '/v1/shipments', { body });
    const again = await t.api('POST', '/v1/shipments', { body });
    expect([first.status, again.status]).toEqual([201, 200]);
    expect(again.body.id).toBe(first.body.id);
    await settle();
    expect(mailsAbout(first.body.id)).toHaveLength(1);
  });

  it('sends the delivery problem mail on an exception, and drops it when the problem solved itself before the hand-over', async () => {
    const order = await placeOrder('anna@example.de');
    const stuck = await ship(order.number, { items: [{ sku: 'MUG', quantity: 1 }] });
    await settle();
    await event(stuck.id, 'exception', 0);
    await settle();
    const problem = mailsAbout(stuck.id).map((m) => m.parsed.subject);
    expect(problem).toEqual([`Ihre Bestellung ${order.number} ist unterwegs`, `Problem bei der Zustellung Ihrer Bestellung ${order.number}`]);

    const other = await placeOrder('anna@example.de');
    const recovered = await ship(other.number);
    expect((await event(recovered.id, 'exception', -10)).mailsQueued).toEqual(['shipment_exception']);
    await event(recovered.id, 'in_transit', -2);
    await settle();
    const after = await getShipment(recovered.id);
    expect(after.status).toBe('in_transit');
    expect(mailOf(after, 'shipment_exception')).toMatchObject({ status: 'suppressed', reason: 'superseded' });
    expect(mailsAbout(recovered.id).map((m) => m.parsed.subject)).toEqual([`Ihre Bestellung ${other.number} ist unterwegs`]);
  });
});

describe('the settle hold (SHIPMENT_SETTLE_SECONDS)', () => {
  const timelineItem = async (refId: string) => (await t.api('GET', `/v1/subscribers/${anna}/timeline`)).body.items.find((i: any) => i.refId === refId);

  it('sends no tracking mail for parcels reported delivered 0.25–1 s after they were registered, however often the worker polls meanwhile', async () => {
    const parcels: { id: string }[] = [];
    for (const delayMs of [250, 400, 550, 700, 850, 1000]) {
      const order = await placeOrder('anna@example.de');
      const shipment = await ship(order.number);
      parcels.push(shipment);
      // The worker polls while the parcel is fresh: the receipt goes, the tracking mail waits.
      await drain();
      expect(mailOf(await getShipment(shipment.id), 'shipment_shipped')).toMatchObject({ status: 'queued', reason: 'queued_settling' });
      expect(await timelineItem(shipment.id)).toMatchObject({
        kind: 'shipment_shipped',
        status: 'queued',
        reason: 'queued_settling',
        reasonLabel: { de: 'Wartet kurz, bis der Paketstatus feststeht', en: 'Held briefly until the parcel’s status settles' },
      });
      clock.advance(delayMs);
      const res = await webhook({
        carrier: 'dhl',
        trackingNumber: shipment.trackingNumber,
        eventId: `settle-${shipment.id}`,
        status: 'delivered',
        occurredAt: clock.now().toISOString(),
      });
      expect(res.body).toMatchObject({ status: 'delivered', mailsQueued: [] });
      await drain();
    }
    await settle();

    const tracking = sink.messages.filter((m) => /:shipment_/.test(feedbackId(m)));
    expect(tracking).toHaveLength(0);
    expect(received('anna@example.de').map((m) => feedbackId(m).split(':')[1])).toEqual(Array(6).fill('order_confirmation'));
    for (const parcel of parcels) {
      expect((await getShipment(parcel.id)).mails).toEqual([
        expect.objectContaining({ kind: 'shipment_shipped', status: 'suppressed', reason: 'already_delivered' }),
      ]);
      expect(await timelineItem(parcel.id)).toMatchObject({ status: 'suppressed', reason: 'already_delivered' });
    }
  });

  it('sends no tracking mail for a parcel registered late whose carrier then reports its whole history, delivered included', async () => {
    const order = await placeOrder('anna@example.de');
    const shipment = await ship(order.number);
    // Registered two days after it arrived; the carrier (or an aggregator) replays what it knows.
    for (const [status, minutes] of [
      ['label_created', -5 * 1440],
      ['in_transit', -4 * 1440],
      ['out_for_delivery', -3 * 1440],
      ['delivered', -3 * 1440 + 120],
    ] as const) {
      await webhook({ carrier: 'dhl', trackingNumber: shipment.trackingNumber, eventId: `late-${shipment.id}-${status}`, status, occurredAt: isoIn(minutes) });
      clock.advance(300);
    }
    await settle();

    expect(mailsAbout(shipment.id)).toHaveLength(0);
    expect(received('anna@example.de').map((m) => feedbackId(m))).toEqual([`${order.id}:order_confirmation:transactional:tactful`]);
    const after = await getShipment(shipment.id);
    expect(after.status).toBe('delivered');
    expect(after.mails.map((m: any) => [m.kind, m.status, m.reason])).toEqual([
      ['shipment_shipped', 'suppressed', 'already_delivered'],
      ['shipment_out_for_delivery', 'suppressed', 'already_delivered'],
    ]);
  });

  it('mails a normal parcel exactly once per status: shipped, a delivery problem, out for delivery; nothing once delivered', async () => {
    const order = await placeOrder('anna@example.de');
    await drain();
    sink.clear();
    const shipment = await ship(order.number);
    const subjects = () => mailsAbout(shipment.id).map((m) => m.parsed.subject);

    await settle();
    expect(subjects()).toEqual([`Ihre Bestellung ${order.number} ist unterwegs`]);
    await event(shipment.id, 'in_transit', 0);
    await settle();
    expect(subjects()).toHaveLength(1);
    await event(shipment.id, 'exception', 0);
    await settle();
    expect(subjects()).toEqual([`Ihre Bestellung ${order.number} ist unterwegs`, `Problem bei der Zustellung Ihrer Bestellung ${order.number}`]);
    await event(shipment.id, 'out_for_delivery', 0);
    await settle();
    await event(shipment.id, 'delivered', 0);
    await settle();
    expect(subjects()).toEqual([
      `Ihre Bestellung ${order.number} ist unterwegs`,
      `Problem bei der Zustellung Ihrer Bestellung ${order.number}`,
      `Ihr Paket aus der Bestellung ${order.number} kommt heute`,
    ]);
    expect((await getShipment(shipment.id)).mails.map((m: any) => [m.kind, m.reason])).toEqual([
      ['shipment_shipped', 'sent'],
      ['shipment_exception', 'sent'],
      ['shipment_out_for_delivery', 'sent'],
    ]);
  });

  it('coalesces a burst: each change of status restarts the hold, and only the latest status is mailed', async () => {
    const order = await placeOrder('anna@example.de');
    await drain();
    sink.clear();
    const shipment = await ship(order.number);
    const registeredAt = clock.now().getTime();
    clock.advance(90_000);
    await event(shipment.id, 'in_transit', 0);
    clock.advance(20_000);
    await event(shipment.id, 'out_for_delivery', 0);
    // The tracking mail's own hold is over, but the status changed 20 s ago: it still waits.
    clock.set(new Date(registeredAt + SETTLE_MS + 1000));
    expect((await drain()).claimed).toBe(0);
    const [held] = await sql(`SELECT next_attempt_at FROM deliveries WHERE idempotency_key = $1`, [`shipment_shipped:${shipment.id}`]);
    expect(held.next_attempt_at.getTime()).toBe(registeredAt + 110_000 + SETTLE_MS);
    await settle();

    expect(mailsAbout(shipment.id).map((m) => m.parsed.subject)).toEqual([`Ihr Paket aus der Bestellung ${order.number} kommt heute`]);
    expect(await timelineItem(shipment.id)).toBeDefined();
    const mails = (await getShipment(shipment.id)).mails.map((m: any) => [m.kind, m.status, m.reason, m.reasonLabel.en]);
    expect(mails).toEqual([
      ['shipment_shipped', 'suppressed', 'superseded', 'Replaced by a newer message'],
      ['shipment_out_for_delivery', 'sent', 'sent', 'Sent'],
    ]);
  });

  it('holds in the database, not in a process: a restart and a second instance see the same hold and decide once', async () => {
    const delivered = await ship((await placeOrder('anna@example.de')).number);
    const parcel = await ship((await placeOrder('anna@example.de')).number);
    await drain();
    // Another instance on the same database (a restart, or a second one behind the load balancer) within the hold.
    const second = await startTestApp({ clock, env: { SMTP_URL: sink.url, DATABASE_URL: t.db.url } });
    try {
      const res = await second.api('POST', `/v1/shipments/${delivered.id}/events`, {
        body: { eventId: `restart-${delivered.id}`, status: 'delivered', occurredAt: clock.now().toISOString() },
      });
      expect(res.body).toMatchObject({ status: 'delivered' });
      expect((await second.app.get(DeliveryWorker).drain()).claimed).toBe(0);
      clock.advance(SETTLE_MS + 1000);
      // Both workers run once the hold is over: each mail is decided exactly once.
      const [a, b] = await Promise.all([second.app.get(DeliveryWorker).drain(), drain()]);
      expect(a.claimed + b.claimed).toBe(2);
    } finally {
      await second.close();
    }
    expect(mailsAbout(delivered.id)).toHaveLength(0);
    expect(mailsAbout(parcel.id)).toHaveLength(1);
    expect(mailOf(await getShipment(delivered.id), 'shipment_shipped')).toMatchObject({ status: 'suppressed', reason: 'already_delivered' });
  });

  it('lets a carrier that keeps changing the status delay a mail by at most ten holds', async () => {
    const order = await placeOrder('anna@example.de');
    const shipment = await ship(order.number);
    const registeredAt = clock.now().getTime();
    // An exception and its recovery every 100 s, for half an hour.
    for (let i = 0; i < 18; i++) {
      clock.advance(100_000);
      await event(shipment.id, i % 2 === 0 ? 'exception' : 'in_transit', 0);
    }
    const [held] = await sql(`SELECT next_attempt_at FROM deliveries WHERE idempotency_key = $1`, [`shipment_shipped:${shipment.id}`]);
    expect(held.next_attempt_at.getTime()).toBe(registeredAt + 10 * SETTLE_MS);
    // Past the cap now (the status is in_transit): the tracking mail goes; the problem mail, whose problem is over, does not.
    await drain();
    expect(mailsAbout(shipment.id).map((m) => m.parsed.subject)).toEqual([`Ihre Bestellung ${order.number} ist unterwegs`]);
    expect(mailOf(await getShipment(shipment.id), 'shipment_exception')).toMatchObject({ status: 'suppressed', reason: 'superseded' });
  });
});

describe('carrier webhook', () => {
  it('applies a signed event found by carrier and tracking number', async () => {
    const order = await placeOrder('anna@example.de');
    const shipment = await ship(order.number);
    const res = await webhook({ carrier: 'dhl', trackingNumber: shipment.trackingNumber, eventId: 'hook-1', status: 'in_transit', occurredAt: isoIn(-3) });
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ shipmentId: shipment.id, duplicate: false, previousStatus: 'created', status: 'in_transit', mailsQueued: [] });
    const byId = await webhook({ carrier: 'dhl', shipmentId: shipment.id, eventId: 'hook-2', status: 'out_for_delivery', occurredAt: isoIn(-1) });
    expect(byId.body).toMatchObject({ status: 'out_for_delivery', mailsQueued: ['shipment_out_for_delivery'] });
    expect((await getShipment(shipment.id)).events.map((e: any) => [e.eventId, e.source])).toEqual([
      ['hook-1', 'webhook'],
      ['hook-2', 'webhook'],
    ]);
  });

  it('refuses a bad signature, a stale timestamp and an unknown shipment with a clear 4xx, storing nothing', async () => {
    const order = await placeOrder('anna@example.de');
    const shipment = await ship(order.number);
    const body = { carrier: 'dhl', trackingNumber: shipment.trackingNumber, eventId: 'hook-bad', status: 'delivered', occurredAt: isoIn(-1) };
    const count = () => sql(`SELECT (SELECT count(*) FROM shipment_events)::int AS events, (SELECT count(*) FROM deliveries)::int AS mails`);
    const before = await count();

    const unsigned = await webhook(body, false);
    const forged = await webhook(body, { secret: 'another-secret-0123456789abcdef0123456789' });
    const stale = await webhook(body, { at: Math.floor(clock.now().getTime() / 1000) - 600 });
    for (const res of [unsigned, forged, stale]) {
      expect(res.status).toBe(401);
      expect(res.contentType).toContain('application/problem+json');
    }
    expect(stale.body.detail).toMatch(/timestamp outside/);
    expect(forged.body.detail).toMatch(/does not match/);

    const unknown = await webhook({ ...body, trackingNumber: 'NO-SUCH-PARCEL' });
    expect(unknown.status).toBe(422);
    expect(unknown.body.errors).toEqual([{ field: 'trackingNumber', message: 'matches no shipment of carrier dhl' }]);
    const wrongCarrier = await webhook({ ...body, carrier: 'ups', trackingNumber: undefined, shipmentId: shipment.id });
    expect(wrongCarrier.status).toBe(422);
    expect(wrongCarrier.body.errors).toEqual([expect.objectContaining({ field: 'carrier' })]);
    const nameless = await webhook({ ...body, trackingNumber: undefined });
    expect(nameless.status).toBe(400);
    expect(nameless.body.errors).toEqual([expect.objectContaining({ field: 'trackingNumber' })]);
    const badStatus = await webhook({ ...body, status: 'lost_in_space' });
    expect(badStatus.body.errors).toEqual([expect.objectContaining({ field: 'status' })]);
    const future = await webhook({ ...body, occurredAt: isoIn(60) });
    expect(future.body.errors).toEqual([{ field: 'occurredAt', message: 'lies in the future' }]);
    const unknownApi = await t.api('POST', '/v1/shipments/00000000-0000-4000-8000-000000000000/events', {
      body: { eventId: 'x', status: 'delivered', occurredAt: isoIn(-1) },
    });
    expect(unknownApi.status).toBe(404);

    expect(await count()).toEqual(before);
    expect((await getShipment(shipment.id)).status).toBe('created');
  });

  it('acknowledges a replayed event without changing anything, and refuses a reused id with other content (409)', async () => {
    const order = await placeOrder('anna@example.de');
    const shipment = await ship(order.number);
    const body = { carrier: 'dhl', trackingNumber: shipment.trackingNumber, eventId: 'hook-replay', status: 'out_for_delivery', occurredAt: isoIn(-2) };
    expect((await webhook(body)).body.mailsQueued).toEqual(['shipment_out_for_delivery']);
    const replay = await webhook(body);
    expect(replay.body).toMatchObject({ duplicate: true, status: 'out_for_delivery', mailsQueued: [] });
    const reused = await webhook({ ...body, status: 'delivered' });
    expect(reused.status).toBe(409);
    expect(reused.body.errors).toEqual([expect.objectContaining({ field: 'eventId' })]);
    expect((await getShipment(shipment.id)).status).toBe('out_for_delivery');
  });

  it('for any arrival order of repeated, replayed and late events: the state of the carrier order, at most one mail per kind, none after delivery', async () => {
    const statuses: CarrierStatus[] = ['label_created', 'in_transit', 'out_for_delivery', 'delivered', 'exception', 'returned'];
    let run = 0;
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.record({ status: fc.constantFrom(...statuses), minute: fc.integer({ min: -120, max: -1 }) }), { minLength: 1, maxLength: 6 }),
        fc.array(fc.record({ pick: fc.nat(), via: fc.constantFrom('webhook', 'api'), settleAfter: fc.boolean() }), { minLength: 1, maxLength: 12 }),
        async (raw, schedule) => {
          run += 1;
          const order = await placeOrder(`prop${run}@example.com`);
          const shipment = await ship(order.number);
          const events: CarrierEvent[] = raw.map((e, i) => ({
            eventId: `p${run}-${i}`,
            status: e.status,
            occurredAt: new Date(clock.now().getTime() + e.minute * MIN),
          }));
          // Every event arrives at least once, in shuffled order, some again (retries, replays).
          const arrivals = [
            ...schedule.map((s) => ({ ...s, event: events[s.pick % events.length] })),
            ...events.map((event) => ({ event, via: 'api', settleAfter: false })),
          ];
          let deliveredBeforeDrain = false;
          for (const arrival of arrivals) {
            const { event: e } = arrival;
            const res =
              arrival.via === 'webhook'
                ? await webhook({
                    carrier: 'dhl',
                    trackingNumber: shipment.trackingNumber,
                    eventId: e.eventId,
                    status: e.status,
                    occurredAt: e.occurredAt.toISOString(),
                  })
                : await t.api('POST', `/v1/shipments/${shipment.id}/events`, {
                    body: { eventId: e.eventId, status: e.status, occurredAt: e.occurredAt.toISOString() },
                  });
            expect(res.status).toBe(200);
            if (res.body.status === 'delivered') deliveredBeforeDrain = true;
            if (arrival.settleAfter) {
              const sentBefore = mailsAbout(shipment.id).length;
              await settle();
              // Once the delivery was recorded, no mail about this parcel is handed over any more.
              if (deliveredBeforeDrain) expect(mailsAbout(shipment.id)).toHaveLength(sentBefore);
            }
          }
          await settle();

          const expected = deriveShipmentState([...events].sort(compareEvents));
          const stored = await getShipment(shipment.id);
          expect(stored.status).toBe(expected.status);
          expect(stored.events).toHaveLength(events.length);
          const kinds = mailsAbout(shipment.id).map((m) => feedbackId(m).split(':')[1]);
          expect(kinds.length).toBe(new Set(kinds).size);
          // Every event within one hold: a parcel that ends delivered got no status mail at all.
          if (expected.status === 'delivered' && !schedule.some((s) => s.settleAfter)) expect(kinds).toEqual([]);
        },
      ),
      { numRuns: 25 },
    );
    // 25 runs of up to 18 HTTP events and settles each: seconds on an idle machine, more on a busy one.
  }, 180_000);
});

describe('with SHIPMENT_OUT_FOR_DELIVERY_MAIL=false', () => {
  let quiet: TestApp;
  let quietSink: SmtpSink;
  beforeAll(async () => {
    quietSink = await startSmtpSink();
    quiet = await startTestApp({ clock, env: { SMTP_URL: quietSink.url, SHIPMENT_OUT_FOR_DELIVERY_MAIL: 'false' } });
  });
  afterAll(async () => {
    await quiet.close();
    await quietSink.close();
  });

  it('queues no out-for-delivery mail, and the tracking mail still brings the link', async () => {
    const items = [{ sku: 'MUG', name: 'Mug', quantity: 1 }];
    expect(
      (await quiet.api('POST', '/v1/orders', { body: { number: 'Q-1', email: 'quiet@example.com', items, placedAt: isoIn(-60), locale: 'en' } })).status,
    ).toBe(201);
    const shipment = await quiet.api('POST', '/v1/shipments', {
      body: { orderNumber: 'Q-1', carrier: 'dhl-express', trackingNumber: 'Q1', trackingUrl: 'https://track.example.com/q1' },
    });
    const out = await quiet.api('POST', `/v1/shipments/${shipment.body.id}/events`, {
      body: { eventId: 'q-1', status: 'out_for_delivery', occurredAt: isoIn(-1) },
    });
    expect(out.body).toMatchObject({ status: 'out_for_delivery', mailsQueued: [] });
    clock.advance(SETTLE_MS + 1000);
    await quiet.app.get(DeliveryWorker).drain();
    // Both mails are due by now and one drain sends them side by side, so their arrival order is the relay's.
    const subjects = quietSink.messages.map((m) => m.parsed.subject).sort();
    expect(subjects).toEqual(['Your order Q-1 is on its way', 'Your order Q-1 with Tactful']);
    const tracking = quietSink.messages.find((m) => m.parsed.subject === 'Your order Q-1 is on its way');
    expect(tracking?.parsed.text).toContain('DHL Express is bringing you this parcel');
  });
});
