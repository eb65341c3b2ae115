import { DatabaseClock } from '../../src/common/clock';

describe('DatabaseClock', () => {
  // The host's clock, moved by hand: each "read" below says how long the round trip took.
  let host = 1_700_000_000_000;
  beforeEach(() => jest.spyOn(Date, 'now').mockImplementation(() => host));
  afterEach(() => jest.restoreAllMocks());

  it('runs on the database server’s time, measured at the middle of the round trip', async () => {
    const clock = new DatabaseClock();
    // A server 90 s ahead; 10 ms there, 10 ms back.
    const read = async () => {
      host += 10;
      const server = host + 90_000;
      host += 10;
      return server;
    };
    expect(await clock.sync(read)).toBe(90_000);
    expect(clock.now().getTime()).toBe(host + 90_000);
  });

  it('keeps the sample with the shortest round trip', async () => {
    const clock = new DatabaseClock();
    // The first answer stalls 400 ms after the server read its clock (its midpoint is 200 ms off); the others are prompt.
    const stalls = [400, 2, 2];
    let call = 0;
    const read = async () => {
      const server = host - 60_000;
      host += stalls[call++];
      return server;
    };
    expect(await clock.sync(read)).toBe(-60_001);
  });

  it('keeps the last offset when a periodic sync fails, and reports the failure', async () => {
    jest.restoreAllMocks();
    const clock = new DatabaseClock();
    await clock.sync(async () => Date.now() + 5_000);
    const before = clock.offset;
    const failures: unknown[] = [];
    clock.keepSynced(() => Promise.reject(new Error('connection refused')), 5, { synced: () => undefined, failed: (e) => failures.push(e) });
    await new Promise((r) => setTimeout(r, 50));
    clock.stop();
    expect(failures[0]).toEqual(new Error('connection refused'));
    expect(clock.offset).toBe(before);
    expect(Math.abs(before - 5_000)).toBeLessThanOrEqual(50);
  });
});
