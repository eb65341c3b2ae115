// The preferences page and one-click unsubscribe over HTTP, as mail clients and link scanners meet them.
import { CampaignDispatchService } from '../../src/campaigns/campaign-dispatch.service';
import { FakeClock } from '../../src/common/clock';
import { DeliveryWorker } from '../../src/delivery/delivery-worker';
import { TokenService } from '../../src/links/tokens';
import { startTestApp, TestApp } from '../support/app';
import { createCampaign, createTopics, importConfirmed } from '../support/seed';
import { SmtpSink, startSmtpSink } from '../support/smtp-sink';

let t: TestApp;
let sink: SmtpSink;
const clock = new FakeClock('2026-03-02T09:00:00Z');

const sql = (text: string, params: unknown[] = []) => t.sql(text, params);

function linksIn(text: string): string[] {
  return [...new Set(text.match(/http:\/\/tactful\.test\/[\w/.\-?=&]+/g) ?? [])];
}
const local = (url: string) => url.replace('http://tactful.test', t.baseUrl);

beforeAll(async () => {
  sink = await startSmtpSink();
  t = await startTestApp({ clock, env: { SMTP_URL: sink.url, CUSTOMER_RATE_LIMIT_PER_IP: '5000' } });
  await createTopics(t, ['trade-fairs', 'offers']);
});
afterAll(async () => {
  await t.close();
  await sink.close();
});

async function mailTo(email: string, topic = 'trade-fairs') {
  const campaign = await createCampaign(t, { name: `for ${email}`, topic });
  await t.api('POST', `/v1/campaigns/${campaign}/schedule`, { body: {} });
  await t.app.get(CampaignDispatchService).dispatchDue();
  await t.app.get(DeliveryWorker).drain();
  return { campaign, mail: sink.messages.filter((m) => m.envelope.rcptTo.includes(email)).pop()! };
}

describe('link scanners', () => {
  it('changes nothing when every link of a mail is fetched 1,000 times with GET', async () => {
    const ids = await importConfirmed(t, [{ email: 'scanned@example.de', locale: 'de', topics: ['trade-fairs'] }]);
    const { mail } = await mailTo('scanned@example.de');
    const links = linksIn(`${mail.parsed.text}\n${mail.parsed.html}`);
    expect(links.some((l) => l.includes('/u/'))).toBe(true);
    expect(links.some((l) => l.includes('/p/'))).toBe(true);
    const before = await t.api('GET', `/v1/subscribers/${ids.get('scanned@example.de')}`);
    for (let round = 0; round < 1000 / links.length; round++) {
      await Promise.all(links.map((l) => fetch(local(l)).then((r) => r.text())));
    }
    const after = await t.api('GET', `/v1/subscribers/${ids.get('scanned@example.de')}`);
    expect(after.body).toEqual(before.body);
  }, 60_000);
});

describe('RFC 8058 one-click unsubscribe', () => {
  it('unsubscribes with the List-Unsubscribe POST, answers 200 without a redirect, is repeatable, and suppresses a queued campaign', async () => {
    const ids = await importConfirmed(t, [{ email: 'oneclick@example.com', locale: 'en', topics: ['trade-fairs', 'offers'] }]);
    const id = ids.get('oneclick@example.com')!;
    const { mail } = await mailTo('oneclick@example.com');
    const header = mail.raw.split('\r\n\r\n')[0].replace(/\r\n[ \t]+/g, ' ');
    const url = /^List-Unsubscribe: <([^>]+)>/m.exec(header)![1];

    // A second campaign is decided (deferred into the digest) before the click.
    clock.advance(60_000);
    const later = await createCampaign(t, { name: 'later', topic: 'offers' });
    await t.api('POST', `/v1/campaigns/${later}/schedule`, { body: {} });
    await t.app.get(CampaignDispatchService).dispatchDue();

    for (let i = 0; i < 2; i++) {
      const res = await fetch(local(url), {
        method: 'POST',
        redirect: 'manual',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: 'List-Unsubscribe=One-Click',
      });
      expect(res.status).toBe(200);
      expect(res.headers.get('location')).toBeNull();
      expect(res.headers.get('set-cookie')).toBeNull();
    }
    const form = new FormData();
    form.append('List-Unsubscribe', 'One-Click');
    expect((await fetch(local(url), { method: 'POST', body: form })).status).toBe(200);

    const subscriber = await t.api('GET', `/v1/subscribers/${id}`);
    expect(subscriber.body.status).toBe('unsubscribed');
    // The queued one never goes: re-checked at hand-over.
    await t.app.get(DeliveryWorker).drain();
    const rows = await sql(`SELECT status, reason FROM deliveries WHERE ref_id = $1`, [later]);
    expect(rows.every((r) => r.status !== 'sent')).toBe(true);
    const queued = await sql(`SELECT count(*)::int AS n FROM deliveries WHERE subscriber_id = $1 AND status = 'queued'`, [id]);
    expect(queued[0].n).toBe(0);
  });

  it('suppresses a campaign queued before the click with suppressed_unsubscribed', async () => {
    const ids = await importConfirmed(t, [{ email: 'queued-then-click@example.com', topics: ['offers'] }]);
    const id = ids.get('queued-then-click@example.com')!;
    const campaign = await createCampaign(t, { name: 'queued', topic: 'offers' });
    await t.api('POST', `/v1/campaigns/${campaign}/schedule`, { body: {} });
    await t.app.get(CampaignDispatchService).dispatchDue();
    const url = t.app.get(TokenService).url('unsubscribe', id);
    const res = await fetch(local(url), {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: 'List-Unsubscribe=One-Click',
    });
    expect(res.status).toBe(200);
    await t.app.get(DeliveryWorker).drain();
    const [row] = await sql(`SELECT status, reason FROM deliveries WHERE ref_id = $1`, [campaign]);
    expect(row).toEqual({ status: 'suppressed', reason: 'suppressed_unsubscribed' });
    expect(sink.messages.filter((m) => m.envelope.rcptTo.includes('queued-then-click@example.com'))).toHaveLength(0);
  });

  it('answers a tampered token and another subscriber’s token for the wrong purpose with the same 404', async () => {
    const ids = await importConfirmed(t, [{ email: 'victim@example.com', topics: ['offers'] }]);
    const tokens = t.app.get(TokenService);
    const good = tokens.sign('unsubscribe', ids.get('victim@example.com')!);
    const [kid, body, sig] = good.split('.');
    const tampered = `${kid}.${body.slice(0, -2)}AA.${sig}`;
    const preferencesToken = tokens.sign('preferences', ids.get('victim@example.com')!);
    const responses = await Promise.all(
      [`/u/${tampered}`, `/u/${preferencesToken}`, `/u/x`, `/p/${good}`].map((p) =>
        fetch(t.baseUrl + p, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'List-Unsubscribe=One-Click' }),
      ),
    );
    const bodies = await Promise.all(responses.map((r) => r.text()));
    expect(responses.map((r) => r.status)).toEqual([404, 404, 404, 404]);
    expect(new Set(bodies).size).toBe(1);
    expect((await t.api('GET', `/v1/subscribers/${ids.get('victim@example.com')}`)).body.status).toBe('active');
  });
});

describe('the preferences page over HTTP', () => {
  it('saves topics, cadence and slot, says what changed, refuses a form without its CSRF token, and the JSON API agrees', async () => {
    const ids = await importConfirmed(t, [{ email: 'prefs@example.com', locale: 'en', topics: ['trade-fairs', 'offers'] }]);
    const id = ids.get('prefs@example.com')!;
    const url = local(t.app.get(TokenService).url('preferences', id));
    const page = await (await fetch(url)).text();
    expect(page).toContain('Your next newsletter');
    const csrf = /name="csrf" value="([^"]+)"/.exec(page)![1];

    const noCsrf = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: 'topics=offers&cadence=biweekly',
    });
    expect(noCsrf.status).toBe(403);
    expect((await t.api('GET', `/v1/subscribers/${id}`)).body.cadence).toBe('weekly');

    const saved = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: `csrf=${csrf}&topics=offers&cadence=biweekly&weekday=5&hour=7&timeZone=Europe%2FBerlin&locale=en&pause=0`,
    });
    expect(saved.status).toBe(200);
    const html = await saved.text();
    expect(html).toContain('Unsubscribed from: Topic trade-fairs');
    expect(html).toContain('Rhythm: at most once every two weeks');
    expect(html).toContain('Delivery time: Friday, 07:00');
    const json = await t.api('GET', `/v1/subscribers/${id}/preferences`);
    expect(json.body).toMatchObject({ cadence: 'biweekly', digestWeekday: 5, digestHour: 7 });
    expect(json.body.topics).toEqual([
      { key: 'offers', subscribed: true },
      { key: 'trade-fairs', subscribed: false },
    ]);
    expect(json.body.nextNewsletter).toBe('2026-03-06T06:00:00.000Z');
  });

  it('rate-limits failed links from one address with a 429 page and Retry-After, never a genuine link', async () => {
    const limited = await startTestApp({ clock, env: { CUSTOMER_RATE_LIMIT_PER_IP: '3' } });
    try {
      await createTopics(limited, ['offers']);
      const ids = await importConfirmed(limited, [{ email: 'limited@example.com', topics: ['offers'] }]);
      const genuine = `${limited.baseUrl}${new URL(limited.app.get(TokenService).url('preferences', ids.get('limited@example.com')!)).pathname}`;
      const url = `${limited.baseUrl}/u/abcd.efgh.ijkl`;
      const statuses: number[] = [];
      for (let i = 0; i < 5; i++) statuses.push((await fetch(url)).status);
      expect(statuses).toEqual([404, 404, 404, 429, 429]);
      const res = await fetch(url);
      expect(Number(res.headers.get('retry-after'))).toBeGreaterThan(0);
      expect(res.headers.get('content-type')).toBe('text/html; charset=utf-8');
      for (let i = 0; i < 5; i++) expect((await fetch(genuine)).status).toBe(200);
    } finally {
      await limited.close();
    }
  });
});
