// When a registration is reminded. Slot i goes at `startsAt - minutes[i]` (minutes sorted from the
// earliest reminder to the latest). Slots are only ever walked forwards, and each has one
// idempotency key in the outbox, so a registration gets at most minutes.length (≤ 2) reminders
// whatever happens: reschedules, re-registration, a job that ran late.

export interface ReminderSlot {
  slot: number;
  at: Date;
}

export interface ReminderStep {
  /** The slot to send now, or null. */
  send: number | null;
  /** The next slot still ahead, or null when none is left. */
  next: ReminderSlot | null;
}

const MINUTE = 60_000;

/** Latest first: 1 day before, then 1 hour before. Duplicates dropped. */
export function normalizeReminderMinutes(minutes: readonly number[]): number[] {
  return [...new Set(minutes)].sort((a, b) => b - a);
}

/** The first slot from `fromSlot` on whose time still lies ahead, before the start. */
export function nextReminder(minutes: readonly number[], startsAt: Date, fromSlot: number, now: Date): ReminderSlot | null {
  for (let slot = Math.max(0, fromSlot); slot < minutes.length; slot++) {
    const at = new Date(startsAt.getTime() - minutes[slot] * MINUTE);
    if (at > now && at < startsAt) return { slot, at };
  }
  return null;
}

/**
 * What the reminder job does for one registration whose next reminder is due. Of several slots
 * due at once (the job was down) only the latest is sent: two reminders in one minute help nobody.
 * Nothing is sent once the webinar has started.
 */
export function reminderStep(minutes: readonly number[], startsAt: Date, fromSlot: number, now: Date): ReminderStep {
  if (now >= startsAt) return { send: null, next: null };
  let send: number | null = null;
  for (let slot = Math.max(0, fromSlot); slot < minutes.length; slot++) {
    if (startsAt.getTime() - minutes[slot] * MINUTE <= now.getTime()) send = slot;
  }
  return { send, next: nextReminder(minutes, startsAt, send === null ? fromSlot : send + 1, now) };
}
