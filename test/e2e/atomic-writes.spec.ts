// A request is one transaction or nothing, across domains too (issue 17, item 12): a webinar and
// the campaigns it makes (invitation, follow-ups) commit together, so a failure anywhere leaves
// neither, and a retry makes exactly one of each. Faults are injected into the real schema (a
// trigger that refuses a write), or come from input the code cannot use.
import { FakeClock } from '../../src/common/clock';
import { startTestApp, TestApp } from '../support/app';
import { createTopics } from '../support/seed';

let t: TestApp;
const clock = new FakeClock('2026-03-02T09:00:00Z');
const DAY = 86_400_000;

beforeAll(async () => {
  t = await startTestApp({ clock });
  await createTopics(t, ['events']);
});
afterAll(() => t?.close());

/** Makes every write of `event` on `table` fail (as a full disk or a broken constraint would) until undone. */
async function injectFault(table: string, event: 'INSERT' | 'UPDATE', when = 'true'): Promise<() => Promise<void>> {
  const name = `injected_fault_${table}`;
  await t.sql(`CREATE OR REPLACE FUNCTION ${name}() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'injected fault'; END $$`);
  await t.sql(`CREATE TRIGGER ${name} BEFORE ${event} ON ${table} FOR EACH ROW WHEN (${when}) EXECUTE FUNCTION ${name}()`);
  return async () => {
    await t.sql(`DROP TRIGGER ${name} ON ${table}`);
    await t.sql(`DROP FUNCTION ${name}()`);
  };
}

const count = async (sql: string, params: unknown[] = []) => (await t.sql(`SELECT count(*)::int AS n FROM ${sql}`, params))[0].n as number;

function webinar(slug: string, extra: Record<string, unknown> = {}) {
  return {
    slug,
    topic: 'events',
    title: { en: `Webinar ${slug}` },
    startsAt: new Date(clock.now().getTime() + 7 * DAY).toISOString(),
    endsAt: new Date(clock.now().getTime() + 7 * DAY + 3_600_000).toISOString(),
    joinUrl: 'https://meet.example.com/j/1',
    ...extra,
  };
}

describe('creating a webinar with its invitation', () => {
  it('leaves no webinar and no campaign when the invitation cannot be made, and the retry makes one of each', async () => {
    // A week date: the validator lets it through, the code cannot use it (or, once dates are
    // parsed strictly, refuses it). Either way nothing may stay behind.
    const failed = await t.api('POST', '/v1/webinars', { body: webinar('week-date', { invitation: { sendAt: '2026-W10-1' } }) });
    expect(failed.status).toBeGreaterThanOrEqual(400);
    expect(failed.headers.get('content-type')).toContain('application/problem+json');
    expect(await count(`webinars WHERE slug = 'week-date'`)).toBe(0);
    expect(await count(`campaigns WHERE name = 'Webinar invitation: week-date'`)).toBe(0);

    const retried = await t.api('POST', '/v1/webinars', { body: webinar('week-date', { invitation: { sendAt: '2026-03-03T09:00:00Z' } }) });
    expect(retried.status).toBe(201);
    expect(await count(`webinars WHERE slug = 'week-date'`)).toBe(1);
    expect(await count(`campaigns WHERE name = 'Webinar invitation: week-date'`)).toBe(1);
    expect((await t.api('GET', `/v1/campaigns/${retried.body.invitationCampaignId}`)).body.status).toBe('scheduled');
  });

  it('rolls the webinar back when writing its campaign fails, and the retry makes one of each', async () => {
    const undo = await injectFault('campaigns', 'INSERT');
    try {
      const failed = await t.api('POST', '/v1/webinars', { body: webinar('campaign-fault', { invitation: {} }) });
      expect(failed.status).toBe(500);
      expect(failed.body).toMatchObject({ code: 'internal' });
    } finally {
      await undo();
    }
    expect(await count(`webinars WHERE slug = 'campaign-fault'`)).toBe(0);
    expect(await count(`campaigns WHERE name = 'Webinar invitation: campaign-fault'`)).toBe(0);

    const retried = await t.api('POST', '/v1/webinars', { body: webinar('campaign-fault', { invitation: {} }) });
    expect(retried.status).toBe(201);
    expect(await count(`webinars WHERE slug = 'campaign-fault'`)).toBe(1);
    expect(await count(`campaigns WHERE name = 'Webinar invitation: campaign-fault'`)).toBe(1);
  });
});

describe('changing, cancelling and closing a webinar', () => {
  it('keeps the webinar as it was when its new invitation cannot be made', async () => {
    const created = await t.api('POST', '/v1/webinars', { body: webinar('later-invite') });
    expect(created.status).toBe(201);
    const undo = await injectFault('campaigns', 'INSERT');
    try {
      const failed = await t.api('PATCH', `/v1/webinars/${created.body.id}`, { body: { title: { en: 'A new title' }, invitation: {} } });
      expect(failed.status).toBe(500);
    } finally {
      await undo();
    }
    expect((await t.api('GET', `/v1/webinars/${created.body.id}`)).body).toMatchObject({ title: { en: 'Webinar later-invite' }, invitationCampaignId: null });
    expect(await count(`campaigns WHERE name = 'Webinar invitation: later-invite'`)).toBe(0);
  });

  it('keeps the invitation running when cancelling the webinar fails', async () => {
    const created = await t.api('POST', '/v1/webinars', { body: webinar('cancel-fault', { invitation: { sendAt: '2026-03-05T09:00:00Z' } }) });
    expect(created.status).toBe(201);
    const undo = await injectFault('webinars', 'UPDATE', `NEW.status = 'cancelled'`);
    try {
      expect((await t.api('POST', `/v1/webinars/${created.body.id}/cancel`)).status).toBe(500);
    } finally {
      await undo();
    }
    expect((await t.api('GET', `/v1/campaigns/${created.body.invitationCampaignId}`)).body.status).toBe('scheduled');
    expect((await t.api('POST', `/v1/webinars/${created.body.id}/cancel`)).status).toBe(200);
    expect((await t.api('GET', `/v1/campaigns/${created.body.invitationCampaignId}`)).body.status).toBe('cancelled');
  });

  it('records no attendance when its follow-up campaigns cannot be made, and the retry makes each once', async () => {
    const created = await t.api('POST', '/v1/webinars', { body: webinar('follow-up-fault') });
    expect(created.status).toBe(201);
    for (const email of ['came@example.com', 'stayed-away@example.com']) {
      expect((await t.api('POST', `/v1/webinars/${created.body.id}/registrations`, { body: { email } })).status).toBe(201);
    }
    clock.advance(8 * DAY);
    const attendance = { attended: ['came@example.com'], recordingUrl: 'https://video.example.com/r/1' };
    const undo = await injectFault('campaigns', 'INSERT', `NEW.name LIKE 'Webinar missed:%'`);
    try {
      expect((await t.api('POST', `/v1/webinars/${created.body.id}/attendance`, { body: attendance })).status).toBe(500);
    } finally {
      await undo();
    }
    expect(await count(`webinar_registrations WHERE webinar_id = $1 AND attended IS NOT NULL`, [created.body.id])).toBe(0);
    expect(await count(`campaigns WHERE name LIKE 'Webinar % follow-up-fault'`)).toBe(0);
    expect((await t.sql(`SELECT attendance_imported_at, attended_campaign_id FROM webinars WHERE id = $1`, [created.body.id]))[0]).toEqual({
      attendance_imported_at: null,
      attended_campaign_id: null,
    });

    const retried = await t.api('POST', `/v1/webinars/${created.body.id}/attendance`, { body: attendance });
    expect(retried.status).toBe(200);
    expect(retried.body).toMatchObject({ attended: 1, missed: 1 });
    expect(await count(`campaigns WHERE name = 'Webinar recording: follow-up-fault'`)).toBe(1);
    expect(await count(`campaigns WHERE name = 'Webinar missed: follow-up-fault'`)).toBe(1);
  });
});
