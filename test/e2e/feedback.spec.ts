// Listening, the way a customer and a marketer meet it: feedback links in every marketing mail and
// digest entry that record only on POST, one answer per item, the marketer's counts, the
// "drop this topic?" question after two "not useful" in a row, escaping, export and erasure.
import { CampaignDispatchService } from '../../src/campaigns/campaign-dispatch.service';
import { FakeClock } from '../../src/common/clock';
import { DeliveryWorker } from '../../src/delivery/delivery-worker';
import { DigestsService } from '../../src/digests/digests.service';
import { startTestApp, TestApp } from '../support/app';
import { createCampaign, createTopics, importConfirmed } from '../support/seed';
import { SinkMessage, SmtpSink, startSmtpSink } from '../support/smtp-sink';

const DAY = 86_400_000;

let sink: SmtpSink;
let t: TestApp;
const clock = new FakeClock('2026-03-02T09:00:00Z'); // Monday 10:00 in Berlin

beforeAll(async () => {
  sink = await startSmtpSink();
  t = await startTestApp({
    clock,
    env: {
      SMTP_URL: sink.url,
      CUSTOMER_RATE_LIMIT_PER_IP: '100000',
      REPLY_TO: 'Tactful Team <hello@tactful.test>',
      SENDER_REPLY_TO: '{"fairs":"Fair Team <fairs@tactful.test>"}',
    },
  });
  await createTopics(t, ['trade-fairs', 'offers']);
}, 60_000);
afterAll(async () => {
  await t?.close();
  await sink?.close();
});

async function tick(): Promise<void> {
  await t.app.get(CampaignDispatchService).dispatchDue();
  await t.app.get(DigestsService).composeDue();
  await t.app.get(DeliveryWorker).drain();
}

const local = (url: string) => url.replace('http://tactful.test', t.baseUrl);
// Handlebars writes '=' in an href as '&#x3D;'; a browser reads it back as '='.
const feedbackLinks = (text: string) => [...new Set(text.replace(/&#x3D;/g, '=').match(/http:\/\/tactful\.test\/f\/[\w.-]+(\?v=\w+)?/g) ?? [])];
const mailsTo = (email: string): SinkMessage[] => sink.messages.filter((m) => m.envelope.rcptTo.includes(email));

async function page(url: string): Promise<{ status: number; html: string }> {
  const response = await fetch(local(url));
  return { status: response.status, html: await response.text() };
}

/** Loads the page (for its CSRF field), then submits the form as a browser would. */
async function submit(url: string, fields: Record<string, string> = {}): Promise<{ status: number; html: string }> {
  const { html } = await page(url);
  const csrf = /name="csrf" value="([^"]+)"/.exec(html)![1];
  const response = await fetch(local(url).split('?')[0], {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ csrf, ...fields }).toString(),
  });
  return { status: response.status, html: await response.text() };
}

async function addItem(topic: string, title: string): Promise<void> {
  const res = await t.api('POST', '/v1/digest-items', { body: { topic, title: { de: title, en: title }, summary: { en: `About ${title}` } } });
  if (res.status !== 201) throw new Error(JSON.stringify(res.body));
}

/** The "not useful" link of one digest entry, from the text part. */
function entryLink(mail: SinkMessage, title: string, answer: 'Useful' | 'Not useful'): string {
  const block = new RegExp(`\\* ${title}\\n[\\s\\S]*?Useful: (\\S+) · Not useful: (\\S+)`).exec(mail.parsed.text ?? '');
  if (!block) throw new Error(`no feedback links for ${title} in\n${mail.parsed.text}`);
  return answer === 'Useful' ? block[1] : block[2];
}

describe('feedback on a campaign mail', () => {
  let campaign: string;
  let subscriberId: string;
  let mail: SinkMessage;

  beforeAll(async () => {
    const ids = await importConfirmed(t, [{ email: 'listener@example.com', locale: 'en', topics: ['trade-fairs'], digestWeekday: 3, digestHour: 8 }]);
    subscriberId = ids.get('listener@example.com')!;
    campaign = await createCampaign(t, {
      name: 'fair',
      topic: 'trade-fairs',
      sender: 'fairs',
      subject: { en: 'The fair moves to hall 4' },
      body: { en: '<p>Hall 4.</p>' },
    });
    await t.api('POST', `/v1/campaigns/${campaign}/schedule`, { body: {} });
    await tick();
    mail = mailsTo('listener@example.com')[0];
  });

  it('carries useful / not useful links in both parts and a Reply-To mailbox of its sender, shown in the footer', () => {
    const text = feedbackLinks(mail.parsed.text ?? '');
    const html = feedbackLinks(mail.parsed.html || '');
    expect(text).toHaveLength(2);
    expect(html.sort()).toEqual([...text].sort());
    expect(text.map((l) => l.split('?v=')[1]).sort()).toEqual(['not_useful', 'useful']);
    expect(mail.parsed.replyTo?.value[0].address).toBe('fairs@tactful.test');
    expect(mail.parsed.from?.value[0].address).not.toMatch(/no-?reply/i);
    expect(mail.parsed.text).toContain('Just reply, or write to fairs@tactful.test');
    expect(mail.parsed.html).toContain('mailto:fairs@tactful.test');
  });

  it('records nothing for 100 GETs on every feedback link, and the GET page preselects the choice', async () => {
    for (const link of feedbackLinks(`${mail.parsed.text}\n${mail.parsed.html}`)) {
      for (let i = 0; i < 100; i++) expect((await page(link)).status).toBe(200);
    }
    expect(await t.sql(`SELECT * FROM feedback`)).toEqual([]);
    const notUseful = feedbackLinks(mail.parsed.text ?? '').find((l) => l.endsWith('v=not_useful'))!;
    const { html } = await page(notUseful);
    expect(html).toMatch(/value="not_useful" checked/);
    expect(html).not.toMatch(/value="useful" checked/);
    expect(html).toContain('The fair moves to hall 4');
    expect(html).toContain('What would you like to hear about from us?');
  }, 60_000);

  it('records one answer on POST, changes it on a second POST, escapes the comment, and the marketer API counts it', async () => {
    const link = feedbackLinks(mail.parsed.text ?? '').find((l) => l.endsWith('v=useful'))!;
    const first = await submit(link, { rating: 'useful', comment: '<script>alert(1)</script> More on hall plans' });
    expect(first.status).toBe(200);
    expect(first.html).toContain('We noted your answer: Useful');
    expect(first.html).toContain('&lt;script&gt;alert(1)&lt;/script&gt; More on hall plans');
    expect(first.html).not.toContain('<script>alert(1)');
    expect(await t.sql(`SELECT rating, comment FROM feedback WHERE subscriber_id = $1`, [subscriberId])).toEqual([
      { rating: 'useful', comment: '<script>alert(1)</script> More on hall plans' },
    ]);

    const second = await submit(link, { rating: 'not_useful', comment: '<script>alert(2)</script>' });
    expect(second.html).toContain('We changed your answer to: Not useful');
    const rows = await t.sql(`SELECT rating, comment FROM feedback WHERE subscriber_id = $1`, [subscriberId]);
    expect(rows).toEqual([{ rating: 'not_useful', comment: '<script>alert(2)</script>' }]);

    const stats = await t.api('GET', `/v1/campaigns/${campaign}/feedback`);
    expect(stats.status).toBe(200);
    expect(stats.body).toMatchObject({ campaignId: campaign, total: 1, useful: 0, notUseful: 1, usefulRate: 0 });
    expect(stats.body.trend).toEqual([{ week: '2026-03-02', useful: 0, notUseful: 1, usefulRate: 0 }]);
    expect(stats.body.comments).toEqual([
      expect.objectContaining({ rating: 'not_useful', comment: '<script>alert(2)</script>', itemType: 'campaign', itemId: campaign }),
    ]);
    const topic = await t.api('GET', '/v1/topics/trade-fairs/feedback');
    expect(topic.body).toMatchObject({ topic: 'trade-fairs', total: 1, notUseful: 1 });

    // The next campaign's dry run tells the marketer.
    const next = await createCampaign(t, { name: 'next fair', topic: 'trade-fairs' });
    const audience = await t.api('GET', `/v1/campaigns/${next}/audience`);
    expect(audience.body.ratedNotUsefulLately).toEqual({ recipients: 1, days: 90 });
  });

  it('rejects a POST without a choice with a page naming it, and recording nothing new', async () => {
    const link = feedbackLinks(mail.parsed.text ?? '')[0];
    const result = await submit(link, { comment: 'hm' });
    expect(result.status).toBe(400);
    expect(result.html).toContain('Please choose');
    expect(await t.sql(`SELECT rating FROM feedback WHERE subscriber_id = $1`, [subscriberId])).toEqual([{ rating: 'not_useful' }]);
  });

  it('answers a forged or foreign token with the same 404 page, and 404 problem for unknown campaigns in the API', async () => {
    const link = feedbackLinks(mail.parsed.text ?? '')[0];
    const forged = link.replace(/\.([\w-]+)\?/, '.AAAA$1?');
    expect((await page(forged)).status).toBe(404);
    const preferencesToken = /\/p\/([\w.-]+)/.exec(mail.parsed.text ?? '')![1];
    expect((await page(`http://tactful.test/f/${preferencesToken}`)).status).toBe(404);
    const missing = await t.api('GET', '/v1/campaigns/00000000-0000-4000-8000-000000000000/feedback');
    expect(missing.status).toBe(404);
    expect(missing.headers.get('content-type')).toContain('application/problem+json');
    expect((await t.api('GET', '/v1/campaigns/nope/feedback')).body.errors).toEqual([{ field: 'id', message: 'must be a UUID' }]);
  });
});

describe('what feedback changes in the digest', () => {
  it('orders sections by the customer’s ratings, asks once after two "not useful" in a row, and drops the topic only on their POST', async () => {
    const email = 'digest-listener@example.com';
    const ids = await importConfirmed(t, [{ email, locale: 'en', topics: ['trade-fairs', 'offers'], digestWeekday: 1, digestHour: 9 }]);
    const id = ids.get(email)!;
    const week = async (n: number) => {
      clock.set(new Date(Date.parse('2026-03-08T10:00:00Z') + (n - 1) * 7 * DAY)); // Sunday
      await addItem('trade-fairs', `Fair ${n}`);
      await addItem('offers', `Offer ${n}`);
      clock.set(new Date(Date.parse('2026-03-09T08:00:00Z') + (n - 1) * 7 * DAY)); // Monday 09:00 Berlin
      await tick();
      const digests = mailsTo(email);
      return digests[digests.length - 1];
    };
    const sections = (mail: SinkMessage) =>
      (mail.parsed.text ?? '')
        .split(/== /)
        .slice(1)
        .map((s) => s.split(' ==')[0]);

    const first = await week(1);
    expect(first.parsed.text).toContain('Fair 1');
    // Every entry has its own pair of links, in both parts.
    expect(feedbackLinks(first.parsed.text ?? '')).toHaveLength(4);
    expect(feedbackLinks(first.parsed.html || '').sort()).toEqual(feedbackLinks(first.parsed.text ?? '').sort());
    expect(first.parsed.replyTo?.value[0].address).toBe('hello@tactful.test');
    await submit(entryLink(first, 'Fair 1', 'Not useful'), { rating: 'not_useful' });
    await submit(entryLink(first, 'Offer 1', 'Useful'), { rating: 'useful' });

    const second = await week(2);
    expect(sections(second)).toEqual(['Topic offers', 'Topic trade-fairs']); // rated useful first
    expect(second.parsed.text).not.toContain('Stop mails about');
    await submit(entryLink(second, 'Fair 2', 'Not useful'), { rating: 'not_useful' });

    const third = await week(3);
    expect(third.parsed.text).toContain('You rated our last two mails about “Topic trade-fairs” as not useful');
    const question = /Stop mails about “Topic trade-fairs”: (\S+)/.exec(third.parsed.text ?? '')![1];
    expect((third.parsed.html || '').replace(/&#x3D;/g, '=')).toContain(question);
    // Scanners and curious clicks change nothing.
    for (let i = 0; i < 100; i++) expect((await page(question)).status).toBe(200);
    expect(
      await t.sql(`SELECT ts.status FROM topic_subscriptions ts JOIN topics t ON t.id = ts.topic_id WHERE ts.subscriber_id = $1 AND t.key = 'trade-fairs'`, [
        id,
      ]),
    ).toEqual([{ status: 'confirmed' }]);

    const dropped = await submit(question);
    expect(dropped.status).toBe(200);
    expect(dropped.html).toContain('you will get no more mails about “Topic trade-fairs”');
    expect(
      await t.sql(`SELECT ts.status FROM topic_subscriptions ts JOIN topics t ON t.id = ts.topic_id WHERE ts.subscriber_id = $1 AND t.key = 'trade-fairs'`, [
        id,
      ]),
    ).toEqual([{ status: 'revoked' }]);
    const timeline = await t.api('GET', `/v1/subscribers/${id}/timeline`);
    expect(timeline.body.customerChoices[0]).toMatchObject({ action: 'dropped_topic', by: 'customer', topic: 'trade-fairs' });
    expect(timeline.body.customerChoices.filter((c: { action: string }) => c.action === 'rated')).toHaveLength(3);
    const preferences = await page(/http:\/\/tactful\.test\/p\/[\w.-]+/.exec(third.parsed.text ?? '')![0]);
    expect(preferences.html).toContain('You stopped this topic on');
    expect(preferences.html).toMatch(/Your ratings of recent mails: 1 useful, 0 not useful/);

    const fourth = await week(4);
    expect(fourth.parsed.text).not.toContain('Fair 4');
    expect(fourth.parsed.text).not.toContain('Stop mails about');
  }, 120_000);

  it('asks once per streak: an ignored question is not repeated until two new "not useful" answers', async () => {
    const email = 'ignorer@example.com';
    clock.set(new Date('2026-03-30T10:00:00Z'));
    await importConfirmed(t, [{ email, locale: 'en', topics: ['trade-fairs', 'offers'], digestWeekday: 1, digestHour: 9 }]);
    const week = async (n: number) => {
      clock.set(new Date(Date.parse('2026-04-05T10:00:00Z') + (n - 1) * 7 * DAY));
      await addItem('trade-fairs', `Late fair ${n}`);
      clock.set(new Date(Date.parse('2026-04-06T07:00:00Z') + (n - 1) * 7 * DAY)); // 09:00 CEST
      await tick();
      const digests = mailsTo(email);
      return digests[digests.length - 1];
    };
    const one = await week(1);
    await submit(entryLink(one, 'Late fair 1', 'Not useful'), { rating: 'not_useful' });
    const two = await week(2);
    await submit(entryLink(two, 'Late fair 2', 'Not useful'), { rating: 'not_useful' });
    expect((await week(3)).parsed.text).toContain('Stop mails about');
    expect((await week(4)).parsed.text).not.toContain('Stop mails about');
  }, 120_000);
});

describe('privacy', () => {
  it('exports feedback and suggestions with the person, and erasing them erases it', async () => {
    const email = 'private@example.com';
    const ids = await importConfirmed(t, [{ email, locale: 'de', topics: ['offers'], digestWeekday: 1, digestHour: 9 }]);
    const id = ids.get(email)!;
    const campaign = await createCampaign(t, { name: 'privacy', topic: 'offers', subject: { de: 'Zahlungsziel 60 Tage' }, body: { de: '<p>60</p>' } });
    clock.set(new Date('2026-06-01T10:00:00Z'));
    await t.api('POST', `/v1/campaigns/${campaign}/schedule`, { body: {} });
    await tick();
    const mail = mailsTo(email)[0];
    expect(mail.parsed.text).toContain('War das für Sie nützlich?');
    const result = await submit(feedbackLinks(mail.parsed.text ?? '')[0], { rating: 'useful', comment: 'Mehr zu <b>Zahlungszielen</b>' });
    expect(result.html).toContain('Mehr zu &lt;b&gt;Zahlungszielen&lt;/b&gt;');
    const preferencesUrl = /http:\/\/tactful\.test\/p\/[\w.-]+/.exec(mail.parsed.text ?? '')![0];
    const { html } = await page(preferencesUrl);
    const csrf = /name="csrf" value="([^"]+)"/.exec(html)![1];
    const suggestion = await fetch(`${local(preferencesUrl)}/suggest`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ csrf, suggestion: 'Messen in <i>Asien</i>' }).toString(),
    });
    expect(suggestion.status).toBe(200);
    expect(await suggestion.text()).toContain('Danke für Ihren Vorschlag');

    const exported = await t.api('GET', `/v1/subscribers/${id}/export`);
    expect(exported.body.feedback).toEqual([expect.objectContaining({ rating: 'useful', comment: 'Mehr zu <b>Zahlungszielen</b>', topic: 'offers' })]);
    expect(exported.body.topicSuggestions).toEqual([expect.objectContaining({ text: 'Messen in <i>Asien</i>' })]);

    // Marketers read what people asked for, not who asked; a second suggestion pages.
    await t.sql(`INSERT INTO topic_suggestions (subscriber_id, text, created_at) VALUES ($1, 'Zölle', now())`, [id]);
    const readOnly = (await t.api('POST', '/v1/api-keys', { body: { name: 'analyst', scopes: ['read'] } })).body.key;
    const first = await t.api('GET', '/v1/topic-suggestions?limit=1', { key: readOnly });
    expect(first.status).toBe(200);
    expect(first.body).toMatchObject({ total: 2, items: [{ text: 'Zölle', locale: 'de', chosenTopics: ['offers'] }] });
    const second = await t.api('GET', `/v1/topic-suggestions?limit=1&before=${first.body.nextCursor}`, { key: readOnly });
    expect(second.body.items).toEqual([expect.objectContaining({ text: 'Messen in <i>Asien</i>', locale: 'de' })]);
    expect(second.body.nextCursor).toBeNull();
    expect(JSON.stringify([first.body, second.body])).not.toMatch(/private@example\.com|subscriber/i);
    expect((await t.api('GET', '/v1/topic-suggestions?before=abc')).body.errors).toEqual([expect.objectContaining({ field: 'before' })]);
    const webinarsOnly = (await t.api('POST', '/v1/api-keys', { body: { name: 'webinars', scopes: ['webinars:write'] } })).body.key;
    expect((await t.api('GET', '/v1/topic-suggestions', { key: webinarsOnly })).status).toBe(403);

    expect((await t.api('DELETE', `/v1/subscribers/${id}`)).status).toBe(204);
    for (const table of ['feedback', 'topic_suggestions', 'drop_topic_prompts']) {
      expect(await t.sql(`SELECT 1 FROM ${table} WHERE subscriber_id = $1`, [id])).toEqual([]);
    }
    expect((await t.api('GET', `/v1/campaigns/${campaign}/feedback`)).body.total).toBe(0);
    expect((await t.api('GET', '/v1/topic-suggestions')).body).toEqual({ total: 0, items: [], nextCursor: null });
  }, 60_000);
});
