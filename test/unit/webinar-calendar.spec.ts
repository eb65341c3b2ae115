// The calendar file is RFC 5545 and carries what iTIP clients (Outlook, Gmail, Apple Calendar)
// need: METHOD, a stable UID, SEQUENCE, DTSTAMP, ORGANIZER and ATTENDEE. Checked with an
// independent parser (node-ical), not with the library that wrote it.
import * as ical from 'node-ical';
import { calendarFile, CalendarEvent, calendarName, mailboxAddress } from '../../src/webinars/webinar-calendar';

const event: CalendarEvent = {
  uid: '3f2b8c1e-0000-4000-8000-000000000001@tactful.example',
  sequence: 1,
  method: 'REQUEST',
  startsAt: new Date('2026-03-10T09:00:00Z'),
  endsAt: new Date('2026-03-10T10:00:00Z'),
  summary: 'Zahlungsziele, richtig; genutzt',
  description:
    'Ein Webinar über längere Zahlungsziele – mit Beispielen aus dem Großhandel, die länger sind als eine Zeile im Kalenderformat erlaubt.\n\nTeilnehmen: https://meet.example.com/j/1',
  joinUrl: 'https://meet.example.com/j/1?pwd=a&b=c',
  organizer: { name: 'Beispiel GmbH', email: 'news@beispiel.example' },
  attendee: { email: 'anna@example.de', name: 'Anna' },
  stamp: new Date('2026-03-02T09:00:00Z'),
};

function parse(text: string) {
  const parsed = ical.sync.parseICS(text);
  const vevent = Object.values(parsed).find((c) => c?.type === 'VEVENT') as any;
  const vcalendar = (parsed as any).vcalendar;
  return { vevent, vcalendar };
}

describe('calendarFile', () => {
  it('writes a REQUEST that a parser reads back with UID, SEQUENCE, times, organizer and attendee', () => {
    const { vevent, vcalendar } = parse(calendarFile(event));
    expect(vcalendar).toMatchObject({ version: '2.0', method: 'REQUEST' });
    expect(vcalendar.prodid).toMatch(/Tactful/);
    expect(vevent.uid).toBe(event.uid);
    expect(Number(vevent.sequence)).toBe(1);
    expect(new Date(vevent.start).toISOString()).toBe('2026-03-10T09:00:00.000Z');
    expect(new Date(vevent.end).toISOString()).toBe('2026-03-10T10:00:00.000Z');
    expect(new Date(vevent.dtstamp).toISOString()).toBe('2026-03-02T09:00:00.000Z');
    expect(vevent.summary).toBe(event.summary);
    expect(vevent.description).toBe(event.description);
    expect(vevent.status).toBe('CONFIRMED');
    expect(vevent.organizer.val).toBe('mailto:news@beispiel.example');
    expect(String(vevent.attendee.val).toLowerCase()).toBe('mailto:anna@example.de');
  });

  it('writes a CANCEL for the same UID with the event marked cancelled', () => {
    const { vevent, vcalendar } = parse(calendarFile({ ...event, method: 'CANCEL', sequence: 2 }));
    expect(vcalendar.method).toBe('CANCEL');
    expect(vevent.uid).toBe(event.uid);
    expect(Number(vevent.sequence)).toBe(2);
    expect(vevent.status).toBe('CANCELLED');
  });

  it('uses CRLF line ends and folds content lines at 75 octets (RFC 5545 3.1)', () => {
    const text = calendarFile(event);
    expect(text).toMatch(/^BEGIN:VCALENDAR\r\n/);
    expect(text.replace(/\r\n/g, '')).not.toMatch(/\n/);
    for (const line of text.split('\r\n')) expect(Buffer.byteLength(line, 'utf8')).toBeLessThanOrEqual(75);
    expect(text).toMatch(/\r\nDTSTAMP:20260302T090000Z\r\n/);
  });

  it.each([
    ['Anna "Annie" Schmidt', "Anna 'Annie' Schmidt"],
    ['Doe; Jane', 'Doe Jane'],
    ['van Dyk, Sr.: CEO', 'van Dyk, Sr.: CEO'],
    ['two\nlines\r\nhere', 'two lines here'],
    ['back\\slash', 'back slash'],
    ['"', "'"],
    ['Ünïcödé Ærøskøbing', 'Ünïcödé Ærøskøbing'],
  ])('writes the attendee and organizer name %j as one CN parameter a parser reads back as %j (RFC 5545 3.2: no DQUOTE inside)', (name, expected) => {
    const text = calendarFile({ ...event, attendee: { email: 'anna@example.de', name }, organizer: { name: `${name} GmbH`, email: 'news@beispiel.example' } });
    for (const line of text
      .replace(/\r\n[ \t]/g, '')
      .split('\r\n')
      .filter((l) => /^(ATTENDEE|ORGANIZER)/.test(l))) {
      // One quoted CN value: exactly two DQUOTEs, the value before the ":" of the mailto.
      expect(line.match(/"/g)).toHaveLength(2);
      expect(line).toMatch(/;CN="[^"]*":(mailto|MAILTO):/);
    }
    const { vevent } = parse(text);
    expect(vevent.attendee.params.CN).toBe(expected);
    expect(String(vevent.attendee.val).toLowerCase()).toBe('mailto:anna@example.de');
    expect(vevent.organizer.params.CN).toBe(`${expected} GmbH`);
    expect(vevent.organizer.val).toBe('mailto:news@beispiel.example');
  });

  it('leaves out a CN that is empty once cleaned, and names the organizer by address then', () => {
    const text = calendarFile({ ...event, attendee: { email: 'anna@example.de', name: ' ; ' }, organizer: { name: ';', email: 'news@beispiel.example' } });
    expect(text).not.toMatch(/ATTENDEE[^\r]*CN=/);
    expect(calendarName(' "x" ')).toBe("'x'");
    expect(parse(text).vevent.organizer.params.CN).toBe('news@beispiel.example');
  });

  it('takes the bare address out of a mailbox', () => {
    expect(mailboxAddress('Beispiel GmbH <news@beispiel.example>')).toBe('news@beispiel.example');
    expect(mailboxAddress('news@beispiel.example')).toBe('news@beispiel.example');
  });
});
