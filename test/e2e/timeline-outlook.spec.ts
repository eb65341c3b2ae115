// The timeline (and the preferences page) of a customer no marketing can reach says so, and why:
// no next slot and no next digest for someone unsubscribed, bounced, complained, pending, without
// a confirmed topic or paused until further notice; a paused customer sees when the pause ends.
import { FakeClock } from '../../src/common/clock';
import { signWebhook } from '../../src/common/signatures';
import { TokenService } from '../../src/links/tokens';
import { startTestApp, TEST_SECRETS, TestApp } from '../support/app';
import { createTopics, importConfirmed } from '../support/seed';

const clock = new FakeClock('2026-03-02T09:00:00Z'); // Monday 10:00 in Berlin
let t: TestApp;
let ids: Map<string, string>;

async function mailEvent(body: Record<string, string>): Promise<void> {
  const raw = JSON.stringify(body);
  const res = await fetch(`${t.baseUrl}/webhooks/mail-events`, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      'x-tactful-signature': signWebhook(TEST_SECRETS.WEBHOOK_SECRET, raw, Math.floor(clock.now().getTime() / 1000)),
    },
    body: raw,
  });
  expect(res.status).toBe(200);
}

const timeline = async (email: string) => {
  const res = await t.api('GET', `/v1/subscribers/${ids.get(email)}/timeline`);
  expect(res.status).toBe(200);
  return res.body;
};

beforeAll(async () => {
  t = await startTestApp({ clock });
  await createTopics(t, ['news', 'other']);
  ids = await importConfirmed(
    t,
    ['active', 'unsubscribed', 'bounced', 'complained', 'no-topic', 'paused', 'paused-open'].map((name) => ({
      email: `${name}@example.com`,
      locale: 'en' as const,
      topics: ['news'],
    })),
  );
  const pending = await t.api('POST', '/v1/subscribers', { body: { email: 'pending@example.com', locale: 'en', topics: ['news'] } });
  expect(pending.body.status).toBe('pending');
  ids.set('pending@example.com', pending.body.id);

  const patch = async (email: string, body: unknown) => expect((await t.api('PATCH', `/v1/subscribers/${ids.get(email)}`, { body })).status).toBe(200);
  await patch('unsubscribed@example.com', { status: 'unsubscribed' });
  await mailEvent({ id: 'evt-1', type: 'bounce', bounceType: 'hard', email: 'bounced@example.com' });
  await mailEvent({ id: 'evt-2', type: 'complaint', email: 'complained@example.com' });
  await patch('no-topic@example.com', { topics: ['other'] }); // news revoked, other pending
  const paused = await t.api('PATCH', `/v1/subscribers/${ids.get('paused@example.com')}/preferences`, { body: { pauseWeeks: 2 } });
  expect(paused.status).toBe(200);
  await patch('paused-open@example.com', { status: 'paused' });
});
afterAll(() => t.close());

describe('the timeline says when marketing can come, or why none can', () => {
  it('gives an active customer with a confirmed topic the next slot and the next digest, and no reason', async () => {
    expect(await timeline('active@example.com')).toMatchObject({
      nextMarketingSlot: '2026-03-02T09:00:00.000Z',
      nextDigestAt: '2026-03-09T08:00:00.000Z', // Monday 09:00 Berlin, the default slot
      noMarketingBecause: null,
      noMarketingLabel: null,
      pausedUntil: null,
    });
  });

  it.each([
    ['unsubscribed', 'unsubscribed', 'Unsubscribed: no more newsletters'],
    ['bounced', 'bounced', 'The address bounced: no more mail'],
    ['complained', 'complained', 'Marked a mail as spam: no more newsletters'],
    ['pending', 'pending', 'Has not confirmed the sign-up yet'],
    ['no-topic', 'no_confirmed_topic', 'No confirmed topic'],
    ['paused-open', 'paused', 'Paused'],
  ])('%s: no next slot, no next digest, and the reason %s', async (name, because, label) => {
    const body = await timeline(`${name}@example.com`);
    expect(body).toMatchObject({ nextMarketingSlot: null, nextDigestAt: null, noMarketingBecause: because, pausedUntil: null });
    expect(body.noMarketingLabel.en).toBe(label);
    expect(body.noMarketingLabel.de).toEqual(expect.any(String));
  });

  it('shows a customer paused for two weeks when the pause ends, and the first slot and digest after it', async () => {
    expect(await timeline('paused@example.com')).toMatchObject({
      pausedUntil: '2026-03-16T09:00:00.000Z',
      nextMarketingSlot: '2026-03-16T09:00:00.000Z',
      nextDigestAt: '2026-03-23T08:00:00.000Z', // the Monday 09:00 slot after the pause
      noMarketingBecause: 'paused',
      noMarketingLabel: { en: 'Paused' },
    });
  });

  it('has no timeline for an erased person at all', async () => {
    const erased = (await importConfirmed(t, [{ email: 'erased@example.com', topics: ['news'] }])).get('erased@example.com')!;
    expect((await t.api('DELETE', `/v1/subscribers/${erased}`)).status).toBe(204);
    expect((await t.api('GET', `/v1/subscribers/${erased}/timeline`)).status).toBe(404);
  });
});

describe('the preferences page and its JSON say the same', () => {
  it.each([
    ['unsubscribed', 'unsubscribed', 'You unsubscribed.'],
    ['bounced', 'bounced', 'Mail to your address did not arrive.'],
    ['complained', 'complained', 'You marked one of our mails as spam.'],
    ['pending', 'pending', 'You have not confirmed your sign-up yet.'],
    ['no-topic', 'no_confirmed_topic', 'You have not chosen a topic.'],
    ['paused-open', 'paused', 'You paused them.'],
  ])('%s: no next newsletter, because %s', async (name, because, sentence) => {
    const id = ids.get(`${name}@example.com`)!;
    const json = await t.api('GET', `/v1/subscribers/${id}/preferences`);
    expect(json.body).toMatchObject({ nextNewsletter: null, noNewsletterBecause: because });
    const page = await fetch(`${t.baseUrl}${new URL(t.app.get(TokenService).url('preferences', id)).pathname}`);
    expect(page.status).toBe(200);
    const html = await page.text();
    expect(html).toContain(`You are not receiving newsletters at the moment. ${sentence}`);
  });

  it('shows a paused customer the first newsletter after the pause', async () => {
    const json = await t.api('GET', `/v1/subscribers/${ids.get('paused@example.com')}/preferences`);
    expect(json.body).toMatchObject({ nextNewsletter: '2026-03-23T08:00:00.000Z', noNewsletterBecause: 'paused', pausedUntil: '2026-03-16T09:00:00.000Z' });
  });
});
