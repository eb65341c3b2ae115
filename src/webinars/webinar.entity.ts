// Row shapes of the webinar tables as the raw SQL of this module reads them, and the one query
// that loads a webinar with its topic and series.
import type { Locale } from '../config/config';
import { WebinarText } from './webinar-content';

export interface WebinarRow {
  id: string;
  slug: string;
  topic_id: string;
  topic_key: string;
  series_id: string | null;
  series_key: string | null;
  series_title_de: string | null;
  series_title_en: string | null;
  series_part: number | null;
  title_de: string | null;
  title_en: string | null;
  description_de: string | null;
  description_en: string | null;
  starts_at: Date;
  ends_at: Date;
  time_zone: string;
  join_url: string;
  capacity: number | null;
  reminder_minutes: number[];
  status: 'scheduled' | 'cancelled';
  recording_url: string | null;
  invitation_campaign_id: string | null;
  attended_campaign_id: string | null;
  missed_campaign_id: string | null;
  attendance_imported_at: Date | null;
  created_at: Date;
  updated_at: Date;
  cancelled_at: Date | null;
  registered: number;
}

export interface RegistrationRow {
  id: string;
  webinar_id: string;
  subscriber_id: string;
  email: string;
  status: 'registered' | 'unregistered' | 'cancelled';
  source: 'page' | 'api' | 'series';
  sequence: number;
  attended: boolean | null;
  next_reminder_slot: number;
  next_reminder_at: Date | null;
  registered_at: Date;
  unregistered_at: Date | null;
}

/** A request of the public form's double opt-in, as confirming it and its mail need it. */
export interface RegistrationRequestRow {
  id: string;
  webinar_id: string;
  email: string;
  locale: Locale;
  time_zone: string;
  first_name: string | null;
  series: boolean;
  status: 'pending' | 'confirmed';
  last_mail_at: Date | null;
  mails: number;
}

export function webinarText(w: WebinarRow): WebinarText {
  return {
    title: { de: w.title_de, en: w.title_en },
    description: { de: w.description_de, en: w.description_en },
    startsAt: w.starts_at,
    endsAt: w.ends_at,
    series: w.series_id ? { title: { de: w.series_title_de, en: w.series_title_en }, part: w.series_part! } : null,
  };
}

/** A webinar row as a change or a registration locks it: what registering, rescheduling and reminders need. */
export interface LockedWebinar {
  id: string;
  series_id: string | null;
  series_part: number | null;
  status: string;
  starts_at: Date;
  capacity: number | null;
  reminder_minutes: number[];
}
