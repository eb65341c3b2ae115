// Server-rendered bar charts as inline SVG: geometry in attributes (never style="…", which the
// pages' Content-Security-Policy refuses), a title for screen readers, and the numbers repeated
// as text in the page, so the chart adds a picture and hides nothing.
import Handlebars from 'handlebars';

const esc = Handlebars.escapeExpression;

export interface BarSegment {
  label: string;
  value: number;
  colour: string;
}

/** One horizontal bar split into segments (the audience dry run: now / later / expiring / never). */
export function stackedBar(segments: BarSegment[], title: string): Handlebars.SafeString {
  const total = segments.reduce((n, s) => n + s.value, 0);
  let x = 0;
  const rects = segments
    .filter((s) => s.value > 0)
    .map((s) => {
      const width = total === 0 ? 0 : (s.value / total) * 600;
      const rect = `<rect x="${x.toFixed(2)}" y="0" width="${width.toFixed(2)}" height="36" fill="${s.colour}"><title>${esc(s.label)}: ${s.value}</title></rect>`;
      x += width;
      return rect;
    })
    .join('');
  const empty = total === 0 ? `<rect x="0" y="0" width="600" height="36" fill="#e5e7eb"></rect>` : '';
  return new Handlebars.SafeString(
    `<svg class="chart" viewBox="0 0 600 36" role="img" aria-label="${esc(title)}" preserveAspectRatio="none">${empty}${rects}</svg>`,
  );
}

/** Labelled horizontal bars, one per row, scaled to the largest (counts by reason). */
export function barList(rows: BarSegment[], title: string): Handlebars.SafeString {
  const max = Math.max(1, ...rows.map((r) => r.value));
  const height = 26;
  const body = rows
    .map((r, i) => {
      const y = i * height;
      const width = (r.value / max) * 300;
      return (
        `<text x="0" y="${y + 17}">${esc(r.label.length > 48 ? `${r.label.slice(0, 47)}…` : r.label)}</text>` +
        `<rect x="330" y="${y + 4}" width="${width.toFixed(2)}" height="18" fill="${r.colour}"><title>${esc(r.label)}: ${r.value}</title></rect>` +
        `<text x="${(334 + width).toFixed(2)}" y="${y + 17}">${r.value}</text>`
      );
    })
    .join('');
  return new Handlebars.SafeString(
    `<svg class="chart" viewBox="0 0 700 ${Math.max(height, rows.length * height)}" role="img" aria-label="${esc(title)}">${body}</svg>`,
  );
}

/** Weekly useful / not useful columns, side by side per week (the listening page). */
export function weeklyColumns(
  weeks: { week: string; useful: number; notUseful: number }[],
  title: string,
  labels: { useful: string; notUseful: string },
): Handlebars.SafeString {
  const max = Math.max(1, ...weeks.map((w) => Math.max(w.useful, w.notUseful)));
  const slot = 60;
  const chartHeight = 120;
  const body = weeks
    .map((w, i) => {
      const x = i * slot + 8;
      const hu = (w.useful / max) * chartHeight;
      const hn = (w.notUseful / max) * chartHeight;
      return (
        `<rect x="${x}" y="${(chartHeight - hu).toFixed(2)}" width="20" height="${hu.toFixed(2)}" fill="#059669"><title>${esc(w.week)} ${esc(labels.useful)}: ${w.useful}</title></rect>` +
        `<rect x="${x + 22}" y="${(chartHeight - hn).toFixed(2)}" width="20" height="${hn.toFixed(2)}" fill="#b91c1c"><title>${esc(w.week)} ${esc(labels.notUseful)}: ${w.notUseful}</title></rect>` +
        `<text x="${x}" y="${chartHeight + 16}">${esc(w.week.slice(5))}</text>`
      );
    })
    .join('');
  return new Handlebars.SafeString(
    `<svg class="chart" viewBox="0 0 ${Math.max(slot, weeks.length * slot)} ${chartHeight + 22}" role="img" aria-label="${esc(title)}">${body}</svg>`,
  );
}

export const COLOURS = { now: '#059669', later: '#d97706', expiring: '#7c3aed', never: '#b91c1c', done: '#1d4ed8' } as const;

export interface TimeSeries {
  label: string;
  colour: string;
  /** One value per bucket, in the buckets' order. */
  values: number[];
}

/**
 * Stacked columns over time, one per bucket (a campaign's decisions by reason, hour by hour), with
 * the first, middle and last bucket named under the axis and a legend of the series below.
 */
export function timeColumns(buckets: string[], series: TimeSeries[], title: string): Handlebars.SafeString {
  const totals = buckets.map((_, i) => series.reduce((n, s) => n + s.values[i], 0));
  const max = Math.max(1, ...totals);
  const width = 640;
  const chartHeight = 160;
  const slot = width / Math.max(1, buckets.length);
  const bar = Math.max(1, slot * 0.8);
  const columns = buckets
    .map((bucket, i) => {
      let y = chartHeight;
      return series
        .filter((s) => s.values[i] > 0)
        .map((s) => {
          const h = (s.values[i] / max) * chartHeight;
          y -= h;
          return `<rect x="${(i * slot).toFixed(2)}" y="${y.toFixed(2)}" width="${bar.toFixed(2)}" height="${h.toFixed(2)}" fill="${s.colour}"><title>${esc(bucket)} · ${esc(s.label)}: ${s.values[i]}</title></rect>`;
        })
        .join('');
    })
    .join('');
  const named = [...new Set([0, Math.floor((buckets.length - 1) / 2), buckets.length - 1])].filter((i) => i >= 0 && buckets.length > 0);
  const axis =
    `<line x1="0" y1="${chartHeight + 0.5}" x2="${width}" y2="${chartHeight + 0.5}" stroke="#6b7280"></line>` +
    named
      .map((i, k) => {
        const anchor = k === 0 ? 'start' : i === buckets.length - 1 ? 'end' : 'middle';
        const x = anchor === 'start' ? i * slot : anchor === 'end' ? width : i * slot + bar / 2;
        return `<text x="${x.toFixed(2)}" y="${chartHeight + 16}" text-anchor="${anchor}">${esc(buckets[i])}</text>`;
      })
      .join('') +
    `<text x="0" y="10">${max}</text>`;
  const legendTop = chartHeight + 30;
  const legend = series
    .map((s, i) => {
      const x = (i % 2) * 320;
      const y = legendTop + Math.floor(i / 2) * 20;
      return `<rect x="${x}" y="${y}" width="12" height="12" fill="${s.colour}" stroke="#374151"></rect><text x="${x + 18}" y="${y + 11}">${esc(s.label.length > 44 ? `${s.label.slice(0, 43)}…` : s.label)}</text>`;
    })
    .join('');
  const height = legendTop + Math.ceil(series.length / 2) * 20;
  return new Handlebars.SafeString(
    `<svg class="chart" viewBox="0 0 ${width} ${height}" role="img" aria-label="${esc(title)}">${columns}${axis}${legend}</svg>`,
  );
}
