// The figures of a simulated quarter as plain-text tables.
import type { Allowance, ProofResult, totals } from './proofs';
import type { QuarterRun } from './scenario';

const pad = (s: string | number, n: number) => String(s).padEnd(n);
const num = (s: string | number, n: number) => String(s).padStart(n);

export function formatReport(run: QuarterRun, proofs: ProofResult[], allowance: Allowance, t: Awaited<ReturnType<typeof totals>>, wallSeconds: number): string {
  const o = run.options;
  const lines: string[] = [];
  lines.push('');
  lines.push(
    `Simulated quarter: ${o.subscribers} subscribers, ${o.orders} orders, ${o.weeks} weeks from ${run.start.toISOString().slice(0, 10)}, step ${o.stepHours} h, seed ${o.seed} (${wallSeconds} s)`,
  );
  lines.push('');
  lines.push(`${pad('proof (SQL over the database)', 72)} ${num('found', 6)}  planted in a copy -> found`);
  for (const p of proofs) lines.push(`${pad(p.title, 72)} ${num(p.violations, 6)}  ${p.probe.planted} -> ${p.probe.found}`);
  lines.push('');
  lines.push(
    `marketing mails received vs the most their cadence allows (${allowance.customers} customers ever active; steady = active all quarter, one cadence)`,
  );
  lines.push(`${pad('share of allowance', 20)} ${num('customers', 10)} ${num('steady', 8)}`);
  for (const b of allowance.buckets) lines.push(`${pad(b.label, 20)} ${num(b.customers, 10)} ${num(b.steadyCustomers, 8)}`);
  lines.push('');
  lines.push('mails handed to SMTP, by class and kind');
  for (const r of t.byClass) lines.push(`  ${pad(r.class, 14)} ${pad(r.kind, 28)} ${num(r.n, 8)}`);
  const byClass = new Map<string, number>();
  for (const r of t.byClass) byClass.set(r.class, (byClass.get(r.class) ?? 0) + r.n);
  lines.push(`  ${[...byClass].map(([c, n]) => `${c} ${n}`).join(', ')}; digest entries read from the mails: ${t.entries.n}`);
  lines.push('');
  lines.push('decisions (deliveries rows) by class, status and reason');
  for (const r of t.byReason) lines.push(`  ${pad(r.class, 14)} ${pad(r.status, 10)} ${pad(r.reason, 28)} ${num(r.n, 8)}`);
  lines.push('');
  lines.push(`campaigns at the end: ${t.campaigns.map((c) => `${c.n} ${c.status}${c.waiting ? ' (mails waiting)' : ''}`).join(', ')}`);
  lines.push('');
  lines.push('still waiting at the end: status, reason, subscriber status, topic status, date');
  for (const r of t.waiting)
    lines.push(`  ${pad(r.status, 10)} ${pad(r.reason, 22)} ${pad(r.subscriber_status, 13)} ${pad(r.topic_status, 10)} ${pad(r.due, 24)} ${num(r.n, 8)}`);
  lines.push('');
  lines.push(
    `carrier: ${t.carrier.posted} events posted, ${t.carrier.duplicates} acknowledged as duplicates, ${t.carrier.out_of_order} out of carrier order, ` +
      `${t.carrier.late} more than 1 h late; ${t.carrier.delivered_shipments} shipments delivered`,
  );
  lines.push(
    `tracking mails sent: ${t.tracking.sent}; of them handed over after the parcel had arrived but before the carrier told us: ${t.tracking.after_parcel_arrived_before_known}`,
  );
  lines.push('');
  lines.push('what the simulated people and systems did');
  for (const [k, v] of Object.entries(run.actions).sort()) lines.push(`  ${pad(k, 44)} ${num(v, 8)}`);
  if (run.surprises.length) {
    lines.push('');
    lines.push('unexpected answers:');
    for (const s of run.surprises) lines.push(`  ${s}`);
  }
  lines.push('');
  return lines.join('\n');
}
