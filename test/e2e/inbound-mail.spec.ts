// The mail loop closed over real SMTP: a campaign goes out through the SMTP sink; what the mail
// world sends back (a Postfix DSN, a Yahoo ARF complaint, a mail client's List-Unsubscribe mail,
// soft bounces) reaches Tactful's inbound receiver over SMTP, from a sending MTA (a raw SMTP
// client, nodemailer for the mail client), and the people it is about are bounced, complained or
// unsubscribed, their queued mail suppressed, and the timeline says why.
import { join } from 'node:path';
import { createTransport } from 'nodemailer';
import { Db } from '../../src/database/sql';
import { CampaignDispatchService } from '../../src/campaigns/campaign-dispatch.service';
import { FakeClock } from '../../src/common/clock';
import { DeliveryKinds, subscriberGate } from '../../src/delivery/delivery-kinds';
import { DeliveryReferences } from '../../src/delivery/delivery-reference';
import { DeliveryWorker } from '../../src/delivery/delivery-worker';
import { OutboxService } from '../../src/delivery/outbox.service';
import { VerpCodec } from '../../src/delivery/verp';
import { InboundSmtpReceiver } from '../../src/mail-events/inbound-smtp';
import { TokenService } from '../../src/links/tokens';
import { startTestApp, TestApp, TEST_SECRETS } from '../support/app';
import { mailFixture, sendRawMail } from '../support/inbound-mail';
import { createCampaign, createTopics, importConfirmed } from '../support/seed';
import { SinkMessage, startSmtpSink, SmtpSink } from '../support/smtp-sink';

const BOUNCE_DOMAIN = 'bounce.tactful-shop.example';
const clock = new FakeClock('2026-03-02T09:00:00Z'); // Monday, 10:00 in Berlin
const references = new DeliveryReferences([TEST_SECRETS.TOKEN_SECRET]);
const verp = new VerpCodec([TEST_SECRETS.TOKEN_SECRET], BOUNCE_DOMAIN);

let t: TestApp;
let sink: SmtpSink;
let port: number;
let ids: Map<string, string>;
const received = new Map<string, SinkMessage>();

const headerOf = (mail: SinkMessage, name: string): string => {
  const head = mail.raw.split('\r\n\r\n')[0].replace(/\r\n[ \t]+/g, ' ');
  return new RegExp(`^${name}: (.*)$`, 'mi').exec(head)?.[1] ?? '';
};

/** The returned mail, as a bounce quotes it: its VERP envelope sender, Message-ID and delivery reference. */
async function quoted(mail: SinkMessage) {
  const reference = headerOf(mail, 'X-Tactful-Delivery');
  const deliveryId = references.decode(reference)!;
  const [row] = await t.sql(`SELECT created_at FROM deliveries WHERE id = $1`, [deliveryId]);
  // The worker's envelope sender once VERP is on; the same address computed from the row until then.
  const envelope = mail.envelope.mailFrom.startsWith('bounces+') ? mail.envelope.mailFrom : verp.address({ deliveryId, createdAt: row.created_at });
  return {
    deliveryId,
    VERP: envelope,
    MESSAGE_ID: headerOf(mail, 'Message-ID'),
    REFERENCE: reference,
    RECIPIENT: mail.envelope.rcptTo[0],
    FROM: headerOf(mail, 'From'),
  };
}

/** Mail for later (a retry an hour from now): must be suppressed at once by a bounce or complaint. */
async function queueForLater(emails: string[]): Promise<void> {
  await t.app.get(Db).transaction((tx) =>
    t.app.get(OutboxService).enqueueForSubscribers(tx, {
      subscriberIds: emails.map((e) => ids.get(e)!),
      class: 'service',
      kind: 'inbound_test_service',
      keyPrefix: `later:${clock.now().getTime()}:`,
      at: new Date(clock.now().getTime() + 3_600_000),
    }),
  );
}

const statusOf = async (email: string) => (await t.sql(`SELECT status FROM subscribers WHERE id = $1`, [ids.get(email)]))[0].status;
const laterMail = async (email: string) =>
  (await t.sql(`SELECT status, reason FROM deliveries WHERE subscriber_id = $1 AND kind = 'inbound_test_service' ORDER BY id`, [ids.get(email)])).map(
    (r) => `${r.status}:${r.reason}`,
  );

beforeAll(async () => {
  sink = await startSmtpSink();
  t = await startTestApp({
    clock,
    env: {
      SMTP_URL: sink.url,
      BOUNCE_DOMAIN,
      INBOUND_SMTP_ENABLED: 'true',
      INBOUND_SMTP_PORT: '0',
      INBOUND_SMTP_HOST: '127.0.0.1',
      INBOUND_SMTP_MAX_BYTES: String(256 * 1024),
      SOFT_BOUNCE_LIMIT: '3',
      SOFT_BOUNCE_DAYS: '30',
    },
  });
  port = t.app.get(InboundSmtpReceiver).port!;
  t.app.get(DeliveryKinds).register({
    kind: 'inbound_test_service',
    gate: (tx, delivery) => subscriberGate(tx, delivery),
    compose: async () => ({
      template: 'order-confirmation',
      data: { orderNumber: 'A-1001', placedOn: '2. März 2026', items: [{ name: 'Messekatalog', quantity: 1 }] },
    }),
  });
  await createTopics(t, ['fairs']);
  ids = await importConfirmed(
    t,
    ['anna', 'ben', 'cara', 'dora', 'emil'].map((name) => ({ email: `${name}@recipient.example`, locale: 'de' as const, topics: ['fairs'] })),
  );
  const campaign = await createCampaign(t, { topic: 'fairs', subject: { de: 'Neues zur Messe', en: 'Fair news' } });
  expect((await t.api('POST', `/v1/campaigns/${campaign}/schedule`, { body: {} })).status).toBe(200);
  await t.app.get(CampaignDispatchService).dispatchDue();
  await t.app.get(DeliveryWorker).drain();
  for (const mail of await sink.waitFor(5)) received.set(mail.envelope.rcptTo[0], mail);
  await queueForLater(['anna@recipient.example', 'ben@recipient.example', 'cara@recipient.example']);
});

afterAll(async () => {
  await t?.close();
  await sink?.close();
});

describe('the inbound SMTP receiver', () => {
  it('refuses at RCPT time, with 550, every address that is no bounce or unsubscribe address of ours', async () => {
    const anna = await quoted(received.get('anna@recipient.example')!);
    const forged = anna.VERP.replace(/\+([0-9a-f])/, (_, c: string) => `+${c === 'a' ? 'b' : 'a'}`);
    const replies = await sendRawMail(port, {
      to: ['postmaster@' + BOUNCE_DOMAIN, forged, 'anna@recipient.example'],
      data: mailFixture('postfix-hard-bounce.eml', anna),
    });
    expect(replies.rcpt).toEqual([550, 550, 550]);
    expect(replies.final).toBeNull();
    expect(await statusOf('anna@recipient.example')).toBe('active');
    expect(await t.sql(`SELECT * FROM mail_events`)).toEqual([]);
  });

  it('bounces the person a Postfix DSN to the VERP address is about, suppresses their queued mail, and the timeline says why', async () => {
    const anna = await quoted(received.get('anna@recipient.example')!);
    const replies = await sendRawMail(port, { to: [anna.VERP], data: mailFixture('postfix-hard-bounce.eml', anna) });
    expect(replies.rcpt).toEqual([250]);
    expect(replies.final).toBe(250);

    expect(await statusOf('anna@recipient.example')).toBe('bounced');
    expect(await statusOf('ben@recipient.example')).toBe('active');
    // Made due at once: the worker's gate suppresses it now, not in an hour.
    await t.app.get(DeliveryWorker).drain();
    expect(await laterMail('anna@recipient.example')).toEqual(['suppressed:suppressed_bounced']);
    expect(await laterMail('ben@recipient.example')).toEqual(['queued:queued']);

    const timeline = (await t.api('GET', `/v1/subscribers/${ids.get('anna@recipient.example')}/timeline`)).body;
    expect(timeline.noMarketingBecause).toBe('bounced');
    expect(timeline.mailEvents).toEqual([
      expect.objectContaining({
        kind: 'hard_bounce',
        source: 'smtp-dsn',
        outcome: 'bounced',
        deliveryId: anna.deliveryId,
        messageId: anna.MESSAGE_ID,
        statusCode: '5.1.1',
      }),
    ]);
    expect(timeline.mailEvents[0].diagnostic).toMatch(/^smtp; 550 5\.1\.1 <\[email\]>: Recipient address rejected: User unknown in virtual mailbox table$/);
    expect(timeline.items.find((i: any) => i.kind === 'inbound_test_service')).toMatchObject({ status: 'suppressed', reason: 'suppressed_bounced' });

    // The MTA did not see our 250 and delivers the same DSN again: nothing more happens.
    expect((await sendRawMail(port, { to: [anna.VERP], data: mailFixture('postfix-hard-bounce.eml', anna) })).final).toBe(250);
    expect(await t.sql(`SELECT count(*)::int AS n FROM mail_events WHERE subscriber_id = $1`, [ids.get('anna@recipient.example')])).toEqual([{ n: 1 }]);
  });

  it('marks the person a Yahoo ARF complaint is about as complained, revokes their topics, and suppresses queued service mail', async () => {
    const ben = await quoted(received.get('ben@recipient.example')!);
    const replies = await sendRawMail(port, { from: 'feedback@arf.mail.yahoo.com', to: [`bounces@${BOUNCE_DOMAIN}`], data: mailFixture('yahoo-arf.eml', ben) });
    expect(replies.final).toBe(250);
    expect(await statusOf('ben@recipient.example')).toBe('complained');
    expect(await t.sql(`SELECT status, revocation_source FROM topic_subscriptions WHERE subscriber_id = $1`, [ids.get('ben@recipient.example')])).toEqual([
      { status: 'revoked', revocation_source: 'mail_provider' },
    ]);
    await t.app.get(DeliveryWorker).drain();
    expect(await laterMail('ben@recipient.example')).toEqual(['suppressed:suppressed_complained']);
    const timeline = (await t.api('GET', `/v1/subscribers/${ids.get('ben@recipient.example')}/timeline`)).body;
    expect(timeline.mailEvents).toEqual([
      expect.objectContaining({
        kind: 'complaint',
        source: 'arf',
        outcome: 'complained',
        deliveryId: ben.deliveryId,
        messageId: ben.MESSAGE_ID,
        statusCode: 'abuse',
      }),
    ]);
  });

  it('unsubscribes within seconds whoever writes to the mailto of a received message’s List-Unsubscribe header (source mail)', async () => {
    const mail = received.get('cara@recipient.example')!;
    const mailto = /<(mailto:[^>]+)>/.exec(headerOf(mail, 'List-Unsubscribe'))![1];
    const url = new URL(mailto);
    const client = createTransport({ host: '127.0.0.1', port, secure: false, ignoreTLS: true });
    const info = await client.sendMail({
      from: 'cara@recipient.example',
      to: url.pathname,
      subject: url.searchParams.get('subject')!,
      text: 'Bitte abmelden.',
    });
    client.close();
    expect(info.accepted).toEqual([url.pathname]);
    expect(await statusOf('cara@recipient.example')).toBe('unsubscribed');
    expect(await t.sql(`SELECT status, revocation_source FROM topic_subscriptions WHERE subscriber_id = $1`, [ids.get('cara@recipient.example')])).toEqual([
      { status: 'revoked', revocation_source: 'mail' },
    ]);
    // An unsubscribe stops marketing only: service mail (the order's) still goes.
    await t.app.get(DeliveryWorker).drain();
    const timeline = (await t.api('GET', `/v1/subscribers/${ids.get('cara@recipient.example')}/timeline`)).body;
    expect(timeline.noMarketingBecause).toBe('unsubscribed');
    expect(timeline.mailEvents).toEqual([expect.objectContaining({ kind: 'unsubscribe', source: 'mailto', outcome: 'unsubscribed' })]);
  });

  it('counts soft bounces and bounces the address at SOFT_BOUNCE_LIMIT (3) distinct mails within SOFT_BOUNCE_DAYS; a delay only notes', async () => {
    const email = 'dora@recipient.example';
    const first = await quoted(received.get(email)!);
    // Two more mails to dora, each soft-bouncing later.
    const more: SinkMessage[] = [];
    for (let i = 0; i < 2; i++) {
      sink.clear();
      await t.app.get(Db).transaction((tx) =>
        t.app.get(OutboxService).enqueueForSubscribers(tx, {
          subscriberIds: [ids.get(email)!],
          class: 'service',
          kind: 'inbound_test_service',
          keyPrefix: `soft:${i}:`,
          at: clock.now(),
        }),
      );
      await t.app.get(DeliveryWorker).drain();
      more.push(...(await sink.waitFor(1)));
    }
    const mails = [first, await quoted(more[0]), await quoted(more[1])];
    // Each report has its own Message-ID, as each DSN an MTA writes does.
    let reports = 0;
    const soft = async (m: Awaited<ReturnType<typeof quoted>>) => {
      const data = mailFixture('postfix-soft-bounce.eml', m).toString().replace('<20261202094000.8A7F21C0D5@', `<20261202094000.8A7F21C0D${reports++}@`);
      return (await sendRawMail(port, { to: [m.VERP], data: Buffer.from(data) })).final;
    };

    expect(await sendRawMail(port, { to: [mails[0].VERP], data: mailFixture('exim-delayed.eml', mails[0]) }).then((r) => r.final)).toBe(250);
    expect(await soft(mails[0])).toBe(250);
    // Another report about the same mail (a second DSN for it) is evidence, but the mail counts once.
    expect(await soft(mails[0])).toBe(250);
    expect(await soft(mails[1])).toBe(250);
    expect(await statusOf(email)).toBe('active');
    expect(await soft(mails[2])).toBe(250);
    expect(await statusOf(email)).toBe('bounced');

    const timeline = (await t.api('GET', `/v1/subscribers/${ids.get(email)}/timeline`)).body;
    expect(timeline.mailEvents.map((e: any) => `${e.kind}:${e.outcome}:${e.statusCode}`)).toEqual([
      'soft_bounce:bounced:4.2.2',
      'soft_bounce:counted:4.2.2',
      'soft_bounce:counted:4.2.2',
      'soft_bounce:counted:4.2.2',
      'delayed:noted:4.0.0',
    ]);
  });

  it('takes a mail without a report or a token and changes nothing; refuses a message over INBOUND_SMTP_MAX_BYTES with 552', async () => {
    const emil = await quoted(received.get('emil@recipient.example')!);
    const autoReply = Buffer.from(
      `From: emil@recipient.example\r\nTo: ${emil.VERP}\r\nSubject: Out of office\r\nAuto-Submitted: auto-replied\r\n\r\nI am away.\r\n`,
    );
    expect((await sendRawMail(port, { from: 'emil@recipient.example', to: [emil.VERP], data: autoReply })).final).toBe(250);
    const huge = Buffer.concat([mailFixture('postfix-hard-bounce.eml', emil), Buffer.from('x'.repeat(300 * 1024) + '\r\n')]);
    expect((await sendRawMail(port, { to: [emil.VERP], data: huge })).final).toBe(552);
    expect(await statusOf('emil@recipient.example')).toBe('active');
  });
});

describe('the inbound SMTP receiver with STARTTLS', () => {
  it('offers STARTTLS with INBOUND_SMTP_TLS_KEY and _CERT, and takes mail over the upgraded connection', async () => {
    const fixtures = join(__dirname, '..', 'fixtures', 'providers');
    const tls = await startTestApp({
      clock,
      env: {
        INBOUND_SMTP_ENABLED: 'true',
        INBOUND_SMTP_PORT: '0',
        INBOUND_SMTP_HOST: '127.0.0.1',
        INBOUND_SMTP_TLS_KEY: join(fixtures, 'sns-test-signing.key'),
        INBOUND_SMTP_TLS_CERT: join(fixtures, 'sns-test-signing.pem'),
      },
    });
    try {
      await createTopics(tls, ['fairs']);
      const id = (await importConfirmed(tls, [{ email: 'tina@recipient.example', topics: ['fairs'] }])).get('tina@recipient.example')!;
      const token = tls.app.get(TokenService).sign('unsubscribe', id);
      // requireTLS: nodemailer gives up unless the server offers STARTTLS and the upgrade succeeds.
      const client = createTransport({
        host: '127.0.0.1',
        port: tls.app.get(InboundSmtpReceiver).port!,
        secure: false,
        requireTLS: true,
        tls: { rejectUnauthorized: false },
      });
      const info = await client.sendMail({
        from: 'tina@recipient.example',
        to: 'unsubscribe@tactful.localhost',
        subject: `unsubscribe-${token}`,
        text: 'Bitte abmelden.',
      });
      client.close();
      expect(info.accepted).toEqual(['unsubscribe@tactful.localhost']);
      expect((await tls.sql(`SELECT status FROM subscribers WHERE id = $1`, [id]))[0].status).toBe('unsubscribed');
    } finally {
      await tls.close();
    }
  });
});
