// The mail providers' webhooks, with each provider's documented sample payloads, signed as the
// provider signs them: a valid signature acts; a forged, stale or replayed one changes nothing.
// SES's SNS signature is made with a locally generated certificate, served by a local server that
// SNS_TEST_HOSTS allows (tests only); SendGrid's with a locally generated P-256 key.
import { createHmac, createSign, generateKeyPairSync, randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createServer, Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { FakeClock } from '../../src/common/clock';
import { snsStringToSign } from '../../src/mail-events/providers/provider-events';
import { startTestApp, TestApp } from '../support/app';
import { createTopics, importConfirmed } from '../support/seed';

const FIXTURES = join(__dirname, '..', 'fixtures', 'providers');
const fixture = (name: string): any => JSON.parse(readFileSync(join(FIXTURES, name), 'utf8'));
const TOPIC = 'arn:aws:sns:us-west-2:123456789012:MyTopic';
const CERT_PATH = '/SimpleNotificationService-f3ecfb7224c7233fe7bb5f59f96de52f.pem';
const SNS_KEY = readFileSync(join(FIXTURES, 'sns-test-signing.key'), 'utf8');
const SNS_CERT = readFileSync(join(FIXTURES, 'sns-test-signing.pem'), 'utf8');
const POSTMARK = { user: 'tactful-postmark', password: 'postmark-webhook-secret-0123' };
const MAILGUN_KEY = 'key-3ax6xnjp29jd6fds4gc373sgvjxteol0';
const sendgrid = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });

const clock = new FakeClock('2026-03-02T09:00:00Z');
let t: TestApp;
let certServer: Server;
let certHost: string;
const certServerHits: string[] = [];
let ids: Map<string, string>;

const PEOPLE = [
  'ses-hard',
  'ses-soft',
  'ses-complaint',
  'sg-hard',
  'sg-blocked',
  'sg-spam',
  'sg-unsub',
  'sg-group',
  'sg-deferred',
  'pm-hard',
  'pm-spam',
  'pm-unsub',
  'mg-hard',
  'mg-soft',
  'mg-spam',
  'mg-unsub',
  'forged',
];
const email = (name: string) => `${name}@recipient.example`;
const statusOf = async (name: string) => (await t.sql(`SELECT status FROM subscribers WHERE email = $1`, [email(name)]))[0].status;
const eventsOf = async (name: string) => (await t.api('GET', `/v1/subscribers/${ids.get(email(name))}/timeline`)).body.mailEvents;
const counts = async () =>
  (
    await t.sql(`SELECT (SELECT count(*) FROM mail_events)::int AS events, (SELECT count(*) FROM webhook_events)::int AS keys,
  (SELECT count(*) FROM subscribers WHERE status <> 'active')::int AS blocked`)
  )[0];

async function post(path: string, body: string, headers: Record<string, string> = {}) {
  const response = await fetch(`${t.baseUrl}${path}`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body });
  const text = await response.text();
  return { status: response.status, type: response.headers.get('content-type') ?? '', body: text ? JSON.parse(text) : null };
}

/** Replaces every string equal to `from` anywhere in the document. */
function replaced(value: any, from: string, to: string): any {
  if (typeof value === 'string') return value === from ? to : value.split(from).join(to);
  if (Array.isArray(value)) return value.map((v) => replaced(v, from, to));
  if (value && typeof value === 'object') return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, replaced(v, from, to)]));
  return value;
}

// ---- SNS ---------------------------------------------------------------------------------------

function signSns(message: Record<string, unknown>, version: '1' | '2' = '1', key: string = SNS_KEY): Record<string, unknown> {
  const signed = { ...message, SignatureVersion: version };
  const signature = createSign(version === '1' ? 'RSA-SHA1' : 'RSA-SHA256')
    .update(snsStringToSign(signed)!)
    .sign(key, 'base64');
  return { ...signed, Signature: signature };
}

function snsNotification(sesFixture: string, recipientInFixture: string, name: string, overrides: Record<string, unknown> = {}) {
  const ses = replaced(fixture(sesFixture), recipientInFixture, email(name));
  return {
    ...fixture('sns-notification.json'),
    MessageId: `sns-${name}-${randomBytes(4).toString('hex')}`,
    Subject: 'Amazon SES Email Event Notification',
    Message: JSON.stringify(ses),
    Timestamp: clock.now().toISOString(),
    SigningCertURL: `http://${certHost}${CERT_PATH}`,
    ...overrides,
  };
}

const postSns = (message: Record<string, unknown>) =>
  post('/webhooks/mail-events/ses', JSON.stringify(message), { 'content-type': 'text/plain; charset=UTF-8', 'x-amz-sns-message-type': String(message.Type) });

// ---- SendGrid, Postmark, Mailgun ---------------------------------------------------------------

function signSendgrid(body: string, timestamp = Math.floor(clock.now().getTime() / 1000)) {
  const signature = createSign('sha256').update(`${timestamp}${body}`).sign(sendgrid.privateKey, 'base64');
  return { 'x-twilio-email-event-webhook-signature': signature, 'x-twilio-email-event-webhook-timestamp': String(timestamp) };
}

const basic = (user: string, password: string) => ({ authorization: `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}` });

function mailgunBody(file: string, name: string, options: { timestamp?: number; token?: string; key?: string } = {}) {
  const doc = replaced(fixture(file), 'alice@example.com', email(name));
  const timestamp = String(options.timestamp ?? Math.floor(clock.now().getTime() / 1000));
  const token = options.token ?? randomBytes(25).toString('hex');
  doc.signature = {
    timestamp,
    token,
    signature: createHmac('sha256', options.key ?? MAILGUN_KEY)
      .update(timestamp + token)
      .digest('hex'),
  };
  doc['event-data'].timestamp = Number(timestamp);
  return doc;
}

beforeAll(async () => {
  certServer = createServer((request, response) => {
    certServerHits.push(request.url ?? '');
    if (request.url === CERT_PATH) response.end(SNS_CERT);
    else response.end('<ConfirmSubscriptionResponse xmlns="http://sns.amazonaws.com/doc/2010-03-31/"/>');
  });
  await new Promise<void>((resolve) => certServer.listen(0, '127.0.0.1', resolve));
  certHost = `127.0.0.1:${(certServer.address() as AddressInfo).port}`;
  t = await startTestApp({
    clock,
    env: {
      SES_SNS_TOPIC_ARNS: TOPIC,
      SNS_TEST_HOSTS: certHost,
      SENDGRID_WEBHOOK_PUBLIC_KEY: sendgrid.publicKey.export({ format: 'der', type: 'spki' }).toString('base64'),
      POSTMARK_WEBHOOK_USER: POSTMARK.user,
      POSTMARK_WEBHOOK_PASSWORD: POSTMARK.password,
      MAILGUN_WEBHOOK_SIGNING_KEY: MAILGUN_KEY,
      SOFT_BOUNCE_LIMIT: '5',
    },
  });
  await createTopics(t, ['fairs']);
  ids = await importConfirmed(
    t,
    PEOPLE.map((name) => ({ email: email(name), topics: ['fairs'] })),
  );
});

afterAll(async () => {
  await t?.close();
  await new Promise((resolve) => certServer?.close(resolve));
});

describe('Amazon SES via SNS', () => {
  it('confirms a signed SubscriptionConfirmation by visiting its SubscribeURL, and never one on a host that is not SNS', async () => {
    const sample = fixture('sns-subscription-confirmation.json');
    const subscribe = `http://${certHost}/?Action=ConfirmSubscription&TopicArn=${TOPIC}&Token=${sample.Token}`;
    const confirmation = signSns({
      ...sample,
      SubscribeURL: subscribe,
      SigningCertURL: `http://${certHost}${CERT_PATH}`,
      Timestamp: clock.now().toISOString(),
    });
    const response = await postSns(confirmation);
    expect(response).toMatchObject({ status: 200, body: { subscriptionConfirmed: true } });
    expect(certServerHits).toContain(`/?Action=ConfirmSubscription&TopicArn=${TOPIC}&Token=${sample.Token}`);

    certServerHits.length = 0;
    const elsewhere = signSns({
      ...confirmation,
      SubscribeURL: sample.SubscribeURL.replace('sns.us-west-2.amazonaws.com', 'sns.us-west-2.amazonaws.com.evil.example'),
    });
    expect((await postSns(elsewhere)).status).toBe(401);
    expect(certServerHits.filter((hit) => hit.startsWith('/?Action'))).toEqual([]);
  });

  it('bounces on a Permanent bounce (SignatureVersion 1), counts a Transient one, complains on a Complaint (SignatureVersion 2)', async () => {
    const hard = await postSns(signSns(snsNotification('ses-bounce-permanent.json', 'jane@example.com', 'ses-hard')));
    expect(hard).toMatchObject({ status: 200, body: { received: 1, applied: 1, duplicates: 0 } });
    expect(await statusOf('ses-hard')).toBe('bounced');
    expect(await eventsOf('ses-hard')).toEqual([
      expect.objectContaining({ kind: 'hard_bounce', source: 'ses', outcome: 'bounced', statusCode: '5.1.1', diagnostic: 'smtp; 550 5.1.1 <[email]>... User' }),
    ]);

    expect((await postSns(signSns(snsNotification('ses-bounce-transient.json', 'jane@example.com', 'ses-soft')))).body).toMatchObject({ applied: 1 });
    expect(await statusOf('ses-soft')).toBe('active');
    expect(await eventsOf('ses-soft')).toEqual([expect.objectContaining({ kind: 'soft_bounce', outcome: 'counted', statusCode: '4.2.2' })]);

    expect((await postSns(signSns(snsNotification('ses-complaint.json', 'richard@example.com', 'ses-complaint'), '2'))).status).toBe(200);
    expect(await statusOf('ses-complaint')).toBe('complained');
    expect(await eventsOf('ses-complaint')).toEqual([
      expect.objectContaining({ kind: 'complaint', source: 'ses', outcome: 'complained', statusCode: 'abuse' }),
    ]);
  });

  it('changes nothing for a forged, stale or replayed message, a certificate off SNS, or a topic that is not ours', async () => {
    const message = signSns(snsNotification('ses-bounce-permanent.json', 'jane@example.com', 'forged'));
    expect((await postSns(message)).status).toBe(200);
    await t.sql(`UPDATE subscribers SET status = 'active' WHERE email = $1`, [email('forged')]);
    const before = await counts();

    const attacker = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ format: 'pem', type: 'pkcs8' }).toString();
    const cases: [string, Record<string, unknown>, number][] = [
      ['replayed (same MessageId)', message, 200],
      ['signed by another key', signSns(snsNotification('ses-bounce-permanent.json', 'jane@example.com', 'forged'), '1', attacker), 401],
      ['altered after signing', { ...signSns(snsNotification('ses-bounce-permanent.json', 'jane@example.com', 'forged')), Subject: 'changed' }, 401],
      [
        'stale (8 days old)',
        signSns(
          snsNotification('ses-bounce-permanent.json', 'jane@example.com', 'forged', {
            Timestamp: new Date(clock.now().getTime() - 8 * 86_400_000).toISOString(),
          }),
        ),
        401,
      ],
      [
        'certificate on another host',
        signSns(
          snsNotification('ses-bounce-permanent.json', 'jane@example.com', 'forged', {
            SigningCertURL: `https://sns.us-west-2.amazonaws.com.evil.example${CERT_PATH}`,
          }),
        ),
        401,
      ],
      [
        'certificate over http from an SNS host',
        signSns(
          snsNotification('ses-bounce-permanent.json', 'jane@example.com', 'forged', { SigningCertURL: `http://sns.us-west-2.amazonaws.com${CERT_PATH}` }),
        ),
        401,
      ],
      [
        'another topic',
        signSns(snsNotification('ses-bounce-permanent.json', 'jane@example.com', 'forged', { TopicArn: 'arn:aws:sns:us-west-2:999999999999:NotOurs' })),
        403,
      ],
    ];
    for (const [label, body, status] of cases) {
      const response = await postSns(body);
      expect(`${label}: ${response.status}`).toBe(`${label}: ${status}`);
      if (status >= 400) expect(response.type).toMatch(/^application\/problem\+json/);
      else expect(response.body).toMatchObject({ duplicates: 1, applied: 0 });
    }
    expect(await counts()).toEqual(before);
    expect(await statusOf('forged')).toBe('active');
    // The certificate was fetched once, for the first message, and read from the cache since.
    expect(certServerHits.filter((hit) => hit === CERT_PATH)).toEqual([]);
  });
});

describe('SendGrid Event Webhook', () => {
  const batch = () => {
    const people = ['sg-deferred', 'sg-deferred', 'sg-hard', 'sg-blocked', 'sg-hard', 'sg-spam', 'sg-unsub', 'sg-group'];
    return fixture('sendgrid-events.json').map((e: any, i: number) => ({ ...e, email: email(people[i]), timestamp: Math.floor(clock.now().getTime() / 1000) }));
  };

  it('applies a signed batch: bounce hard, blocked soft, deferred noted, spamreport complained, unsubscribes; ignores the rest', async () => {
    const body = JSON.stringify(batch());
    const response = await post('/webhooks/mail-events/sendgrid', body, signSendgrid(body));
    expect(response).toMatchObject({ status: 200, body: { received: 6, applied: 6, duplicates: 0 } });
    expect(await statusOf('sg-hard')).toBe('bounced');
    expect(await statusOf('sg-blocked')).toBe('active');
    expect(await statusOf('sg-spam')).toBe('complained');
    expect(await statusOf('sg-unsub')).toBe('unsubscribed');
    expect(await statusOf('sg-group')).toBe('unsubscribed');
    expect(await statusOf('sg-deferred')).toBe('active');
    expect(await eventsOf('sg-hard')).toEqual([
      expect.objectContaining({
        kind: 'hard_bounce',
        source: 'sendgrid',
        outcome: 'bounced',
        statusCode: '5.0.0',
        diagnostic: '500 unknown recipient',
        messageId: '<14c5d75ce93.dfd.64b469@ismtpd-555>',
      }),
    ]);
    expect((await eventsOf('sg-blocked'))[0]).toMatchObject({ kind: 'soft_bounce', outcome: 'counted', statusCode: '4.7.0' });
    expect((await eventsOf('sg-deferred'))[0]).toMatchObject({ kind: 'delayed', outcome: 'noted' });
    expect((await t.sql(`SELECT revocation_source FROM topic_subscriptions WHERE subscriber_id = $1`, [ids.get(email('sg-unsub'))]))[0].revocation_source).toBe(
      'mail_provider',
    );
  });

  it('changes nothing for a forged, stale or unsigned batch, and a replayed one only reports duplicates', async () => {
    const body = JSON.stringify(batch());
    const before = await counts();
    const stale = Math.floor(clock.now().getTime() / 1000) - 600;
    const cases: [string, string, Record<string, string>, number][] = [
      ['altered after signing', body.replace('5.0.0', '5.1.1'), signSendgrid(body), 401],
      ['stale timestamp', body, signSendgrid(body, stale), 401],
      ['unsigned', body, {}, 401],
      [
        'signed by another key',
        body,
        {
          ...signSendgrid(body),
          'x-twilio-email-event-webhook-signature': createSign('sha256')
            .update(`${Math.floor(clock.now().getTime() / 1000)}${body}`)
            .sign(generateKeyPairSync('ec', { namedCurve: 'prime256v1' }).privateKey, 'base64'),
        },
        401,
      ],
      ['replayed, freshly signed', body, signSendgrid(body), 200],
    ];
    for (const [label, sent, headers, status] of cases) {
      const response = await post('/webhooks/mail-events/sendgrid', sent, headers);
      expect(`${label}: ${response.status}`).toBe(`${label}: ${status}`);
      if (status === 200) expect(response.body).toMatchObject({ received: 6, applied: 0, duplicates: 6 });
    }
    expect(await counts()).toEqual(before);
  });
});

describe('Postmark webhooks', () => {
  const now = () => clock.now().toISOString();
  const bounce = () => ({ ...replaced(fixture('postmark-bounce.json'), 'john@example.com', email('pm-hard')), BouncedAt: now() });

  it('applies a Bounce, a SpamComplaint and a recipient’s SubscriptionChange with the right basic auth', async () => {
    const auth = basic(POSTMARK.user, POSTMARK.password);
    expect((await post('/webhooks/mail-events/postmark', JSON.stringify(bounce()), auth)).body).toEqual({ received: 1, applied: 1, duplicates: 0 });
    expect(await statusOf('pm-hard')).toBe('bounced');
    expect((await eventsOf('pm-hard'))[0]).toMatchObject({
      kind: 'hard_bounce',
      source: 'postmark',
      statusCode: 'HardBounce (1)',
      diagnostic: 'Test bounce details',
    });

    const spam = { ...replaced(fixture('postmark-spam-complaint.json'), 'john@example.com', email('pm-spam')), BouncedAt: now() };
    expect((await post('/webhooks/mail-events/postmark', JSON.stringify(spam), auth)).status).toBe(200);
    expect(await statusOf('pm-spam')).toBe('complained');

    const unsubscribe = {
      ...fixture('postmark-subscription-change.json'),
      Recipient: email('pm-unsub'),
      SuppressionReason: 'ManualSuppression',
      ChangedAt: now(),
    };
    expect((await post('/webhooks/mail-events/postmark', JSON.stringify(unsubscribe), auth)).status).toBe(200);
    expect(await statusOf('pm-unsub')).toBe('unsubscribed');
    expect((await eventsOf('pm-unsub'))[0]).toMatchObject({ kind: 'unsubscribe', source: 'postmark', outcome: 'unsubscribed' });
  });

  it('changes nothing without the credentials, with wrong ones, for a stale or a replayed event', async () => {
    await t.sql(`UPDATE subscribers SET status = 'active' WHERE email = $1`, [email('pm-hard')]);
    const before = await counts();
    const body = JSON.stringify(bounce());
    const sample = JSON.stringify(replaced(fixture('postmark-bounce.json'), 'john@example.com', email('pm-hard'))); // BouncedAt 2019
    const cases: [string, string, Record<string, string>, number][] = [
      ['no credentials', body, {}, 401],
      ['wrong password', body, basic(POSTMARK.user, 'postmark-webhook-secret-0124'), 401],
      ['wrong user', body, basic('someone', POSTMARK.password), 401],
      ['not basic auth', body, { authorization: `Bearer ${POSTMARK.password}` }, 401],
      ['stale (the sample’s 2019 date)', sample, basic(POSTMARK.user, POSTMARK.password), 401],
      ['replayed', body, basic(POSTMARK.user, POSTMARK.password), 200],
    ];
    for (const [label, sent, headers, status] of cases) {
      const response = await post('/webhooks/mail-events/postmark', sent, headers);
      expect(`${label}: ${response.status}`).toBe(`${label}: ${status}`);
      if (status === 200) expect(response.body).toEqual({ received: 1, applied: 0, duplicates: 1 });
    }
    expect(await counts()).toEqual(before);
    expect(await statusOf('pm-hard')).toBe('active');
  });
});

describe('Mailgun webhooks', () => {
  it('applies signed permanent and temporary failures, a complaint and an unsubscribe', async () => {
    const send = (doc: unknown) => post('/webhooks/mail-events/mailgun', JSON.stringify(doc));
    expect((await send(mailgunBody('mailgun-permanent-fail.json', 'mg-hard'))).body).toEqual({ received: 1, applied: 1, duplicates: 0 });
    expect(await statusOf('mg-hard')).toBe('bounced');
    expect((await eventsOf('mg-hard'))[0]).toMatchObject({
      kind: 'hard_bounce',
      source: 'mailgun',
      statusCode: '605',
      diagnostic: 'Not delivering to previously bounced address',
      messageId: '<20130503182626.18666.16540@sandbox1234.mailgun.org>',
    });
    expect((await send(mailgunBody('mailgun-temporary-fail.json', 'mg-soft'))).status).toBe(200);
    expect((await eventsOf('mg-soft'))[0]).toMatchObject({ kind: 'soft_bounce', outcome: 'counted', statusCode: '4.2.2' });
    expect((await send(mailgunBody('mailgun-complained.json', 'mg-spam'))).status).toBe(200);
    expect(await statusOf('mg-spam')).toBe('complained');
    expect((await send(mailgunBody('mailgun-unsubscribed.json', 'mg-unsub'))).status).toBe(200);
    expect(await statusOf('mg-unsub')).toBe('unsubscribed');
  });

  it('refuses a replayed token, a stale timestamp, a forged signature and another key, and changes nothing', async () => {
    await t.sql(`UPDATE subscribers SET status = 'active' WHERE email = $1`, [email('mg-hard')]);
    const used = mailgunBody('mailgun-permanent-fail.json', 'mg-hard');
    used['event-data'].id = 'a-new-event-id';
    expect((await post('/webhooks/mail-events/mailgun', JSON.stringify(used))).status).toBe(200);
    await t.sql(`UPDATE subscribers SET status = 'active' WHERE email = $1`, [email('mg-hard')]);
    const before = await counts();
    const forged = mailgunBody('mailgun-permanent-fail.json', 'mg-hard');
    forged.signature.signature = forged.signature.signature.replace(/^./, (c: string) => (c === '0' ? '1' : '0'));
    const cases: [string, unknown][] = [
      ['replayed token', { ...used, 'event-data': { ...used['event-data'], id: 'yet-another-id' } }],
      ['stale timestamp', mailgunBody('mailgun-permanent-fail.json', 'mg-hard', { timestamp: Math.floor(clock.now().getTime() / 1000) - 3600 })],
      ['forged signature', forged],
      ['another signing key', mailgunBody('mailgun-permanent-fail.json', 'mg-hard', { key: 'key-not-ours-0000000000000000000' })],
      ['the documented sample as published', replaced(fixture('mailgun-permanent-fail.json'), 'alice@example.com', email('mg-hard'))],
    ];
    for (const [label, doc] of cases) {
      const response = await post('/webhooks/mail-events/mailgun', JSON.stringify(doc));
      expect(`${label}: ${response.status} ${response.type}`).toMatch(new RegExp(`^${label}: 401 application/problem\\+json`));
    }
    expect(await counts()).toEqual(before);
    expect(await statusOf('mg-hard')).toBe('active');
  });
});

describe('a provider that is not configured', () => {
  it('answers 403 and changes nothing', async () => {
    const bare = await startTestApp({ clock });
    try {
      for (const path of ['ses', 'sendgrid', 'postmark', 'mailgun']) {
        const response = await fetch(`${bare.baseUrl}/webhooks/mail-events/${path}`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: '{}',
        });
        expect(`${path}: ${response.status} ${response.headers.get('content-type')}`).toMatch(new RegExp(`^${path}: 403 application/problem\\+json`));
      }
    } finally {
      await bare.close();
    }
  });
});
