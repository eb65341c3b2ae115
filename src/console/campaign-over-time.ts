// A campaign's decisions by reason over time, for its console page: the per-campaign rollup's rows
// (metrics/campaign-counts.ts) as buckets of hours in the console's time zone (of days once the
// campaign spans more than three days: the deferred copies a digest carries go out over a week or
// two), a series per reason coloured by what happened (sent, waiting, folded into the digest,
// expired, not sent, failed), and the same figures as a table.
import { DateTime } from 'luxon';
import type { Locale } from '../config/config';
import type { CampaignCount } from '../metrics/campaign-counts';
import { Reason, REASON_LABELS, readReason } from '../reasons/reason-codes';
import type { TimeSeries } from './charts';

/** Hourly buckets up to this span; daily beyond. */
const HOURLY_UP_TO_HOURS = 72;
const STATUS_ORDER = ['sent', 'queued', 'sending', 'deferred', 'expired', 'suppressed', 'failed', 'unknown'];
const PALETTES: Record<string, string[]> = {
  sent: ['#1d4ed8', '#3b82f6'],
  queued: ['#4b5563', '#9ca3af'],
  sending: ['#6b7280', '#d1d5db'],
  deferred: ['#d97706', '#fbbf24'],
  expired: ['#7c3aed', '#a78bfa'],
  suppressed: ['#b91c1c', '#f87171', '#7f1d1d', '#fca5a5', '#dc2626'],
  failed: ['#111827', '#374151'],
  unknown: ['#0f766e', '#5eead4'],
};

export interface OverTime {
  unit: 'hour' | 'day';
  buckets: string[];
  series: (TimeSeries & { reason: string; status: string })[];
  /** The table: a row per bucket with any decision, a cell per series, and its total. */
  rows: { bucket: string; cells: number[]; total: number }[];
  totals: number[];
  total: number;
}

export function campaignOverTime(counts: readonly CampaignCount[], locale: Locale, zone: string): OverTime | null {
  const live = counts.filter((c) => c.n !== 0);
  if (live.length === 0) return null;
  const first = Math.min(...live.map((c) => c.hour.getTime()));
  const last = Math.max(...live.map((c) => c.hour.getTime()));
  const unit = (last - first) / 3_600_000 <= HOURLY_UP_TO_HOURS ? 'hour' : 'day';
  const startOf = (at: Date) => DateTime.fromJSDate(at, { zone }).startOf(unit);
  // Every bucket from the first to the last, so the time axis has no holes.
  const starts: DateTime[] = [];
  for (let at = startOf(new Date(first)); at <= startOf(new Date(last)); at = at.plus({ [unit]: 1 })) starts.push(at);
  const index = new Map(starts.map((s, i) => [s.toMillis(), i]));
  const format = unit === 'hour' ? (locale === 'de' ? 'dd.MM. HH:mm' : 'd LLL HH:mm') : locale === 'de' ? 'ccc dd.MM.' : 'ccc d LLL';
  const buckets = starts.map((s) => s.setLocale(locale === 'de' ? 'de-DE' : 'en-GB').toFormat(format));

  const byReason = new Map<string, { reason: string; status: string; values: number[] }>();
  for (const c of live) {
    const reason = readReason(c.reason);
    const key = `${c.status}:${reason}`;
    let line = byReason.get(key);
    if (!line) byReason.set(key, (line = { reason, status: c.status, values: starts.map(() => 0) }));
    line.values[index.get(startOf(c.hour).toMillis())!] += c.n;
  }
  const used = new Map<string, number>();
  const series = [...byReason.values()]
    .filter((s) => s.values.some((v) => v !== 0))
    .sort((a, b) => rank(a.status) - rank(b.status) || a.reason.localeCompare(b.reason))
    .map((s) => {
      const palette = PALETTES[s.status] ?? ['#6b7280'];
      const k = used.get(s.status) ?? 0;
      used.set(s.status, k + 1);
      return { ...s, label: REASON_LABELS[s.reason as Reason]?.[locale] ?? s.reason, colour: palette[k % palette.length] };
    });
  const rows = starts
    .map((_, i) => ({ bucket: buckets[i], cells: series.map((s) => s.values[i]), total: series.reduce((n, s) => n + s.values[i], 0) }))
    .filter((r) => r.cells.some((v) => v !== 0));
  const totals = series.map((s) => s.values.reduce((n, v) => n + v, 0));
  return { unit, buckets, series, rows, totals, total: totals.reduce((n, v) => n + v, 0) };
}

const rank = (status: string) => {
  const i = STATUS_ORDER.indexOf(status);
  return i < 0 ? STATUS_ORDER.length : i;
};
