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
