// At most two reminders per registration, at their times before the start, never after it.
import fc from 'fast-check';
import { nextReminder, normalizeReminderMinutes, reminderStep } from '../../src/webinars/webinar-reminders.policy';

const start = new Date('2026-03-10T09:00:00Z');
const at = (iso: string) => new Date(iso);
const MINUTES = [1440, 60];

describe('nextReminder', () => {
  it('plans the day-before reminder for a registration made well ahead', () => {
    expect(nextReminder(MINUTES, start, 0, at('2026-03-02T09:00:00Z'))).toEqual({ slot: 0, at: at('2026-03-09T09:00:00Z') });
  });

  it('skips a slot whose time has passed: registering 5 hours before gets only the hour-before reminder', () => {
    expect(nextReminder(MINUTES, start, 0, at('2026-03-10T04:00:00Z'))).toEqual({ slot: 1, at: at('2026-03-10T08:00:00Z') });
  });

  it('plans nothing when every slot is used or past', () => {
    expect(nextReminder(MINUTES, start, 2, at('2026-03-02T09:00:00Z'))).toBeNull();
    expect(nextReminder(MINUTES, start, 0, at('2026-03-10T08:30:00Z'))).toBeNull();
  });

  it('orders configured minutes from the earliest reminder to the latest and drops duplicates', () => {
    expect(normalizeReminderMinutes([60, 1440, 60])).toEqual([1440, 60]);
  });
});

describe('reminderStep', () => {
  it('sends the due slot and plans the next one', () => {
    expect(reminderStep(MINUTES, start, 0, at('2026-03-09T09:00:30Z'))).toEqual({ send: 0, next: { slot: 1, at: at('2026-03-10T08:00:00Z') } });
  });

  it('sends only the latest of several overdue slots (the job was down)', () => {
    expect(reminderStep(MINUTES, start, 0, at('2026-03-10T08:10:00Z'))).toEqual({ send: 1, next: null });
  });

  it('sends nothing once the webinar has started', () => {
    expect(reminderStep(MINUTES, start, 1, at('2026-03-10T09:00:00Z'))).toEqual({ send: null, next: null });
  });

  it('never sends more reminders than slots, whatever the reschedules and job times', () => {
    fc.assert(
      fc.property(
        fc.array(fc.integer({ min: 1, max: 10_080 }), { minLength: 0, maxLength: 2 }),
        fc.array(fc.record({ move: fc.integer({ min: -5_000, max: 5_000 }), tick: fc.integer({ min: 1, max: 3_000 }) }), { maxLength: 40 }),
        (raw, events) => {
          const minutes = normalizeReminderMinutes(raw);
          let now = at('2026-03-01T00:00:00Z');
          let startsAt = at('2026-03-05T00:00:00Z');
          let slot = 0;
          let sent = 0;
          for (const e of events) {
            // A reschedule moves the start (never into the past); the job runs `tick` minutes later.
            startsAt = new Date(Math.max(now.getTime() + 60_000, startsAt.getTime() + e.move * 60_000));
            now = new Date(now.getTime() + e.tick * 60_000);
            const step = reminderStep(minutes, startsAt, slot, now);
            if (step.send !== null) {
              expect(step.send).toBeGreaterThanOrEqual(slot);
              expect(now.getTime()).toBeLessThan(startsAt.getTime());
              sent++;
              slot = step.send + 1;
            }
          }
          expect(sent).toBeLessThanOrEqual(minutes.length);
        },
      ),
    );
  });
});
