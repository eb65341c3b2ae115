// Rotating the HMAC secrets without breaking what is out there: links already mailed (preferences,
// one-click unsubscribe) and webhooks signed by senders that have not switched yet keep working
// while the old secret is listed in TOKEN_SECRETS_PREVIOUS / WEBHOOK_SECRETS_PREVIOUS; new links
// are signed with the new secret; once the old one is dropped, its signatures are refused.
import { FakeClock } from '../../src/common/clock';
import { signWebhook } from '../../src/common/signatures';
import { keyIdOf, TokenService } from '../../src/links/tokens';
import { startTestApp, TestApp, TEST_SECRETS } from '../support/app';
import { createTopics, importConfirmed } from '../support/seed';

const OLD = { token: TEST_SECRETS.TOKEN_SECRET, webhook: TEST_SECRETS.WEBHOOK_SECRET };
const NEW = { token: 'rotated-token-secret-abcdefghijklmnopqrstuvwxyz', webhook: 'rotated-webhook-secret-abcdefghijklmnopqrstuvw' };
const clock = new FakeClock('2026-03-02T08:00:00Z');

let before: TestApp; // still on the old secrets
let during: TestApp; // new secrets, old ones accepted
let after: TestApp; // old ones dropped
let subscriber: string;

beforeAll(async () => {
  before = await startTestApp({ clock });
  const shared = { DATABASE_URL: before.db.url };
  during = await startTestApp({
    clock,
    env: { ...shared, TOKEN_SECRET: NEW.token, WEBHOOK_SECRET: NEW.webhook, TOKEN_SECRETS_PREVIOUS: OLD.token, WEBHOOK_SECRETS_PREVIOUS: OLD.webhook },
  });
  after = await startTestApp({ clock, env: { ...shared, TOKEN_SECRET: NEW.token, WEBHOOK_SECRET: NEW.webhook } });
  await createTopics(before, ['offers']);
  subscriber = (await importConfirmed(before, [{ email: 'rotation@example.com', topics: ['offers'] }])).get('rotation@example.com')!;
});
afterAll(async () => {
  for (const app of [after, during]) await app?.app.close();
  await before?.close();
});

const status = async (app: TestApp, path: string, init?: RequestInit) => (await fetch(`${app.baseUrl}${path}`, init)).status;

it('keeps links signed with the retired secret working during the rotation, signs new ones with the new secret, and refuses the old ones after', async () => {
  const oldLink = before.app.get(TokenService).sign('preferences', subscriber);
  const newLink = during.app.get(TokenService).sign('preferences', subscriber);
  expect(oldLink.split('.')[0]).toBe(keyIdOf(OLD.token));
  expect(newLink.split('.')[0]).toBe(keyIdOf(NEW.token));

  expect(await status(before, `/p/${oldLink}`)).toBe(200);
  expect(await status(during, `/p/${oldLink}`)).toBe(200);
  expect(await status(during, `/p/${newLink}`)).toBe(200);
  expect(await status(after, `/p/${newLink}`)).toBe(200);
  expect(await status(after, `/p/${oldLink}`)).toBe(404);
  expect(await status(before, `/p/${newLink}`)).toBe(404);

  // The one-click unsubscribe in a mail sent before the rotation still unsubscribes.
  const oldUnsubscribe = before.app.get(TokenService).sign('unsubscribe', subscriber);
  expect(
    await status(after, `/u/${oldUnsubscribe}`, {
      method: 'POST',
      body: 'List-Unsubscribe=One-Click',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
    }),
  ).toBe(404);
  expect((await before.api('GET', `/v1/subscribers/${subscriber}`)).body.topics[0].status).toBe('confirmed');
  expect(
    await status(during, `/u/${oldUnsubscribe}`, {
      method: 'POST',
      body: 'List-Unsubscribe=One-Click',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
    }),
  ).toBe(200);
  expect((await before.api('GET', `/v1/subscribers/${subscriber}`)).body.topics[0].status).toBe('revoked');
});

it('accepts webhooks signed with the retired secret during the rotation only', async () => {
  const post = (app: TestApp, secret: string, id: string) => {
    const raw = JSON.stringify({ id, type: 'bounce', bounceType: 'soft', email: 'rotation@example.com' });
    return status(app, '/webhooks/mail-events', {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-tactful-signature': signWebhook(secret, raw, Math.floor(clock.now().getTime() / 1000)) },
      body: raw,
    });
  };
  expect(await post(during, OLD.webhook, 'rot-1')).toBe(200);
  expect(await post(during, NEW.webhook, 'rot-2')).toBe(200);
  expect(await post(after, OLD.webhook, 'rot-3')).toBe(401);
  expect(await post(after, NEW.webhook, 'rot-4')).toBe(200);
  const ids = await before.sql(`SELECT event_id FROM webhook_events WHERE event_id LIKE 'rot-%' ORDER BY event_id`);
  expect(ids.map((r) => r.event_id)).toEqual(['rot-1', 'rot-2', 'rot-4']);
});
