// Judges a mail's calendar parts the way Thunderbird does: with ical.js, its own parser. Every
// part must parse without error, be labelled text/calendar with the iTIP method it carries
// (RFC 6047), and hold what RFC 5546 requires of that method; the attendee's answer is never
// given on their behalf.
import ICAL from 'ical.js';
import type { SinkMessage } from './smtp-sink';

export interface CheckedCalendar {
  method: string;
  uid: string;
  sequence: number;
  start: Date;
  status: string;
  partstat: string | null;
}

/** RFC 5546 3.2.2 (REQUEST) and 3.2.5 (CANCEL): what each method's VEVENT must carry. */
const REQUIRED: Record<string, string[]> = {
  REQUEST: ['attendee', 'dtstamp', 'dtstart', 'organizer', 'summary', 'uid', 'sequence'],
  CANCEL: ['attendee', 'dtstamp', 'organizer', 'uid', 'sequence'],
};

export function checkCalendarText(text: string, labelledMethod: string | null): CheckedCalendar {
  const problems: string[] = [];
  const root = new ICAL.Component(ICAL.parse(text));
  if (root.name !== 'vcalendar') problems.push(`the root is ${root.name}, not VCALENDAR`);
  if (root.getFirstPropertyValue('version') !== '2.0') problems.push('VERSION is not 2.0');
  if (!root.getFirstPropertyValue('prodid')) problems.push('PRODID is missing');
  const method = String(root.getFirstPropertyValue('method') ?? '');
  if (!REQUIRED[method]) problems.push(`METHOD is ${JSON.stringify(method)}, expected REQUEST or CANCEL`);
  if (labelledMethod !== null && labelledMethod !== method) problems.push(`the part says method=${labelledMethod}, the file ${method}`);
  const events = root.getAllSubcomponents('vevent');
  if (events.length !== 1) problems.push(`${events.length} VEVENTs, expected 1`);
  const event = events[0];
  for (const name of REQUIRED[method] ?? []) if (event && !event.hasProperty(name)) problems.push(`${method} without ${name.toUpperCase()}`);
  const attendee = event?.getFirstProperty('attendee');
  const partstat = (attendee?.getParameter('partstat') as string | undefined) ?? null;
  if (method === 'REQUEST' && partstat !== null && partstat !== 'NEEDS-ACTION') problems.push(`a REQUEST answers for the attendee: PARTSTAT=${partstat}`);
  if (method === 'CANCEL' && partstat !== null) problems.push(`a CANCEL carries PARTSTAT=${partstat}`);
  const parsed = event ? new ICAL.Event(event) : undefined;
  if (parsed && method === 'REQUEST' && !(parsed.endDate.compare(parsed.startDate) > 0)) problems.push('DTEND is not after DTSTART');
  if (problems.length) throw new Error(`calendar part is wrong:\n  ${problems.join('\n  ')}\n${text}`);
  return {
    method,
    uid: parsed!.uid,
    sequence: Number(event!.getFirstPropertyValue('sequence')),
    start: parsed!.startDate.toJSDate(),
    status: String(event!.getFirstPropertyValue('status') ?? ''),
    partstat,
  };
}

/** Every calendar part of a mail, checked; throws when there is none or one is wrong. */
export function checkedCalendars(mail: SinkMessage): CheckedCalendar[] {
  const parts = mail.parsed.attachments.filter((a) => /calendar|ics/i.test(a.contentType) || /\.ics$/i.test(a.filename ?? ''));
  if (parts.length === 0) throw new Error(`no calendar in "${mail.parsed.subject}"`);
  return parts.map((part) => {
    if (!part.contentType.startsWith('text/calendar')) throw new Error(`a calendar part is labelled ${part.contentType}, not text/calendar`);
    const header = part.headers.get('content-type') as { params?: Record<string, string> } | undefined;
    const method = header?.params?.method?.toUpperCase() ?? null;
    if (method === null) throw new Error('a calendar part has no method= in its Content-Type (RFC 6047 2.4)');
    return checkCalendarText(part.content.toString('utf8'), method);
  });
}
