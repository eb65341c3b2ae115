// A quarter of virtual time against the real app: customers with mixed cadences, zones, topics
// and statuses; eight senders mailing as often as they may; a shop whose carrier reports late,
// twice and out of order; customers changing their minds, unsubscribing, complaining, bouncing.
// Afterwards SQL over the database proves the promise, each proof shown able to fail.
//
// `npm test` runs it with 600 subscribers and 150 orders in 2-hour steps (the worker's per-mail
// transaction is the limit on 2 cores); `npm run simulate` with 10,000 and 2,000 (SIM_SUBSCRIBERS, SIM_ORDERS, SIM_WEEKS, SIM_STEP_HOURS, SIM_SEED override).
import { allowances, ProofResult, runProofs, SILENTLY_DROPPED_SQL, totals } from './proofs';
import { formatReport } from './report';
import { QuarterRun, runQuarter } from './scenario';

const env = (name: string, fallback: number) => Number(process.env[name] ?? fallback);
const options = {
  subscribers: env('SIM_SUBSCRIBERS', 600),
  orders: env('SIM_ORDERS', 150),
  weeks: env('SIM_WEEKS', 13),
  stepHours: env('SIM_STEP_HOURS', 2),
  seed: env('SIM_SEED', 20260302),
  transport: (process.env.SIM_TRANSPORT === 'smtp' ? 'smtp' : 'eml') as 'smtp' | 'eml',
};
// Wall-clock budget for the whole run, scaled by size (a guard against a hang, not a measurement).
const BUDGET_MS = Math.max(10, options.subscribers / 120) * 60_000;

let run: QuarterRun;
let proofs: ProofResult[];
let allowance: Awaited<ReturnType<typeof allowances>>;
let figures: Awaited<ReturnType<typeof totals>>;
let dropped: unknown[];

beforeAll(async () => {
  const started = Date.now();
  run = await runQuarter({ ...options, progress: (line) => process.env.SIM_PROGRESS && process.stdout.write(`${line}\n`) });
  proofs = await runProofs(run.db, run.end);
  allowance = await allowances(run.db, new Date(run.start.getTime() - 3_600_000), run.end);
  figures = await totals(run.db, run.end);
  dropped = (await run.db.query(SILENTLY_DROPPED_SQL)).rows;
  process.stdout.write(formatReport(run, proofs, allowance, figures, Math.round((Date.now() - started) / 1000)));
}, BUDGET_MS);

afterAll(async () => {
  await run?.close();
});

const reasons = () => new Map(figures.byReason.map((r) => [`${r.status}:${r.reason}`, r.n]));
const sum = (pred: (r: { class: string; status: string; reason: string }) => boolean) => figures.byReason.filter(pred).reduce((n, r) => n + r.n, 0);

describe('a simulated quarter', () => {
  it('answered every request of customers, senders, shop and carrier as expected', () => {
    expect(run.surprises).toEqual([]);
  });

  it.each(['unconfirmed_topic', 'cadence', 'tracking_after_delivered', 'undecided', 'after_opt_out'])(
    'proof %s: zero violations, and the same query finds one planted into a copy',
    (key) => {
      const proof = proofs.find((p) => p.key === key)!;
      expect({ key, violations: proof.violations, examples: proof.examples }).toEqual({ key, violations: 0, examples: [] });
      expect(proof.probe.found).toBe(1);
    },
  );

  it('gives no customer more marketing mail than their cadence allows, and many their full allowance', () => {
    expect(allowance.over).toEqual([]);
    expect(allowance.buckets.find((b) => b.label === '> 100 %')!.customers).toBe(0);
    // Eight eager senders: a steady customer's every window is used.
    const steady = allowance.buckets.reduce((n, b) => n + b.steadyCustomers, 0);
    const steadyFull = allowance.buckets.filter((b) => b.label === '100 %' || b.label === '75–99 %').reduce((n, b) => n + b.steadyCustomers, 0);
    expect(steadyFull / steady).toBeGreaterThan(0.8);
  });

  it('decided every campaign candidate, by a row or as counted outside the audience: none silently dropped', () => {
    expect(dropped).toEqual([]);
  });

  it('names every campaign’s state for what it is: sending while mails of it wait, completed once none does', () => {
    const misnamed = figures.campaigns.filter(
      (c) => c.status === 'dispatching' || (c.status === 'sending' && !c.waiting) || (c.status === 'completed' && c.waiting),
    );
    expect(misnamed).toEqual([]);
    expect(figures.campaigns.some((c) => c.status === 'completed')).toBe(true);
  });

  it('digests carried only the recipient’s own links', () => {
    expect(figures.entries.n).toBeGreaterThan(0);
    expect(figures.entries.foreign).toBe(0);
  });

  it('exercised every path the proofs speak about', () => {
    const a = run.actions;
    for (const action of [
      'unsubscribes (one-click POST /u)',
      'unsubscribes (every topic off on /p)',
      'cadence changes (page)',
      'topic changes (page)',
      'pauses (2 weeks, page)',
      'complaints (webhook)',
      'hard bounces (webhook)',
      'double opt-ins confirmed',
      'topics added pending (API)',
      'webinar registrations',
      'orders posted twice',
    ]) {
      expect({ action, done: (a[action] ?? 0) > 0 }).toEqual({ action, done: true });
    }
    const r = reasons();
    const marketingSent = figures.byClass.filter((c) => c.class === 'marketing').reduce((n, c) => n + c.n, 0);
    expect(marketingSent).toBeGreaterThan(options.subscribers * 3);
    expect(figures.byClass.find((c) => c.kind === 'digest')?.n ?? 0).toBeGreaterThan(options.subscribers);
    for (const key of [
      'deferred:deferred_cadence',
      'sent:sent',
      'expired:expired',
      'suppressed:suppressed_unsubscribed',
      'suppressed:suppressed_complained',
      'suppressed:suppressed_unconfirmed',
      'suppressed:already_delivered',
      'suppressed:suppressed_empty',
      // Only a relay can refuse an address at hand-over; the .eml outbox accepts everything.
      ...(options.transport === 'smtp' ? ['failed:failed_bounced'] : []),
    ]) {
      expect({ key, seen: (r.get(key) ?? 0) > 0 }).toEqual({ key, seen: true });
    }
    expect(sum((x) => x.reason === 'deferred_budget')).toBeGreaterThan(0);
    expect(figures.carrier.delivered_shipments).toBeGreaterThan(options.orders / 2);
    expect(figures.carrier.duplicates).toBeGreaterThan(0);
    expect(figures.carrier.out_of_order).toBeGreaterThan(0);
    expect(figures.tracking.sent).toBeGreaterThan(0);
  });
});
