// Calendar arithmetic in the customer's time zone: the digest slot (ISO weekday + hour, local),
// the cadence window and quiet hours. Luxon handles daylight-saving changes: a slot at 09:00
// local stays at 09:00 local across the change, neither skipped nor doubled.
import { DateTime } from 'luxon';
import type { QuietHours } from '../config/quiet-hours';

/** How often marketing may reach a customer: one mail per window of this many days. */
export const CADENCES = ['weekly', 'biweekly'] as const;
export type Cadence = (typeof CADENCES)[number];

export const WINDOW_DAYS: Record<Cadence, number> = { weekly: 7, biweekly: 14 };

/** The end of a window that starts at `start`: the cadence's days later, in calendar days local to `timeZone`. */
export function windowEnd(start: Date, timeZone: string, cadence: Cadence): Date {
  return DateTime.fromJSDate(start, { zone: timeZone }).plus({ days: WINDOW_DAYS[cadence] }).toJSDate();
}

/** The first instant at or after `after` that falls on the slot (weekday 1-7, hour 0-23) in `timeZone`. */
export function nextSlot(after: Date, timeZone: string, weekday: number, hour: number): Date {
  const local = DateTime.fromJSDate(after, { zone: timeZone });
  let candidate = local.set({ hour, minute: 0, second: 0, millisecond: 0 }).plus({ days: (weekday - local.weekday + 7) % 7 });
  if (candidate.toMillis() < after.getTime()) candidate = candidate.plus({ weeks: 1 });
  return candidate.toJSDate();
}

/** The first slot hour on or after `after` on any day: a digest that lost its weekday to a campaign goes the next free day. */
export function nextDailySlot(after: Date, timeZone: string, hour: number): Date {
  const local = DateTime.fromJSDate(after, { zone: timeZone });
  let candidate = local.set({ hour, minute: 0, second: 0, millisecond: 0 });
  if (candidate.toMillis() < after.getTime()) candidate = candidate.plus({ days: 1 });
  return candidate.toJSDate();
}

export function inQuietHours(at: Date, timeZone: string, quiet: QuietHours): boolean {
  const hour = DateTime.fromJSDate(at, { zone: timeZone }).hour;
  return quiet.start > quiet.end ? hour >= quiet.start || hour < quiet.end : hour >= quiet.start && hour < quiet.end;
}

/** `at` itself when allowed, else the end of the quiet time in the customer's zone. */
export function outsideQuietHours(at: Date, timeZone: string, quiet: QuietHours): Date {
  if (!inQuietHours(at, timeZone, quiet)) return at;
  const local = DateTime.fromJSDate(at, { zone: timeZone });
  let end = local.set({ hour: quiet.end, minute: 0, second: 0, millisecond: 0 });
  if (end.toMillis() <= at.getTime()) end = end.plus({ days: 1 });
  return end.toJSDate();
}
