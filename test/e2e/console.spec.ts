// The console over plain HTTP, the way a browser without JavaScript meets it: sign-in exchanges an
// API key for a session cookie (never the key itself), every form carries the session's CSRF
// token, the key's scopes decide what is shown and allowed, and a revoked key ends its sessions.
// The customer page answers "why did Anna not get the fair mail?" from the real decisions.
import { CampaignDispatchService } from '../../src/campaigns/campaign-dispatch.service';
import { FakeClock } from '../../src/common/clock';
import { DeliveryWorker } from '../../src/delivery/delivery-worker';
import { startTestApp, TestApp } from '../support/app';
import { createCampaign, createTopics, importConfirmed } from '../support/seed';
import { SmtpSink, startSmtpSink } from '../support/smtp-sink';

const clock = new FakeClock('2026-03-02T09:00:00Z'); // Monday, 10:00 in Berlin
const MINUTE = 60_000;
let t: TestApp;
let sink: SmtpSink;
let readKey: string;
let writeKey: string;
let ids: Map<string, string>;

interface Page {
  status: number;
  text: string;
  headers: Headers;
}

async function get(path: string, cookie?: string): Promise<Page> {
  const res = await fetch(t.baseUrl + path, { headers: cookie ? { cookie } : {}, redirect: 'manual' });
  return { status: res.status, text: await res.text(), headers: res.headers };
}

async function post(path: string, form: Record<string, string>, cookie?: string): Promise<Page> {
  const res = await fetch(t.baseUrl + path, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', ...(cookie ? { cookie } : {}) },
    body: new URLSearchParams(form).toString(),
    redirect: 'manual',
  });
  return { status: res.status, text: await res.text(), headers: res.headers };
}

const csrfOf = (html: string) => /name="csrf" value="([^"]+)"/.exec(html)![1];

async function signIn(key: string, lang = 'en'): Promise<{ cookie: string; csrf: string; setCookie: string }> {
  const res = await post('/console/sign-in', { apiKey: key, lang, next: '/console' });
  expect(res.status).toBe(200);
  const setCookie = res.headers.get('set-cookie')!;
  const cookie = setCookie.split(';')[0];
  const home = await get('/console', cookie);
  expect(home.status).toBe(200);
  return { cookie, csrf: csrfOf(home.text), setCookie };
}

beforeAll(async () => {
  sink = await startSmtpSink();
  t = await startTestApp({ clock, env: { SMTP_URL: sink.url, CONSOLE_SESSION_IDLE_MINUTES: '30', CONSOLE_SESSION_MAX_HOURS: '8' } });
  await createTopics(t, ['trade-fairs', 'offers']);
  ids = await importConfirmed(t, [
    { email: 'anna@example.de', locale: 'de', topics: ['trade-fairs'] },
    { email: 'ben@example.com', locale: 'en', topics: ['trade-fairs'] },
  ]);
  readKey = (await t.api('POST', '/v1/api-keys', { body: { name: 'support desk', scopes: ['read'] } })).body.key;
  writeKey = (await t.api('POST', '/v1/api-keys', { body: { name: 'marketing', scopes: ['read', 'campaigns:write'] } })).body.key;
});
afterAll(async () => {
  await t.close();
  await sink.close();
});

describe('signing in to the console', () => {
  it('answers every console page without a session with the sign-in form (401), and the form asks for the key in a password field', async () => {
    for (const path of ['/console', '/console/customers', '/console/campaigns', '/console/listening', '/console/operations']) {
      const page = await get(path);
      expect(`${path} ${page.status}`).toBe(`${path} 401`);
      expect(page.text).toMatch(/<input type="password" id="apiKey" name="apiKey"/);
      expect(page.headers.get('content-type')).toMatch(/^text\/html/);
    }
    const form = await get('/console/sign-in');
    expect(form.status).toBe(200);
  });

  it('exchanges a key for an HttpOnly, SameSite=Strict session cookie scoped to /console that holds no part of the key', async () => {
    const { setCookie, cookie } = await signIn(readKey);
    expect(setCookie).toMatch(/^tactful_console=[A-Za-z0-9_-]{43}; Path=\/console; HttpOnly; SameSite=Strict$/);
    expect(setCookie).not.toContain(readKey.slice(3, 13));
    // Only the token's hash is stored.
    const rows = await t.sql(`SELECT encode(id, 'hex') AS id FROM console_sessions`);
    const token = cookie.split('=')[1];
    expect(rows.map((r) => r.id)).not.toContain(Buffer.from(token).toString('hex'));
    expect(rows.every((r) => r.id.length === 64)).toBe(true);
  });

  it('refuses an unknown key with the sign-in form again (401) and opens no session', async () => {
    const before = await t.sql(`SELECT count(*)::int AS n FROM console_sessions`);
    const res = await post('/console/sign-in', { apiKey: 'tk_not-a-key-at-all-0123456789', lang: 'en' });
    expect(res.status).toBe(401);
    expect(res.headers.get('set-cookie')).toBeNull();
    expect(res.text).toContain('This key is unknown or has been revoked.');
    expect(await t.sql(`SELECT count(*)::int AS n FROM console_sessions`)).toEqual(before);
  });

  it('ends a session at sign-out, after the idle time, and when its key is revoked', async () => {
    const a = await signIn(readKey);
    const out = await post('/console/sign-out', { csrf: a.csrf }, a.cookie);
    expect(out.status).toBe(200);
    expect(out.headers.get('set-cookie')).toMatch(/Max-Age=0/);
    expect((await get('/console', a.cookie)).status).toBe(401);

    const b = await signIn(readKey);
    clock.advance(29 * MINUTE);
    expect((await get('/console', b.cookie)).status).toBe(200); // activity: the idle time starts again
    clock.advance(29 * MINUTE);
    expect((await get('/console', b.cookie)).status).toBe(200);
    clock.advance(31 * MINUTE);
    const idle = await get('/console?lang=en', b.cookie);
    expect(idle.status).toBe(401);
    expect(idle.text).toContain('Your session has ended.');

    const spare = (await t.api('POST', '/v1/api-keys', { body: { name: 'to revoke', scopes: ['read'] } })).body;
    const c = await signIn(spare.key);
    expect((await t.api('DELETE', `/v1/api-keys/${spare.id}`)).status).toBe(204);
    expect((await get('/console', c.cookie)).status).toBe(401);
    expect(await t.sql(`SELECT count(*)::int AS n FROM console_sessions WHERE api_key_id = $1`, [spare.id])).toEqual([{ n: 0 }]);
  });

  it('ends a session at its absolute end, however active', async () => {
    const s = await signIn(readKey);
    for (let i = 0; i < 19; i++) {
      clock.advance(25 * MINUTE);
      expect((await get('/console', s.cookie)).status).toBe(200);
    }
    clock.advance(25 * MINUTE);
    // 8 hours and 20 minutes after sign-in, active every 25 minutes.
    expect((await get('/console', s.cookie)).status).toBe(401);
  });

  it('refuses a form posted from another site (Sec-Fetch-Site: cross-site), the sign-in included', async () => {
    const before = await t.sql(`SELECT count(*)::int AS n FROM console_sessions`);
    const res = await fetch(`${t.baseUrl}/console/sign-in`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', 'sec-fetch-site': 'cross-site' },
      body: new URLSearchParams({ apiKey: readKey }).toString(),
    });
    expect(res.status).toBe(403);
    expect(res.headers.get('set-cookie')).toBeNull();
    expect(await t.sql(`SELECT count(*)::int AS n FROM console_sessions`)).toEqual(before);
  });

  it('refuses a form without the session’s CSRF token (403) and changes nothing', async () => {
    const s = await signIn(readKey);
    const other = await signIn(readKey);
    for (const csrf of ['', 'x', other.csrf]) {
      const res = await post('/console/sign-out', { csrf }, s.cookie);
      expect(res.status).toBe(403);
    }
    expect((await get('/console', s.cookie)).status).toBe(200);
  });
});

describe('a customer on one screen', () => {
  it('answers why Anna did not get the fair mail: folded into her next digest because of her cadence, with the date', async () => {
    const first = await createCampaign(t, { name: 'new offers', topic: 'trade-fairs', subject: { de: 'Neue Angebote', en: 'New offers' }, priority: 5 });
    const fair = await createCampaign(t, { name: 'fair', topic: 'trade-fairs', subject: { de: 'Die Messe zieht um', en: 'The fair moves' } });
    await t.api('POST', `/v1/campaigns/${first}/schedule`, { body: {} });
    await t.api('POST', `/v1/campaigns/${fair}/schedule`, { body: {} });
    await t.app.get(CampaignDispatchService).dispatchDue();
    await t.app.get(DeliveryWorker).drain();

    const s = await signIn(readKey, 'de');
    const page = await get(`/console/customers?email=${encodeURIComponent('Anna@Example.de')}`, s.cookie);
    expect(page.status).toBe(200);
    const notGot = /<section aria-labelledby="notgot-h"[\s\S]*?<\/section>/.exec(page.text)![0];
    expect(notGot).toContain('Die Messe zieht um');
    expect(notGot).toContain('In den nächsten Newsletter verschoben (Versandrhythmus)');
    expect(notGot).toMatch(
      /kommt mit dem nächsten Newsletter am Montag, 9\. März 2026 um 10:00 \(Europe\/Berlin\)|kommt mit dem nächsten Newsletter am [^<]+2026/,
    );
    // The mail she did get can be opened as she got it, with inert links.
    const href = /href="(\/console\/customers\/[^"]+\/mails\/\d+)"/.exec(page.text)![1];
    const mail = await get(href, s.cookie);
    expect(mail.status).toBe(200);
    expect(mail.text).toContain('Neue Angebote');
    expect(mail.headers.get('content-security-policy')).toMatch(/sandbox/);
    expect(mail.text).toMatch(/\/u\/preview\?lang=de/);
    expect(mail.text).not.toMatch(/\/(p|u|f)\/(?!preview)[\w-]+\.[\w-]+\.[\w-]+/);
    // The page is by id too, and in English on request.
    const byId = await get(`/console/customers/${ids.get('anna@example.de')}?lang=en`, s.cookie);
    expect(byId.text).toContain('Folded into the next digest (cadence)');
    expect((await get('/console/customers?email=nobody%40example.com', s.cookie)).status).toBe(404);
  });
});

describe('what a read-only key can do in the console', () => {
  it('shows no write button and answers every write form with 403, changing no row', async () => {
    const campaign = await createCampaign(t, { name: 'draft for the read key', topic: 'offers' });
    const s = await signIn(readKey);
    const page = await get(`/console/campaigns/${campaign}`, s.cookie);
    expect(page.status).toBe(200);
    expect(page.text).not.toMatch(/action="\/console\/campaigns\/[^"]+\/(schedule|cancel)"/);
    expect(page.text).not.toContain(`/console/campaigns/${campaign}/edit`);
    expect((await get('/console/campaigns', s.cookie)).text).not.toContain('/console/campaigns/new');

    const doc = (await t.api('GET', '/docs/openapi.json', { key: null })).body;
    const writes = Object.entries<any>(doc.paths)
      .filter(([path, item]) => path.startsWith('/console') && item.post && !['/console/sign-in', '/console/sign-out', '/console/language'].includes(path))
      .map(([path]) => path.replace('{id}', campaign));
    expect(writes.length).toBeGreaterThanOrEqual(4);
    const tables: string[] = (await t.sql(`SELECT tablename FROM pg_tables WHERE schemaname = 'public' AND tablename <> 'console_sessions'`)).map(
      (r) => r.tablename,
    );
    const snapshot = async () =>
      JSON.stringify(
        await t.sql(
          `SELECT * FROM (${tables
            .map((name) => `SELECT '${name}' AS name, md5(coalesce(string_agg(x::text, ',' ORDER BY x::text), '')) AS h FROM "${name}" x`)
            .join(' UNION ALL ')}) t ORDER BY name`,
        ),
      );
    const before = await snapshot();
    const form = { csrf: s.csrf, name: 'changed', topic: 'offers', subjectEn: 'Changed', bodyEn: '<p>Changed</p>', sendAtLocal: '2026-03-10T10:00' };
    for (const path of writes) {
      const res = await post(path, form, s.cookie);
      expect(`${path} ${res.status}`).toBe(`${path} 403`);
      expect(res.text).toContain('may not do this');
    }
    expect(await snapshot()).toBe(before);
    expect((await get(`/console/campaigns/${campaign}/edit`, s.cookie)).status).toBe(403);
  });

  it('lets a campaigns:write key do what its scope allows, through the API’s own validation', async () => {
    const s = await signIn(writeKey);
    const bad = await post('/console/campaigns', { csrf: s.csrf, name: 'x', topic: 'offers', subjectEn: 'Only a subject' }, s.cookie);
    expect(bad.status).toBe(400);
    expect(bad.text).toContain('body.en');
    const ok = await post(
      '/console/campaigns',
      { csrf: s.csrf, name: 'from the console', topic: 'offers', subjectEn: 'Hello', bodyEn: '<p>Hello</p>' },
      s.cookie,
    );
    expect(ok.status).toBe(200);
    const [row] = await t.sql(`SELECT id, status, subject_en FROM campaigns WHERE name = 'from the console'`);
    expect(row).toMatchObject({ status: 'draft', subject_en: 'Hello' });
    expect(ok.text).toContain(`url=/console/campaigns/${row.id}`);
    // A write key without subscribers:write still sees customers (it has read), but cannot reach a form it lacks the scope for.
    const marketingOnly = (await t.api('POST', '/v1/api-keys', { body: { name: 'topics only', scopes: ['topics:write'] } })).body.key;
    const m = await signIn(marketingOnly);
    expect((await get('/console/customers', m.cookie)).status).toBe(403);
    expect((await post(`/console/campaigns/${row.id}/cancel`, { csrf: m.csrf }, m.cookie)).status).toBe(403);
  });
});

describe('what the console’s forms take', () => {
  it('takes HTML forms only: JSON and multipart are refused with 415 before the session is looked at, and prototype field names with 400', async () => {
    const s = await signIn(writeKey);
    for (const [type, body] of [
      ['application/json', JSON.stringify({ csrf: s.csrf, name: 'json', topic: 'offers' })],
      ['multipart/form-data; boundary=x', `--x\r\nContent-Disposition: form-data; name="csrf"\r\n\r\n${s.csrf}\r\n--x--\r\n`],
    ]) {
      const res = await fetch(`${t.baseUrl}/console/campaigns`, { method: 'POST', headers: { 'content-type': type, cookie: s.cookie }, body });
      expect(`${type} ${res.status} ${res.headers.get('content-type')}`).toBe(`${type} 415 application/problem+json; charset=utf-8`);
    }
    const polluted = await fetch(`${t.baseUrl}/console/campaigns`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', cookie: s.cookie },
      body: `csrf=${s.csrf}&name=x&__proto__=y`,
    });
    expect(polluted.status).toBe(400);
    expect((await polluted.json()).errors).toEqual([expect.objectContaining({ field: '__proto__' })]);
    expect(await t.sql(`SELECT count(*)::int AS n FROM campaigns WHERE name IN ('json', 'x')`)).toEqual([{ n: 0 }]);
  });
});
