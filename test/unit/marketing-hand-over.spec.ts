// A marketing kind's settledWrites() tells the worker whether settled() writes anything for an
// attempt's outcome: where it says no, the hand-over's COMMIT goes with the record statement and a
// statement settled() ran after it would fail the hand-over. So it must never say no where
// settled() writes; checked for every status and reason the worker can record.
import { CadenceService } from '../../src/cadence/cadence.service';
import type { Tx } from '../../src/database/sql';
import type { ClaimedDelivery } from '../../src/delivery/delivery-kinds';
import { marketingKind, MarketingHandOver } from '../../src/delivery/marketing-hand-over';
import { Reason } from '../../src/reasons/reason-codes';

const delivery = {
  id: '1',
  subscriberId: '00000000-0000-4000-8000-000000000001',
  idempotencyKey: 'campaign:1',
  class: 'marketing',
  kind: 'campaign',
} as ClaimedDelivery;

/** A Tx that counts the statements run on it. */
function countingTx(): { tx: Tx; statements: () => number } {
  let count = 0;
  const run = () => {
    count++;
    return Promise.resolve(0);
  };
  const tx = { run, row: () => (count++, Promise.resolve(undefined)), rows: () => (count++, Promise.resolve([])) } as unknown as Tx;
  return { tx, statements: () => count };
}

const outcomes: [string, Reason][] = ['sent', 'queued', 'failed', 'unknown'].flatMap((status) =>
  Object.values(Reason).map((reason): [string, Reason] => [status, reason]),
);

describe('marketingKind settledWrites', () => {
  // The real window actions (applyWindowAction uses nothing but the Tx).
  const cadence = Object.create(CadenceService.prototype) as CadenceService;
  const handOver = (after?: MarketingHandOver<object>['after']): MarketingHandOver<object> => ({
    kind: 'probe',
    check: () => Promise.resolve({ facts: {} }),
    compose: () => Promise.resolve({ template: 'campaign', data: {} }),
    viewFacts: () => Promise.resolve({}),
    ...(after ? { after } : {}),
  });

  it('says no write only where settled() runs no statement (a campaign: a sent mail, an unknown outcome kept)', async () => {
    const kind = marketingKind(cadence, handOver());
    const silent: string[] = [];
    for (const [status, reason] of outcomes) {
      const { tx, statements } = countingTx();
      await kind.settled!(tx, delivery, status, reason);
      if (!kind.settledWrites!(status, reason)) {
        expect({ status, reason, statements: statements() }).toEqual({ status, reason, statements: 0 });
        silent.push(`${status}/${reason}`);
      }
    }
    expect(silent).toContain(`sent/${Reason.Sent}`);
    // A retry forgets the hand-over record: a statement, so COMMIT does not go with the record.
    const { tx, statements } = countingTx();
    await kind.settled!(tx, delivery, 'queued', Reason.Retrying);
    expect(statements()).toBe(1);
    expect(kind.settledWrites!('queued', Reason.Retrying)).toBe(true);
  });

  it('says settled() may write for every outcome when the kind has after-effects of its own (a digest)', () => {
    const kind = marketingKind(
      cadence,
      handOver(() => Promise.resolve()),
    );
    for (const [status, reason] of outcomes) expect(kind.settledWrites!(status, reason)).toBe(true);
  });
});
