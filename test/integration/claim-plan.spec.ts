// The worker's claim stays an ordered read of each month's due index, whatever the statistics say
// (issue 21; database/connection-budgets.ts WORKER_SESSION_SETTINGS). Right after a bulk insert a
// month's statistics still say hardly any row is queued; planned on such statistics, the claim's
// "earliest due first, 500 of them" could collect every due row and sort it (bench/history.js
// measured 1,100 instead of 30,000 rows/s). On the worker's own connections it does not: the
// plan under the batch's row locks is a Merge Append of the months' due indexes, and the batch it
// takes is the earliest due rows. Nor does a penalised sort push it past jit_above_cost: the worker's
// sessions do not JIT-compile (1.2 s a claim over fifteen months, for milliseconds of work).
import { runAs } from '../../src/database/connection-budgets';
import { Db } from '../../src/database/sql';
import type { Statement } from '../../src/database/statements';
import { DeliveryQueries } from '../../src/delivery/delivery.queries';
import { FakeClock } from '../../src/common/clock';
import { startTestApp, TestApp } from '../support/app';

const NOW = new Date('2026-03-02T09:00:00Z');
let t: TestApp;

beforeAll(async () => {
  t = await startTestApp({ clock: new FakeClock(NOW) });
  // The month as its statistics last saw it: everything sent.
  await t.sql(
    `INSERT INTO deliveries (to_address, class, kind, locale, status, reason, idempotency_key, next_attempt_at, sent_at, created_at, updated_at)
     SELECT 'sent' || i || '@example.com', 'marketing', 'campaign', 'de', 'sent', 'sent', 'sent:' || i, $1, $1, $1, $1 FROM generate_series(1, 20000) i`,
    [NOW],
  );
  await t.sql(`ANALYZE deliveries`);
  // Then a campaign's 50,000 mails, queued and due over the last hour, before any new ANALYZE.
  await t.sql(
    `INSERT INTO deliveries (to_address, class, kind, locale, status, reason, idempotency_key, next_attempt_at, created_at, updated_at)
     SELECT 'q' || i || '@example.com', 'marketing', 'campaign', 'de', 'queued', 'queued', 'queued:' || i,
            $1::timestamptz - i * interval '50 ms', $1, $1
     FROM generate_series(1, 50000) i`,
    [NOW],
  );
}, 120_000);
afterAll(() => t?.close());

type PlanNode = { 'Node Type': string; Plans?: PlanNode[] };

const nodes = (node: PlanNode): PlanNode[] => [node, ...(node.Plans ?? []).flatMap(nodes)];

it('plans the claim on the worker’s connections as an ordered read of each month’s due index, not a sort of every due row', async () => {
  const db = t.app.get(Db);
  const claim = DeliveryQueries.claimMarketing;
  const explain = { ...claim, name: 'test.explainClaim', text: `EXPLAIN (FORMAT JSON) ${claim.text}`, prepared: false } as Statement<
    readonly unknown[],
    { 'QUERY PLAN': { Plan: PlanNode }[] }
  >;
  const params = [NOW, 500, 'test-worker', new Date(NOW.getTime() + 60_000)];
  const [{ 'QUERY PLAN': plan }] = await runAs('worker', () => db.rows(explain, params));
  const lockRows = nodes(plan[0].Plan).find((n) => n['Node Type'] === 'LockRows')!;
  expect(lockRows.Plans!.map((n) => n['Node Type'])).toEqual(['Merge Append']);
  expect(nodes(lockRows).filter((n) => n['Node Type'] === 'Sort')).toEqual([]);
});

it('runs the worker’s statements without JIT compilation (a claim is milliseconds of work)', async () => {
  const db = t.app.get(Db);
  const show = { name: 'test.showJit', why: '', text: 'SHOW jit', prepared: false } as Statement<readonly unknown[], { jit: string }>;
  expect(await runAs('worker', () => db.rows(show, []))).toEqual([{ jit: 'off' }]);
});

it('claims the earliest due rows first', async () => {
  const db = t.app.get(Db);
  const ids = await runAs('worker', () => db.rows(DeliveryQueries.claimMarketing, [NOW, 500, 'test-worker', new Date(NOW.getTime() + 60_000)]));
  expect(ids).toHaveLength(500);
  const claimed = await t.sql(`SELECT idempotency_key FROM deliveries WHERE lease_owner = 'test-worker' ORDER BY next_attempt_at`);
  // Due 50 ms apart, the latest key number the earliest: queued:50000 down to queued:49501.
  expect(claimed.map((r) => r.idempotency_key)).toEqual(Array.from({ length: 500 }, (_, i) => `queued:${50000 - i}`));
});
