// The scheduler never starves itself (issue 21; the clock-skew run of 26ad5e1 that sent nothing):
// each job holds its advisory lock's session and needs a second connection for its work, and at a
// minute's boundary most jobs tick at once. With the smallest scheduler pool (two connections)
// every job ticking together, again and again, still finishes without a pool timeout, a repeated
// tick is skipped rather than queued behind the running one, and the due campaign goes out.
import { SchedulerRegistry } from '@nestjs/schedule';
import { SCHEDULER_JOBS } from '../../src/config/config';
import { JobsService } from '../../src/scheduler/jobs.service';
import { SchedulerRunsService } from '../../src/scheduler/scheduler-runs.service';
import { startTestApp, TestApp } from '../support/app';
import { createCampaign, createTopics, importConfirmed } from '../support/seed';

let t: TestApp;

beforeAll(async () => {
  t = await startTestApp({ env: { DB_SCHEDULER_POOL_SIZE: '2', SCHEDULER_ENABLED: 'true' } });
  // The test fires the ticks itself, all at once.
  const registry = t.app.get(SchedulerRegistry);
  for (const name of registry.getIntervals()) registry.deleteInterval(name);
  await createTopics(t, ['news']);
  await importConfirmed(
    t,
    ['anna', 'ben', 'cara'].map((name) => ({ email: `${name}@example.com`, topics: ['news'] })),
  );
});
afterAll(() => t?.close());

it('runs every job ticking at once on a two-connection pool to its end, one job at a time, and dispatches the due campaign', async () => {
  const campaign = await createCampaign(t, { topic: 'news' });
  expect((await t.api('POST', `/v1/campaigns/${campaign}/schedule`, { body: {} })).status).toBe(200);
  const jobs = t.app.get(JobsService);
  const runs = t.app.get(SchedulerRunsService);

  // Three rounds of every job's tick, fired together without waiting: the first of each job runs,
  // the two repeats find it still running (or waiting for the one slot) and are skipped.
  const ticks = [1, 2, 3].flatMap(() => SCHEDULER_JOBS.map((job) => jobs.tick(job)));
  const mostRunning = { value: 0 };
  const sampler = setInterval(() => (mostRunning.value = Math.max(mostRunning.value, runs.load().running)), 1);
  const outcomes = await Promise.all(ticks).finally(() => clearInterval(sampler));

  expect(outcomes.filter(Boolean)).toHaveLength(SCHEDULER_JOBS.length);
  expect(outcomes.slice(0, SCHEDULER_JOBS.length).every(Boolean)).toBe(true);
  expect(mostRunning.value).toBeLessThanOrEqual(1);
  expect(runs.load()).toEqual({ running: 0, waiting: 0 });
  expect(await t.sql(`SELECT job, error FROM scheduler_runs WHERE error IS NOT NULL`)).toEqual([]);
  const [{ queued }] = await t.sql(`SELECT count(*)::int AS queued FROM deliveries WHERE ref_id = $1 AND kind = 'campaign' AND status = 'queued'`, [campaign]);
  expect(queued).toBe(3);
  const [dispatch] = await t.sql(`SELECT counts FROM scheduler_runs WHERE job = 'dispatch-campaigns' ORDER BY started_at DESC LIMIT 1`);
  expect(dispatch.counts).toMatchObject({ campaigns: 1 });
});
