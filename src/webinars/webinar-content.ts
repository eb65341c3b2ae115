// The words of a webinar's marketing items (invitation, follow-ups), built as campaign content per
// language, and the date line every webinar text shows. Pure: no I/O, no clock.
import { Locale, LOCALES } from '../config/config';

export interface Localized {
  de: string | null;
  en: string | null;
}

export interface WebinarText {
  title: Localized;
  description: Localized;
  startsAt: Date;
  endsAt: Date;
  series: { title: Localized; part: number } | null;
}

export interface CampaignText {
  subject: Partial<Record<Locale, string>>;
  body: Partial<Record<Locale, string>>;
  digestSummary: Partial<Record<Locale, string>>;
}

/** The text in this language, or in the other one when the webinar has none in it. */
export function pick(text: Localized, locale: Locale): string {
  return (locale === 'de' ? (text.de ?? text.en) : (text.en ?? text.de)) ?? '';
}

/** The languages the webinar is offered in: those it has a title for. */
export const webinarLocales = (w: { title: Localized }): Locale[] => LOCALES.filter((l) => w.title[l] !== null);

const intlLocale = (locale: Locale) => (locale === 'de' ? 'de-DE' : 'en-GB');

/** "Dienstag, 10. März 2026, 10:00–11:00 Uhr (Europe/Berlin)", in the given zone. */
export function formatWhen(startsAt: Date, endsAt: Date, locale: Locale, timeZone: string): string {
  const day = new Intl.DateTimeFormat(intlLocale(locale), { dateStyle: 'full', timeZone });
  const time = new Intl.DateTimeFormat(intlLocale(locale), { timeStyle: 'short', timeZone });
  const suffix = locale === 'de' ? ' Uhr' : '';
  if (day.format(startsAt) === day.format(endsAt)) {
    return `${day.format(startsAt)}, ${time.format(startsAt)}–${time.format(endsAt)}${suffix} (${timeZone})`;
  }
  return `${day.format(startsAt)}, ${time.format(startsAt)}${suffix} – ${day.format(endsAt)}, ${time.format(endsAt)}${suffix} (${timeZone})`;
}

export function seriesLabel(w: WebinarText, locale: Locale): string | null {
  if (!w.series) return null;
  const title = pick(w.series.title, locale);
  return locale === 'de' ? `Teil ${w.series.part} der Reihe „${title}“` : `Part ${w.series.part} of the series “${title}”`;
}

export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
}

/** Plain text with blank lines between paragraphs, as HTML paragraphs. */
function paragraphs(text: string): string {
  return text
    .split(/\n\s*\n/)
    .map((p) => p.trim())
    .filter(Boolean)
    .map((p) => `<p>${escapeHtml(p).replace(/\n/g, '<br />')}</p>`)
    .join('\n');
}

const oneLine = (text: string, max: number) => {
  const flat = text.replace(/\s+/g, ' ').trim();
  return flat.length <= max ? flat : `${flat.slice(0, max - 1).trimEnd()}…`;
};

function build(
  w: WebinarText,
  timeZone: string,
  words: Record<Locale, { subject: (title: string) => string; lead: string; link: string; summary: string }>,
  url: string,
  withDescription: boolean,
): CampaignText {
  const out: CampaignText = { subject: {}, body: {}, digestSummary: {} };
  for (const locale of webinarLocales(w)) {
    const title = pick(w.title, locale);
    const when = formatWhen(w.startsAt, w.endsAt, locale, timeZone);
    const series = seriesLabel(w, locale);
    const text = words[locale];
    out.subject[locale] = oneLine(text.subject(title), 200);
    out.body[locale] = [
      `<h1>${escapeHtml(title)}</h1>`,
      series ? `<p><em>${escapeHtml(series)}</em></p>` : '',
      `<p>${escapeHtml(text.lead)}</p>`,
      `<p><strong>${escapeHtml(when)}</strong></p>`,
      withDescription ? paragraphs(pick(w.description, locale)) : '',
      `<p><a href="${escapeHtml(url)}">${escapeHtml(text.link)}</a></p>`,
    ]
      .filter(Boolean)
      .join('\n');
    out.digestSummary[locale] = oneLine(`${when}${series ? ` · ${series}` : ''}. ${text.summary} ${withDescription ? pick(w.description, locale) : ''}`, 500);
  }
  return out;
}

/** The invitation: what, when (in the webinar's zone, named), and the link to the registration page. */
export function invitationText(w: WebinarText, timeZone: string, registerUrl: string): CampaignText {
  return build(
    w,
    timeZone,
    {
      de: {
        subject: (t) => `Einladung zum Webinar: ${t}`,
        lead: 'Wir laden Sie zu unserem Webinar ein.',
        link: 'Jetzt kostenlos anmelden',
        summary: 'Webinar – Anmeldung über den Link.',
      },
      en: {
        subject: (t) => `Webinar invitation: ${t}`,
        lead: 'You are invited to our webinar.',
        link: 'Register now, free of charge',
        summary: 'Webinar – register through the link.',
      },
    },
    registerUrl,
    true,
  );
}

/** After the webinar: the recording for those who came, "you missed it" for those who did not. */
export function followUpText(kind: 'attended' | 'missed', w: WebinarText, timeZone: string, recordingUrl: string): CampaignText {
  const words =
    kind === 'attended'
      ? {
          de: {
            subject: (t: string) => `Danke fürs Dabeisein: ${t}`,
            lead: 'Danke, dass Sie dabei waren. Hier finden Sie die Aufzeichnung und die Unterlagen.',
            link: 'Aufzeichnung und Unterlagen ansehen',
            summary: 'Aufzeichnung und Unterlagen zum Webinar.',
          },
          en: {
            subject: (t: string) => `Thank you for joining: ${t}`,
            lead: 'Thank you for joining us. Here are the recording and the material.',
            link: 'Watch the recording and get the material',
            summary: 'Recording and material of the webinar.',
          },
        }
      : {
          de: {
            subject: (t: string) => `Verpasst? Die Aufzeichnung: ${t}`,
            lead: 'Schade, dass Sie nicht dabei sein konnten. Die Aufzeichnung steht für Sie bereit.',
            link: 'Aufzeichnung ansehen',
            summary: 'Die Aufzeichnung des Webinars, das Sie verpasst haben.',
          },
          en: {
            subject: (t: string) => `You missed it – here is the recording: ${t}`,
            lead: 'Sorry you could not make it. The recording is ready for you.',
            link: 'Watch the recording',
            summary: 'The recording of the webinar you missed.',
          },
        };
  return build(w, timeZone, words, recordingUrl, false);
}
