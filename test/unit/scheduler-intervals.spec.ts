// Each scheduler job ticks at the interval its SCHEDULER_<JOB>_SECONDS variable names, through
// @nestjs/schedule's registry (the real one; the timers are jest's fake clock).
import { SchedulerRegistry } from '@nestjs/schedule';
import { loadConfig, SCHEDULER_JOBS } from '../../src/config/config';
import { FakeClock } from '../../src/common/clock';
import { JobsService } from '../../src/scheduler/jobs.service';
import { SchedulerRunsService, schedulerSlots } from '../../src/scheduler/scheduler-runs.service';

const dev = { tokenSecret: 't'.repeat(32), webhookSecret: 'w'.repeat(32) };

/** A JobsService whose runs are only counted: which job ticked, how often (`hold` keeps a job's runs from finishing). */
function jobsWith(env: Record<string, string>, hold: Record<string, Promise<void>> = {}) {
  const ticks = new Map<string, number>();
  const record = async (job: string) => {
    ticks.set(job, (ticks.get(job) ?? 0) + 1);
    await hold[job];
    return null;
  };
  const runs = { record } as unknown as SchedulerRunsService;
  const registry = new SchedulerRegistry();
  const unused = undefined as never;
  const jobs = new JobsService(unused, loadConfig(env, dev), registry, runs, unused, unused, unused, unused, unused, unused, unused, unused);
  return { jobs, registry, ticks };
}

beforeEach(() => jest.useFakeTimers());
afterEach(() => jest.useRealTimers());

describe('scheduler intervals', () => {
  it('registers every job with the registry and ticks each at its configured interval', async () => {
    const { jobs, registry, ticks } = jobsWith({ SCHEDULER_DISPATCH_CAMPAIGNS_SECONDS: '2', SCHEDULER_CAMPAIGN_PROGRESS_SECONDS: '7' });
    jobs.onApplicationBootstrap();
    try {
      expect(registry.getIntervals().sort()).toEqual([...SCHEDULER_JOBS].sort());
      await jest.advanceTimersByTimeAsync(60_000);
      expect(Object.fromEntries(ticks)).toEqual({
        'dispatch-campaigns': 30, // every 2 s
        'campaign-progress': 8, // every 7 s
        'compose-digests': 2, // the default, 30 s
        'expire-deferred': 1,
        'double-opt-in': 1,
        'webinar-reminders': 1,
        'resume-paused': 1,
        'fold-delivery-counts': 6, // the default, 10 s
      });
    } finally {
      for (const name of registry.getIntervals()) registry.deleteInterval(name);
    }
  });

  it('stops ticking once the registry clears the intervals (as @nestjs/schedule does before shutdown)', () => {
    const { jobs, registry, ticks } = jobsWith({});
    jobs.onApplicationBootstrap();
    for (const name of registry.getIntervals()) registry.deleteInterval(name);
    jest.advanceTimersByTime(120_000);
    expect(ticks.size).toBe(0);
  });

  it('skips a tick while the same job is still running, and ticks again once it has finished', async () => {
    let finish!: () => void;
    const slow = new Promise<void>((resolve) => (finish = resolve));
    const { jobs, registry, ticks } = jobsWith({ SCHEDULER_DISPATCH_CAMPAIGNS_SECONDS: '2' }, { 'dispatch-campaigns': slow });
    jobs.onApplicationBootstrap();
    try {
      await jest.advanceTimersByTimeAsync(20_000); // ten ticks due, the first still running
      expect(ticks.get('dispatch-campaigns')).toBe(1);
      expect(ticks.get('fold-delivery-counts')).toBe(2); // the others tick on
      expect(await jobs.tick('dispatch-campaigns')).toBe(false);
      finish();
      await jest.advanceTimersByTimeAsync(2_000);
      expect(ticks.get('dispatch-campaigns')).toBe(2);
    } finally {
      for (const name of registry.getIntervals()) registry.deleteInterval(name);
    }
  });
});

describe('scheduler slots', () => {
  it('gives a job two scheduler connections: half the pool runs at once, at least one', () => {
    expect([2, 3, 4, 6, 7, 200].map(schedulerSlots)).toEqual([1, 1, 2, 3, 3, 100]);
  });

  it('runs at most that many jobs at once and the rest after them, in order', async () => {
    jest.useRealTimers();
    const clock = new FakeClock();
    const runs = new SchedulerRunsService(undefined as never, clock, undefined as never, loadConfig({ DB_SCHEDULER_POOL_SIZE: '5' }, dev));
    const releases: (() => void)[] = [];
    const started: string[] = [];
    const done = ['a', 'b', 'c', 'd', 'e'].map((job) =>
      runs.record(job, async () => {
        started.push(job);
        await new Promise<void>((resolve) => releases.push(resolve));
        return null; // an idle run: nothing is stored
      }),
    );
    await new Promise((resolve) => setImmediate(resolve));
    expect(started).toEqual(['a', 'b']);
    expect(runs.load()).toEqual({ running: 2, waiting: 3 });
    releases[0]();
    await new Promise((resolve) => setImmediate(resolve));
    expect(started).toEqual(['a', 'b', 'c']);
    while (releases.length < 5) {
      for (const release of releases) release();
      await new Promise((resolve) => setImmediate(resolve));
    }
    for (const release of releases) release();
    expect(await Promise.all(done)).toEqual([null, null, null, null, null]);
    expect(runs.load()).toEqual({ running: 0, waiting: 0 });
  });
});
