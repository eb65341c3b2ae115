import { RESTART_BASE_MS, RESTART_MAX_MS, restartDelayMs } from '../../src/delivery/worker-thread';

describe('restarting a crashed delivery worker thread', () => {
  it('waits a second before the first restart and twice as long before each further one', () => {
    expect([1, 2, 3, 4, 5].map(restartDelayMs)).toEqual([1_000, 2_000, 4_000, 8_000, 16_000]);
    expect(restartDelayMs(1)).toBe(RESTART_BASE_MS);
  });

  it('never waits longer than a minute, however often the thread died', () => {
    expect(restartDelayMs(7)).toBe(RESTART_MAX_MS);
    expect(restartDelayMs(1_000)).toBe(RESTART_MAX_MS);
  });
});
