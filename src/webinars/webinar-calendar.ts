// The calendar file (RFC 5545, iTIP methods of RFC 5546) that travels with every registration
// mail. One UID per registration for its whole life; SEQUENCE is raised on every change, so a
// calendar replaces the event on an update and removes it on a CANCEL with the same UID.
// Outlook shows accept/decline only for METHOD:REQUEST with ORGANIZER and ATTENDEE present.
import ical, { ICalAttendeeRole, ICalAttendeeStatus, ICalCalendarMethod, ICalEventStatus } from 'ical-generator';

export interface CalendarEvent {
  uid: string;
  sequence: number;
  method: 'REQUEST' | 'CANCEL';
  startsAt: Date;
  endsAt: Date;
  summary: string;
  description: string;
  joinUrl: string;
  organizer: { name: string; email: string };
  attendee: { email: string; name?: string | null };
  /** DTSTAMP: when this version of the event was written. */
  stamp: Date;
}

/**
 * A name as the CN parameter of ORGANIZER and ATTENDEE. RFC 5545 (3.1, 3.2) has no escaping in
 * parameter values: a quoted value may hold anything but DQUOTE and control characters, and
 * ical-generator's backslash escapes are read as part of the name (or break the line). Common
 * parsers also split quoted values at ";". So: double quotes become single ones; backslashes,
 * semicolons and control characters (new lines) become spaces; runs of white space one space.
 */
export function calendarName(name: string): string {
  return name
    .replace(/"/g, "'")
    .replace(/[\\;\p{Cc}]/gu, ' ')
    .replace(/\s+/g, ' ')
    .trim();
}

export function calendarFile(event: CalendarEvent): string {
  const cancel = event.method === 'CANCEL';
  const calendar = ical({
    prodId: { company: 'Tactful', product: 'Webinars', language: 'EN' },
    method: cancel ? ICalCalendarMethod.CANCEL : ICalCalendarMethod.REQUEST,
  });
  calendar.createEvent({
    id: event.uid,
    sequence: event.sequence,
    stamp: event.stamp,
    start: event.startsAt,
    end: event.endsAt,
    summary: event.summary,
    description: event.description,
    location: event.joinUrl,
    url: event.joinUrl,
    status: cancel ? ICalEventStatus.CANCELLED : ICalEventStatus.CONFIRMED,
    organizer: { ...event.organizer, name: calendarName(event.organizer.name) || event.organizer.email },
    attendees: [
      {
        email: event.attendee.email,
        ...(event.attendee.name && calendarName(event.attendee.name) ? { name: calendarName(event.attendee.name) } : {}),
        role: ICalAttendeeRole.REQ,
        // The attendee's answer is theirs to give: an invitation asks (NEEDS-ACTION, the
        // default of RFC 5545), a CANCEL from the organiser carries no answer at all.
        ...(cancel ? {} : { status: ICalAttendeeStatus.NEEDSACTION }),
        rsvp: false,
      },
    ],
  });
  return calendar.toString();
}

/** The bare address of a mailbox like `Name <news@shop.example>`. */
export function mailboxAddress(mailbox: string): string {
  return (/<([^<>\s]+)>\s*$/.exec(mailbox)?.[1] ?? mailbox).trim();
}
