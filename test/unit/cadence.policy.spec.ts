// The cadence policy, exhaustively: consent first, then audience, expiry, the window.
import fc from 'fast-check';
import { DateTime } from 'luxon';
import { decide, marketingOutlook, nextDigestAt, OutlookSnapshot, SubscriberSnapshot } from '../../src/cadence/cadence.policy';
import { DEFAULT_QUIET_HOURS, NO_QUIET_HOURS } from '../../src/config/quiet-hours';
import { inQuietHours, nextDailySlot, nextSlot, outsideQuietHours, WINDOW_DAYS, windowEnd } from '../../src/cadence/slots';
import { Reason } from '../../src/reasons/reason-codes';

const DAY = 86_400_000;
const now = new Date('2026-03-02T09:00:00Z'); // Monday 10:00 in Berlin

const active = (overrides: Partial<SubscriberSnapshot> = {}): SubscriberSnapshot => ({
  status: 'active',
  subscriptionStatus: 'confirmed',
  inAudience: true,
  cadence: 'weekly',
  timeZone: 'Europe/Berlin',
  digestWeekday: 4,
  digestHour: 9,
  lastMarketingAt: null,
  ...overrides,
});

describe('decide', () => {
  it.each([
    ['unsubscribed', 'confirmed', Reason.SuppressedUnsubscribed],
    ['paused', 'confirmed', Reason.SuppressedPaused],
    ['bounced', 'confirmed', Reason.SuppressedBounced],
    ['complained', 'confirmed', Reason.SuppressedComplained],
    ['pending', 'pending', Reason.SuppressedUnconfirmed],
    ['active', 'pending', Reason.SuppressedUnconfirmed],
    ['active', 'revoked', Reason.SuppressedUnsubscribed],
    ['active', null, Reason.SuppressedNotSubscribed],
  ])('suppresses a %s subscriber with a %s subscription as %s', (status, subscriptionStatus, reason) => {
    expect(decide(active({ status, subscriptionStatus }), { expiresAt: null }, now, DEFAULT_QUIET_HOURS)).toEqual({ action: 'suppress', reason });
  });

  it('checks consent before the audience, the audience before expiry', () => {
    const past = { expiresAt: new Date(now.getTime() - 1) };
    expect(decide(active({ status: 'paused', inAudience: false }), past, now, DEFAULT_QUIET_HOURS).reason).toBe(Reason.SuppressedPaused);
    expect(decide(active({ inAudience: false }), past, now, DEFAULT_QUIET_HOURS).reason).toBe(Reason.SuppressedAudience);
    expect(decide(active(), past, now, DEFAULT_QUIET_HOURS)).toEqual({ action: 'expire', reason: Reason.Expired });
  });

  it('sends now when the window is free', () => {
    expect(decide(active(), { expiresAt: null }, now, DEFAULT_QUIET_HOURS)).toEqual({ action: 'send', reason: Reason.Queued, at: now });
    const weekAgo = new Date(now.getTime() - 7 * DAY);
    expect(decide(active({ lastMarketingAt: weekAgo }), { expiresAt: null }, now, DEFAULT_QUIET_HOURS).action).toBe('send');
  });

  it('queues a send in quiet hours for 08:00 local (queued_quiet_hours), instead of dropping it', () => {
    const night = new Date('2026-03-02T22:30:00Z'); // 23:30 in Berlin
    expect(decide(active(), { expiresAt: null }, night, DEFAULT_QUIET_HOURS)).toEqual({
      action: 'send',
      reason: Reason.QueuedQuietHours,
      at: new Date('2026-03-03T07:00:00Z'),
    });
    expect(Reason.QueuedQuietHours).toBe('queued_quiet_hours');
  });

  it('uses the configured quiet hours: a daytime range moves a mail to its end, none sends at night', () => {
    const lunch = { start: 12, end: 14 };
    const noon = new Date('2026-03-02T11:30:00Z'); // 12:30 in Berlin
    expect(decide(active(), { expiresAt: null }, noon, lunch)).toEqual({ action: 'send', reason: Reason.QueuedQuietHours, at: new Date('2026-03-02T13:00:00Z') });
    expect(decide(active(), { expiresAt: null }, now, lunch)).toEqual({ action: 'send', reason: Reason.Queued, at: now });
    const night = new Date('2026-03-02T22:30:00Z');
    expect(decide(active(), { expiresAt: null }, night, NO_QUIET_HOURS)).toEqual({ action: 'send', reason: Reason.Queued, at: night });
  });

  it('defers into the next digest while the window is closed, and says when', () => {
    const yesterday = new Date(now.getTime() - DAY);
    const decision = decide(active({ lastMarketingAt: yesterday }), { expiresAt: null }, now, DEFAULT_QUIET_HOURS);
    // Window opens Sunday 1 March + 7 = Sunday 8 March 10:00 Berlin; first slot hour after that: Monday 9 March 09:00.
    expect(decision).toEqual({ action: 'defer', reason: Reason.DeferredCadence, at: new Date('2026-03-09T08:00:00Z') });
  });

  it('expires a deferred item that would be stale by the next digest (no invitation to yesterday’s webinar)', () => {
    const yesterday = new Date(now.getTime() - DAY);
    const decision = decide(active({ lastMarketingAt: yesterday }), { expiresAt: new Date('2026-03-05T00:00:00Z') }, now, DEFAULT_QUIET_HOURS);
    expect(decision).toEqual({ action: 'expire', reason: Reason.Expired });
  });

  it('defers into the digest an item that would be stale before quiet hours end but not before the digest', () => {
    const night = new Date('2026-03-02T21:00:00Z'); // 22:00 in Berlin; the digest slot is Tuesday 07:00
    const item = { expiresAt: new Date('2026-03-03T06:30:00Z') };
    expect(decide(active({ digestWeekday: 2, digestHour: 7 }), item, night, DEFAULT_QUIET_HOURS)).toEqual({
      action: 'defer',
      reason: Reason.DeferredCadence,
      at: new Date('2026-03-03T06:00:00Z'),
    });
    expect(decide(active({ digestWeekday: 2, digestHour: 8 }), item, night, DEFAULT_QUIET_HOURS)).toEqual({ action: 'expire', reason: Reason.Expired });
  });

  it('folds an item of a sender over its budget into the digest even when the window is free', () => {
    const decision = decide(active({ senderBudgetLeft: false }), { expiresAt: null }, now, DEFAULT_QUIET_HOURS);
    expect(decision).toMatchObject({ action: 'defer', reason: Reason.DeferredBudget });
  });

  it('uses 14 days for biweekly subscribers', () => {
    const tenDaysAgo = new Date(now.getTime() - 10 * DAY);
    expect(decide(active({ lastMarketingAt: tenDaysAgo }), { expiresAt: null }, now, DEFAULT_QUIET_HOURS).action).toBe('send');
    expect(decide(active({ lastMarketingAt: tenDaysAgo, cadence: 'biweekly' }), { expiresAt: null }, now, DEFAULT_QUIET_HOURS).action).toBe('defer');
  });
});

const zones = fc.constantFrom('Europe/Berlin', 'America/New_York', 'Asia/Tokyo', 'Australia/Sydney', 'UTC', 'America/Sao_Paulo');
const instant = fc.integer({ min: Date.parse('2026-01-01T00:00:00Z'), max: Date.parse('2027-12-31T00:00:00Z') }).map((ms) => new Date(ms));

describe('cadence properties', () => {
  it('never decides two sends for one subscriber inside the window, whatever items arrive when', () => {
    fc.assert(
      fc.property(
        fc.constantFrom('weekly' as const, 'biweekly' as const),
        zones,
        instant,
        fc.array(fc.record({ gapMinutes: fc.integer({ min: 0, max: 20 * 24 * 60 }), expiresInDays: fc.option(fc.integer({ min: 0, max: 30 })) }), { maxLength: 60 }),
        (cadence, timeZone, start, items) => {
          let clock = start.getTime();
          let last: Date | null = null;
          const sends: number[] = [];
          for (const item of items) {
            clock += item.gapMinutes * 60_000;
            const at = new Date(clock);
            const expiresAt = item.expiresInDays === null ? null : new Date(clock + item.expiresInDays * DAY);
            const decision = decide(active({ cadence, timeZone, lastMarketingAt: last }), { expiresAt }, at, DEFAULT_QUIET_HOURS);
            expect(['send', 'defer', 'suppress', 'expire']).toContain(decision.action);
            if (decision.action === 'send') {
              expect(decision.at.getTime()).toBeGreaterThanOrEqual(clock);
              sends.push(decision.at.getTime());
              last = decision.at;
            }
            if (decision.action === 'defer') expect(decision.at.getTime()).toBeGreaterThan(clock);
          }
          // At least the window apart, counted in calendar days where the customer lives.
          for (let i = 1; i < sends.length; i++) {
            expect(sends[i]).toBeGreaterThanOrEqual(windowEnd(new Date(sends[i - 1]), timeZone, cadence).getTime());
            expect(sends[i] - sends[i - 1]).toBeGreaterThanOrEqual(WINDOW_DAYS[cadence] * DAY - 3_600_000);
          }
        },
      ),
      { numRuns: 300 },
    );
  });

  it('puts the next digest at the slot hour in the subscriber’s zone, after the window opens, within a week of it', () => {
    fc.assert(
      fc.property(zones, instant, fc.option(fc.integer({ min: 0, max: 20 * DAY })), fc.integer({ min: 1, max: 7 }), fc.integer({ min: 0, max: 23 }),
        (timeZone, at, sinceLast, weekday, hour) => {
          const lastMarketingAt = sinceLast === null ? null : new Date(at.getTime() - sinceLast);
          const digest = nextDigestAt({ lastMarketingAt, cadence: 'weekly', timeZone, digestWeekday: weekday, digestHour: hour }, at);
          const local = DateTime.fromJSDate(digest, { zone: timeZone });
          const opens = lastMarketingAt ? windowEnd(lastMarketingAt, timeZone, 'weekly').getTime() : at.getTime();
          expect(digest.getTime()).toBeGreaterThanOrEqual(Math.max(opens, at.getTime()));
          expect(digest.getTime() - Math.max(opens, at.getTime())).toBeLessThanOrEqual(7 * DAY + 3_600_000);
          if (local.isInDST === DateTime.fromJSDate(digest, { zone: timeZone }).minus({ hours: 2 }).isInDST) expect(local.hour).toBe(hour);
          if (!lastMarketingAt || opens <= at.getTime()) expect(local.weekday).toBe(weekday);
        }),
      { numRuns: 500 },
    );
  });
});

describe('slots across daylight saving time', () => {
  it('keeps a weekly 09:00 Berlin slot at 09:00 local across the March change: eight slots, no skip, no double', () => {
    let at = new Date('2026-03-01T00:00:00Z');
    const slots: string[] = [];
    for (let i = 0; i < 8; i++) {
      const slot = nextSlot(at, 'Europe/Berlin', 1, 9);
      slots.push(DateTime.fromJSDate(slot, { zone: 'Europe/Berlin' }).toFormat('yyyy-MM-dd HH:mm'));
      at = new Date(slot.getTime() + 1);
    }
    expect(slots).toEqual([
      '2026-03-02 09:00', '2026-03-09 09:00', '2026-03-16 09:00', '2026-03-23 09:00',
      '2026-03-30 09:00', '2026-04-06 09:00', '2026-04-13 09:00', '2026-04-20 09:00',
    ]);
  });

  it('finds the daily slot hour on the same day when it is still ahead, else the next day', () => {
    expect(nextDailySlot(new Date('2026-03-02T06:00:00Z'), 'Europe/Berlin', 9)).toEqual(new Date('2026-03-02T08:00:00Z'));
    expect(nextDailySlot(new Date('2026-03-02T08:00:01Z'), 'Europe/Berlin', 9)).toEqual(new Date('2026-03-03T08:00:00Z'));
  });

  it('knows quiet hours in the subscriber’s zone', () => {
    expect(inQuietHours(new Date('2026-03-02T21:30:00Z'), 'Europe/Berlin', DEFAULT_QUIET_HOURS)).toBe(true);
    expect(inQuietHours(new Date('2026-03-02T21:30:00Z'), 'America/New_York', DEFAULT_QUIET_HOURS)).toBe(false);
    expect(outsideQuietHours(new Date('2026-03-02T05:00:00Z'), 'Europe/Berlin', DEFAULT_QUIET_HOURS)).toEqual(new Date('2026-03-02T07:00:00Z'));
  });
});

describe('marketingOutlook', () => {
  const person = (overrides: Partial<OutlookSnapshot> = {}): OutlookSnapshot => ({
    status: 'active',
    pausedUntil: null,
    hasConfirmedTopic: true,
    lastMarketingAt: null,
    cadence: 'weekly',
    timeZone: 'Europe/Berlin',
    digestWeekday: 4,
    digestHour: 9,
    ...overrides,
  });

  it('gives an active customer with a confirmed topic a next slot and a next digest, and no reason', () => {
    expect(marketingOutlook(person(), now)).toEqual({
      nextMarketingSlot: now,
      nextDigestAt: new Date('2026-03-05T08:00:00Z'), // Thursday 09:00 Berlin
      noMarketingBecause: null,
      pausedUntil: null,
    });
  });

  it.each<[OutlookSnapshot['status'], Partial<OutlookSnapshot>, string]>([
    ['unsubscribed', {}, 'unsubscribed'],
    ['bounced', {}, 'bounced'],
    ['complained', {}, 'complained'],
    ['pending', { hasConfirmedTopic: false }, 'pending'],
    ['active', { hasConfirmedTopic: false }, 'no_confirmed_topic'],
    ['paused', { pausedUntil: null }, 'paused'],
  ])('a %s customer (%j) gets no slot and no digest, because %s', (status, overrides, because) => {
    expect(marketingOutlook(person({ status, ...overrides }), now)).toEqual({
      nextMarketingSlot: null,
      nextDigestAt: null,
      noMarketingBecause: because,
      pausedUntil: null,
    });
  });

  it('shows a paused customer when the pause ends, and the first slot and digest after it', () => {
    const until = new Date('2026-03-16T09:00:00Z'); // Monday, two weeks on
    expect(marketingOutlook(person({ status: 'paused', pausedUntil: until }), now)).toEqual({
      nextMarketingSlot: until,
      nextDigestAt: new Date('2026-03-19T08:00:00Z'), // the Thursday slot after the pause
      noMarketingBecause: 'paused',
      pausedUntil: until,
    });
  });

  it('says no confirmed topic for a paused customer without one: the end of the pause changes nothing', () => {
    const until = new Date('2026-03-16T09:00:00Z');
    expect(marketingOutlook(person({ status: 'paused', pausedUntil: until, hasConfirmedTopic: false }), now)).toEqual({
      nextMarketingSlot: null,
      nextDigestAt: null,
      noMarketingBecause: 'no_confirmed_topic',
      pausedUntil: until,
    });
  });

  it('treats a pause whose end has passed as over (the resume-paused job activates the customer shortly)', () => {
    const ended = new Date(now.getTime() - 60_000);
    expect(marketingOutlook(person({ status: 'paused', pausedUntil: ended }), now)).toMatchObject({ nextMarketingSlot: now, noMarketingBecause: null });
  });

  it('keeps the window: an active customer mailed yesterday can be mailed again when it opens', () => {
    const yesterday = new Date(now.getTime() - DAY);
    const outlook = marketingOutlook(person({ lastMarketingAt: yesterday }), now);
    expect(outlook.nextMarketingSlot).toEqual(new Date(yesterday.getTime() + 7 * DAY));
    expect(outlook.noMarketingBecause).toBeNull();
  });
});
