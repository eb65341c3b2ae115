// Old news is no news: a deferred item without its own expiry waits DEFERRED_MAX_AGE_DAYS for a
// digest, then expires with its reason; one with an expiry keeps it.
import { DeferralService } from '../../src/cadence/deferral.service';
import { CampaignDispatchService } from '../../src/campaigns/campaign-dispatch.service';
import { FakeClock } from '../../src/common/clock';
import { startTestApp, TestApp } from '../support/app';
import { createCampaign, createTopics, importConfirmed } from '../support/seed';

const DAY = 86_400_000;
const clock = new FakeClock('2026-03-03T09:00:00Z');
let t: TestApp;

beforeAll(async () => {
  t = await startTestApp({ clock, env: { DEFERRED_MAX_AGE_DAYS: '10' } });
  await createTopics(t, ['offers']);
});
afterAll(() => t.close());

it('expires a deferred item without expiry after DEFERRED_MAX_AGE_DAYS, and one with an expiry at its expiry', async () => {
  const ids = await importConfirmed(t, [{ email: 'backlog@example.com', topics: ['offers'], digestWeekday: 7, digestHour: 23 }]);
  const subscriber = ids.get('backlog@example.com')!;
  // The window is taken for the next weeks, so both campaigns are deferred.
  await t.sql(`INSERT INTO cadence_windows (subscriber_id, last_marketing_at, window_days, time_zone) VALUES ($1, $2, 7, 'Europe/Berlin')`, [
    subscriber,
    clock.now(),
  ]);
  const open = await createCampaign(t, { name: 'no expiry', topic: 'offers' });
  const dated = await createCampaign(t, { name: 'dated', topic: 'offers', expiresAt: new Date(clock.now().getTime() + 20 * DAY).toISOString() });
  for (const id of [open, dated]) await t.api('POST', `/v1/campaigns/${id}/schedule`, { body: {} });
  await t.app.get(CampaignDispatchService).dispatchDue();
  const status = async (ref: string) => (await t.sql(`SELECT status, reason FROM deliveries WHERE ref_id = $1`, [ref]))[0];
  expect(await status(open)).toEqual({ status: 'deferred', reason: 'deferred_cadence' });
  expect(await status(dated)).toEqual({ status: 'deferred', reason: 'deferred_cadence' });

  const expire = () => t.app.get(DeferralService).expireStale();
  clock.advance(9 * DAY);
  expect(await expire()).toBe(0);
  clock.advance(1 * DAY + 60_000);
  expect(await expire()).toBe(1);
  expect(await status(open)).toEqual({ status: 'expired', reason: 'expired' });
  expect(await status(dated)).toEqual({ status: 'deferred', reason: 'deferred_cadence' });
  clock.advance(10 * DAY);
  expect(await expire()).toBe(1);
  expect(await status(dated)).toEqual({ status: 'expired', reason: 'expired' });
});
