import { createHmac } from 'node:crypto';
import {
  mailgunEvents,
  postmarkEvents,
  sendgridEvents,
  snsCertificateUrl,
  snsStringToSign,
  snsUrlAllowed,
  verifyMailgun,
  verifyPostmark,
  verifySendgrid,
} from '../../src/mail-events/providers/provider-events';

describe('SendGrid signatures', () => {
  // The test vector SendGrid's own libraries verify against (sendgrid-nodejs, -python, -java, -csharp).
  const PUBLIC_KEY = 'MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEEDr2LjtURuePQzplybdC+u4CwrqDqBaWjcMMsTbhdbcwHBcepxo7yAQGhHPTnlvFYPAZFceEu/1FwCM/QmGUhA==';
  const SIGNATURE = 'MEUCIQCtIHJeH93Y+qpYeWrySphQgpNGNr/U+UyUlBkU6n7RAwIgJTz2C+8a8xonZGi6BpSzoQsbVRamr2nlxFDWYNH2j/0=';
  const TIMESTAMP = '1588788367';
  const PAYLOAD = '{"category":"example_payload","event":"test_event","message_id":"message_id"}';
  const at = new Date(Number(TIMESTAMP) * 1000 + 60_000);

  it('verifies SendGrid’s published test vector, and refuses it altered, re-timed, stale or under another key', () => {
    expect(verifySendgrid(PUBLIC_KEY, SIGNATURE, TIMESTAMP, PAYLOAD, at)).toEqual({ ok: true });
    expect(verifySendgrid(`-----BEGIN PUBLIC KEY-----\n${PUBLIC_KEY}\n-----END PUBLIC KEY-----`, SIGNATURE, TIMESTAMP, PAYLOAD, at)).toEqual({ ok: true });
    expect(verifySendgrid(PUBLIC_KEY, SIGNATURE, TIMESTAMP, PAYLOAD.replace('test_event', 'bounce'), at)).toMatchObject({ ok: false, status: 401 });
    expect(verifySendgrid(PUBLIC_KEY, SIGNATURE, '1588788368', PAYLOAD, at)).toMatchObject({ ok: false, status: 401 });
    expect(verifySendgrid(PUBLIC_KEY, SIGNATURE, TIMESTAMP, PAYLOAD, new Date(Number(TIMESTAMP) * 1000 + 301_000))).toMatchObject({
      ok: false,
      reason: expect.stringMatching(/window/),
    });
    const other = 'MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEqTxd43gyp8IOEto2LdIfjRQrIbsd4SXZkLW6jDutdhXSJCWHw8REntlo7aNDthvj+y7GjUuFDb/R1NGe1OPzpA==';
    expect(verifySendgrid(other, SIGNATURE, TIMESTAMP, PAYLOAD, at)).toMatchObject({ ok: false, status: 401 });
    expect(verifySendgrid(undefined, SIGNATURE, TIMESTAMP, PAYLOAD, at)).toMatchObject({ ok: false, status: 403 });
    expect(verifySendgrid(PUBLIC_KEY, 'not base64 at all', TIMESTAMP, PAYLOAD, at)).toMatchObject({ ok: false, status: 401 });
  });

  it('maps bounce (bounce: hard, blocked: soft), deferred, spamreport and both unsubscribes; ignores delivered, open, processed', () => {
    const events = sendgridEvents([
      { event: 'bounce', type: 'bounce', email: 'a@x.example', status: '5.1.1', sg_event_id: 'e1' },
      { event: 'bounce', type: 'blocked', email: 'a@x.example', status: '4.7.0', sg_event_id: 'e2' },
      { event: 'deferred', email: 'a@x.example', sg_event_id: 'e3' },
      { event: 'spamreport', email: 'a@x.example', sg_event_id: 'e4' },
      { event: 'unsubscribe', email: 'a@x.example', sg_event_id: 'e5' },
      { event: 'group_unsubscribe', email: 'a@x.example', sg_event_id: 'e6' },
      { event: 'delivered', email: 'a@x.example', sg_event_id: 'e7' },
      { event: 'open', email: 'a@x.example', sg_event_id: 'e8' },
    ]);
    expect(events.map((e) => `${e.kind}:${e.replayKey?.id}`)).toEqual([
      'hard_bounce:e1',
      'soft_bounce:e2',
      'delayed:e3',
      'complaint:e4',
      'unsubscribe:e5',
      'unsubscribe:e6',
    ]);
    expect(sendgridEvents({ not: 'an array' })).toEqual([]);
  });
});

describe('SNS', () => {
  it('writes the string to sign as the SNS guide says: Subject only when present, the fields of each type in order', () => {
    const base = { Type: 'Notification', Message: 'm', MessageId: 'id', Timestamp: 't', TopicArn: 'arn' };
    expect(snsStringToSign(base)).toBe('Message\nm\nMessageId\nid\nTimestamp\nt\nTopicArn\narn\nType\nNotification\n');
    expect(snsStringToSign({ ...base, Subject: 's' })).toBe('Message\nm\nMessageId\nid\nSubject\ns\nTimestamp\nt\nTopicArn\narn\nType\nNotification\n');
    expect(snsStringToSign({ ...base, Type: 'SubscriptionConfirmation', SubscribeURL: 'u', Token: 'k' })).toBe(
      'Message\nm\nMessageId\nid\nSubscribeURL\nu\nTimestamp\nt\nToken\nk\nTopicArn\narn\nType\nSubscriptionConfirmation\n',
    );
    expect(snsStringToSign({ ...base, Type: 'Other' })).toBeNull();
    expect(snsStringToSign({ ...base, Message: 42 })).toBeNull();
  });

  it('fetches certificates only over https from sns.<region>.amazonaws.com, and test hosts only when listed', () => {
    const pem = '/SimpleNotificationService-f3ecfb7224c7233fe7bb5f59f96de52f.pem';
    expect(snsCertificateUrl(`https://sns.us-west-2.amazonaws.com${pem}`, [])?.host).toBe('sns.us-west-2.amazonaws.com');
    expect(snsCertificateUrl(`https://sns.cn-north-1.amazonaws.com.cn${pem}`, [])).not.toBeNull();
    for (const url of [
      `http://sns.us-west-2.amazonaws.com${pem}`,
      `https://sns.us-west-2.amazonaws.com.evil.example${pem}`,
      `https://evil.example/sns.us-west-2.amazonaws.com${pem}`,
      `https://sns.us-west-2.amazonaws.com:8443${pem}`,
      `https://user:pw@sns.us-west-2.amazonaws.com${pem}`,
      `https://s3.amazonaws.com${pem}`,
      `https://sns.us-west-2.amazonaws.com/other.pem`,
      `https://sns.us-west-2.amazonaws.com${pem}?x=1`,
      `http://127.0.0.1:8080${pem}`,
      'not a url',
    ]) {
      expect(snsCertificateUrl(url, [])).toBeNull();
    }
    expect(snsCertificateUrl(`http://127.0.0.1:8080${pem}`, ['127.0.0.1:8080'])).not.toBeNull();
    expect(snsUrlAllowed('https://sns.eu-central-1.amazonaws.com/?Action=ConfirmSubscription&Token=x', [])).not.toBeNull();
    expect(snsUrlAllowed('https://example.com/?Action=ConfirmSubscription', [])).toBeNull();
  });
});

describe('Postmark basic auth', () => {
  const header = (value: string) => `Basic ${Buffer.from(value).toString('base64')}`;
  it('accepts exactly the configured user and password', () => {
    expect(verifyPostmark('tactful', 'p'.repeat(16), header(`tactful:${'p'.repeat(16)}`))).toEqual({ ok: true });
    for (const given of [header(`tactful:${'p'.repeat(15)}`), header(`Tactful:${'p'.repeat(16)}`), header('tactful'), 'Bearer x', undefined]) {
      expect(verifyPostmark('tactful', 'p'.repeat(16), given)).toMatchObject({ ok: false, status: 401 });
    }
    expect(verifyPostmark(undefined, undefined, header('a:b'))).toMatchObject({ ok: false, status: 403 });
  });

  it('maps Bounce types, SpamComplaint and suppressions; a reactivation or an old event gives nothing back', () => {
    const now = new Date('2026-03-02T09:00:00Z');
    const at = '2026-03-02T08:00:00Z';
    const kinds = (body: unknown) => {
      const events = postmarkEvents(body, now);
      return events === 'stale' ? 'stale' : events.map((e) => e.kind);
    };
    expect(kinds({ RecordType: 'Bounce', Type: 'HardBounce', ID: 1, Email: 'a@x.example', BouncedAt: at })).toEqual(['hard_bounce']);
    expect(kinds({ RecordType: 'Bounce', Type: 'SoftBounce', ID: 2, Email: 'a@x.example', BouncedAt: at })).toEqual(['soft_bounce']);
    expect(kinds({ RecordType: 'Bounce', Type: 'AutoResponder', ID: 3, Email: 'a@x.example', BouncedAt: at })).toEqual([]);
    expect(kinds({ RecordType: 'SpamComplaint', Type: 'SpamComplaint', ID: 4, Email: 'a@x.example', BouncedAt: at })).toEqual(['complaint']);
    const change = { RecordType: 'SubscriptionChange', MessageID: 'm', Recipient: 'a@x.example', ChangedAt: at, SuppressSending: true };
    expect(kinds({ ...change, SuppressionReason: 'ManualSuppression', Origin: 'Recipient' })).toEqual(['unsubscribe']);
    expect(kinds({ ...change, SuppressionReason: 'ManualSuppression', Origin: 'Customer' })).toEqual([]);
    expect(kinds({ ...change, SuppressionReason: 'HardBounce', Origin: 'Recipient' })).toEqual(['hard_bounce']);
    expect(kinds({ ...change, SuppressSending: false, SuppressionReason: 'HardBounce' })).toEqual([]);
    expect(kinds({ RecordType: 'Delivery', Email: 'a@x.example' })).toEqual([]);
    expect(kinds({ RecordType: 'Bounce', Type: 'HardBounce', ID: 5, Email: 'a@x.example', BouncedAt: '2019-11-05T16:33:54Z' })).toBe('stale');
  });
});

describe('Mailgun signatures', () => {
  const key = 'key-3ax6xnjp29jd6fds4gc373sgvjxteol0';
  const now = new Date('2026-03-02T09:00:00Z');
  const timestamp = String(now.getTime() / 1000);
  const token = 'a8ce0edb2dd8301dee6c2405235584e45aa91d1e9f979f3de0';
  const signature = createHmac('sha256', key)
    .update(timestamp + token)
    .digest('hex');

  it('verifies HMAC-SHA256 of timestamp and token with the signing key, within 5 minutes', () => {
    expect(verifyMailgun(key, { timestamp, token, signature }, now)).toEqual({ ok: true });
    expect(verifyMailgun(key, { timestamp: Number(timestamp), token, signature }, now)).toEqual({ ok: true });
    expect(verifyMailgun(key, { timestamp, token: token.slice(1), signature }, now)).toMatchObject({ ok: false, status: 401 });
    expect(verifyMailgun('key-other', { timestamp, token, signature }, now)).toMatchObject({ ok: false, status: 401 });
    expect(verifyMailgun(key, { timestamp, token, signature }, new Date(now.getTime() + 301_000))).toMatchObject({
      ok: false,
      reason: expect.stringMatching(/window/),
    });
    expect(verifyMailgun(key, { timestamp, token }, now)).toMatchObject({ ok: false, status: 401 });
    expect(verifyMailgun(key, undefined, now)).toMatchObject({ ok: false, status: 401 });
    expect(verifyMailgun(undefined, { timestamp, token, signature }, now)).toMatchObject({ ok: false, status: 403 });
  });

  it('maps failed (permanent: hard, temporary: soft), complained and unsubscribed; ignores delivered and opened', () => {
    const kind = (data: object) => mailgunEvents({ 'event-data': { id: 'x', recipient: 'a@x.example', ...data } }).map((e) => e.kind);
    expect(kind({ event: 'failed', severity: 'permanent' })).toEqual(['hard_bounce']);
    expect(kind({ event: 'failed', severity: 'temporary' })).toEqual(['soft_bounce']);
    expect(kind({ event: 'complained' })).toEqual(['complaint']);
    expect(kind({ event: 'unsubscribed' })).toEqual(['unsubscribe']);
    expect(kind({ event: 'delivered' })).toEqual([]);
    expect(kind({ event: 'opened' })).toEqual([]);
  });
});
