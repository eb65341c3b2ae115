// A campaign's progress, counted from its outbox rows: what each count means and how far it is.
import { progressFrom, ProgressRow } from '../../src/campaigns/campaign-state.policy';

const at = new Date('2026-03-02T09:00:00Z');
const rows = (...groups: [string, number, boolean?][]): ProgressRow[] => groups.map(([status, n, viaDigest]) => ({ status, n, viaDigest: viaDigest ?? false }));

describe('progressFrom', () => {
  it('puts each delivery status in its own count, and tells mails sent on their own from those a digest carried', () => {
    const p = progressFrom(
      rows(
        ['queued', 1968],
        ['sending', 8],
        ['sent', 24],
        ['sent', 5, true],
        ['deferred', 300],
        ['suppressed', 40],
        ['expired', 3],
        ['failed', 2],
        ['unknown', 1],
      ),
      true,
      at,
    );
    expect(p).toEqual({
      queued: 1968,
      sending: 8,
      sent: 24,
      deferred: 300,
      sentInDigest: 5,
      suppressed: 40,
      expired: 3,
      failed: 2,
      unknown: 1,
      total: 2351,
      percentDone: 1, // 27 of the 2,003 that go as mails of their own are done
      countedAt: '2026-03-02T09:00:00.000Z',
    });
  });

  it('reaches 100 % only when nothing is left waiting', () => {
    expect(progressFrom(rows(['sent', 999], ['queued', 1]), true, at).percentDone).toBe(99);
    expect(progressFrom(rows(['sent', 999], ['failed', 1]), true, at).percentDone).toBe(100);
  });

  it('counts a dispatched campaign of which nothing goes now (all deferred or suppressed) as done, one still deciding as not', () => {
    expect(progressFrom(rows(['deferred', 10], ['suppressed', 2]), true, at).percentDone).toBe(100);
    expect(progressFrom([], false, at).percentDone).toBe(0);
  });
});
