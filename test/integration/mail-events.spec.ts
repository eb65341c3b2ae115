// MailEventsService against the real PostgreSQL with a travelling clock: the Message-ID lookup
// uses its index (never a scan of the decision log), the soft-bounce window slides, an address
// without a subscriber is remembered as a hash, a replayed event changes nothing.
import { FakeClock } from '../../src/common/clock';
import { MailEventsService } from '../../src/mail-events/mail-events.service';
import { emailHash } from '../../src/addresses/email';
import { startTestApp, TestApp } from '../support/app';
import { seqScannedMonths } from '../support/database';
import { createTopics, importConfirmed } from '../support/seed';

const clock = new FakeClock('2026-03-02T09:00:00Z');
let t: TestApp;
let events: MailEventsService;
const DAY = 86_400_000;

beforeAll(async () => {
  t = await startTestApp({ clock, env: { SOFT_BOUNCE_LIMIT: '2', SOFT_BOUNCE_DAYS: '30' } });
  events = t.app.get(MailEventsService);
  await createTopics(t, ['fairs']);
});
afterAll(() => t?.close());

/** Order mail to an address without a subscriber, already sent, with its Message-ID. */
async function sentOrderMail(address: string, messageId: string): Promise<string> {
  const [row] = await t.sql(
    `INSERT INTO deliveries (to_address, class, kind, locale, status, reason, idempotency_key, next_attempt_at, sent_at, message_id, created_at, updated_at)
     VALUES ($1, 'transactional', 'order_confirmation', 'de', 'sent', 'sent', $2, $3, $3, $4, $3, $3) RETURNING id::text`,
    [address, `order:${messageId}`, clock.now(), messageId],
  );
  return row.id;
}

it('finds a mail by its Message-ID through the message_id index of each month, not by scanning the decision log', async () => {
  await t.sql(
    `INSERT INTO deliveries (to_address, class, kind, locale, status, reason, idempotency_key, next_attempt_at, sent_at, message_id, created_at, updated_at)
     SELECT 'o' || i || '@shop.example', 'transactional', 'order_confirmation', 'de', 'sent', 'sent', 'bulk:' || i, now(), now(),
            '<' || md5(i::text) || '@tactful.localhost>', now(), now()
     FROM generate_series(1, 20000) i`,
  );
  await t.sql(`ANALYZE deliveries`);
  const lookup = `SELECT d.id FROM deliveries d WHERE d.message_id = $1 ORDER BY d.id DESC LIMIT 1`;
  const text = (await t.sql(`EXPLAIN ${lookup}`, ['<x@tactful.localhost>'])).map((r) => r['QUERY PLAN']).join('\n');
  expect(text).toMatch(/Index (Only )?Scan using deliveries_\w*message_id_idx|Bitmap Index Scan on deliveries_\w*message_id_idx/);
  const [{ 'QUERY PLAN': plan }] = await t.sql(`EXPLAIN (FORMAT JSON) ${lookup}`, ['<x@tactful.localhost>']);
  expect(await seqScannedMonths(t.sql, plan[0].Plan)).toEqual([]);
});

it('remembers a hard-bounced address without a subscriber as a hash, found by the Message-ID alone', async () => {
  const id = await sentOrderMail('kunde@shop-customer.example', '<order-1@tactful.localhost>');
  const result = await events.record({ source: 'webhook', kind: 'hard_bounce', messageId: 'order-1@tactful.localhost', statusCode: '5.1.1' });
  expect(result).toMatchObject({ outcome: 'bounced', subscriberFound: false, deliveryId: id });
  expect(await t.sql(`SELECT reason FROM bounced_addresses WHERE email_hash = $1`, [emailHash('kunde@shop-customer.example')])).toEqual([
    { reason: 'bounced' },
  ]);
  const [evidence] = await t.sql(`SELECT subscriber_id, delivery_id::text, message_id, email_hash FROM mail_events WHERE delivery_id = $1`, [id]);
  expect(evidence).toEqual({
    subscriber_id: null,
    delivery_id: id,
    message_id: '<order-1@tactful.localhost>',
    email_hash: emailHash('kunde@shop-customer.example'),
  });
});

it('counts soft bounces within SOFT_BOUNCE_DAYS only: one that slid out of the window no longer counts', async () => {
  const ids = await importConfirmed(t, [{ email: 'sofia@recipient.example', topics: ['fairs'] }]);
  const soft = (n: number) =>
    events.record({
      source: 'smtp-dsn',
      kind: 'soft_bounce',
      recipient: 'sofia@recipient.example',
      messageId: `<soft-${n}@tactful.localhost>`,
      statusCode: '4.2.2',
    });
  expect((await soft(1)).outcome).toBe('counted');
  clock.advance(31 * DAY);
  expect((await soft(2)).outcome).toBe('counted'); // the first is 31 days old: one in the window
  clock.advance(10 * DAY);
  expect((await soft(3)).outcome).toBe('bounced'); // two within 30 days
  expect((await t.sql(`SELECT status FROM subscribers WHERE id = $1`, [ids.get('sofia@recipient.example')]))[0].status).toBe('bounced');
});

it('changes nothing for a replayed event, and nothing for an event about nobody it knows', async () => {
  await importConfirmed(t, [{ email: 'rolf@recipient.example', topics: ['fairs'] }]);
  const complaint = {
    source: 'sendgrid' as const,
    kind: 'complaint' as const,
    recipient: 'rolf@recipient.example',
    replayKey: { source: 'sendgrid', id: 'evt-1' },
  };
  expect(await events.record(complaint)).toMatchObject({ duplicate: false, outcome: 'complained' });
  await t.sql(`UPDATE subscribers SET status = 'active' WHERE email = 'rolf@recipient.example'`);
  expect(await events.record(complaint)).toMatchObject({ duplicate: true, outcome: 'none' });
  expect((await t.sql(`SELECT status FROM subscribers WHERE email = 'rolf@recipient.example'`))[0].status).toBe('active');
  expect(await events.record({ source: 'smtp-dsn', kind: 'hard_bounce', messageId: '<unknown@elsewhere.example>' })).toMatchObject({
    outcome: 'none',
    subscriberFound: false,
  });
});
