// Each scheduler job ticks at the interval its SCHEDULER_<JOB>_SECONDS variable names, through
// @nestjs/schedule's registry (the real one; the timers are jest's fake clock).
import { SchedulerRegistry } from '@nestjs/schedule';
import { loadConfig, SCHEDULER_JOBS } from '../../src/config/config';
import { JobsService } from '../../src/scheduler/jobs.service';
import type { SchedulerRunsService } from '../../src/scheduler/scheduler-runs.service';

const dev = { tokenSecret: 't'.repeat(32), webhookSecret: 'w'.repeat(32) };

/** A JobsService whose runs are only counted: which job ticked, how often. */
function jobsWith(env: Record<string, string>) {
  const ticks = new Map<string, number>();
  const record = async (job: string) => {
    ticks.set(job, (ticks.get(job) ?? 0) + 1);
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
  it('registers every job with the registry and ticks each at its configured interval', () => {
    const { jobs, registry, ticks } = jobsWith({ SCHEDULER_DISPATCH_CAMPAIGNS_SECONDS: '2', SCHEDULER_CAMPAIGN_PROGRESS_SECONDS: '7' });
    jobs.onApplicationBootstrap();
    try {
      expect(registry.getIntervals().sort()).toEqual([...SCHEDULER_JOBS].sort());
      jest.advanceTimersByTime(60_000);
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
});
