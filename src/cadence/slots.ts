// Calendar arithmetic in the customer's time zone: the digest slot (ISO weekday + hour, local),
// the cadence window and quiet hours. Luxon handles daylight-saving changes: a slot at 09:00
// local stays at 09:00 local across the change, neither skipped nor doubled.
import { DateTime } from 'luxon';
import type { Cadence } from '../subscribers/subscriber.entity';

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

/**
 * The local night in which no marketing mail is handed over (QUIET_HOURS, src/config/config.ts).
 * Whole hours, because tactful_outside_quiet() in SQL takes the same two numbers. A range that
 * starts where it ends is empty: no quiet hours at all.
 */
export interface QuietHours {
  /** Local hour quiet time starts (inclusive), e.g. 21. */
  start: number;
  /** Local hour it ends (exclusive), e.g. 8. */
  end: number;
}

export const DEFAULT_QUIET_HOURS: QuietHours = { start: 21, end: 8 };
/** QUIET_HOURS=off: an empty range, in TypeScript and in SQL alike. */
export const NO_QUIET_HOURS: QuietHours = { start: 0, end: 0 };

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
