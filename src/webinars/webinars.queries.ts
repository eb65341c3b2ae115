// The webinars domain's statements (docs/SQL.md): webinars and series, registrations and their
// reminders, and the service mails queued for them.
import { queries, sql } from '../database/statements';
import type { LockedWebinar, RegistrationRequestRow, RegistrationRow, WebinarRow } from './webinar.entity';

/** Webinars with topic key, series and the number of current registrations (alias w). */
const WEBINAR = `SELECT w.*, t.key AS topic_key, ser.key AS series_key, ser.title_de AS series_title_de, ser.title_en AS series_title_en,
         (SELECT count(*)::int FROM webinar_registrations r WHERE r.webinar_id = w.id AND r.status = 'registered') AS registered
  FROM webinars w
  JOIN topics t ON t.id = w.topic_id
  LEFT JOIN webinar_series ser ON ser.id = w.series_id`;
const LOCKED = `id, series_id, series_part, status, starts_at, capacity, reminder_minutes`;
const REGISTRATION = `SELECT r.*, s.email FROM webinar_registrations r JOIN subscribers s ON s.id = r.subscriber_id`;
/** A registration request of the public form (RegistrationRequestRow). */
const REQUEST = `id, webinar_id, email, locale, time_zone, first_name, series, status, last_mail_at, mails`;

export const WebinarQueries = queries('webinars', {
  // ---- webinars and series ----
  list: sql<[], WebinarRow>('The newest 500 webinars, as the API lists them.', `${WEBINAR} ORDER BY w.starts_at DESC LIMIT 500`),
  byId: sql<[id: string], WebinarRow>('One webinar as the API and its mails show it.', `${WEBINAR} WHERE w.id = $1`),
  bySlug: sql<[slug: string], WebinarRow>('The webinar a public page names by slug (unique).', `${WEBINAR} WHERE w.slug = $1`),
  lockById: sql<[id: string], WebinarRow>(
    'The webinar locked while its campaign column is filled: two requests never both create a campaign for it.',
    `${WEBINAR} WHERE w.id = $1 FOR UPDATE OF w`,
  ),
  partTaken: sql<[seriesId: string, part: number]>(
    'Whether a series already has this part.',
    `SELECT 1 FROM webinars WHERE series_id = $1 AND series_part = $2`,
  ),
  seriesMembers: sql<[seriesId: string], { count: number }>(
    'How many signed up for a whole series: a new part must seat them all.',
    `SELECT count(*)::int AS count FROM webinar_series_registrations WHERE series_id = $1`,
  ),
  create: sql<
    [
      slug: string,
      topicId: string,
      seriesId: string | null,
      part: number | null,
      titleDe: string | null,
      titleEn: string | null,
      descriptionDe: string | null,
      descriptionEn: string | null,
      startsAt: Date,
      endsAt: Date,
      timeZone: string,
      joinUrl: string,
      capacity: number | null,
      reminderMinutes: number[],
      at: Date,
    ],
    LockedWebinar
  >(
    'A new scheduled webinar (the unique slug makes a taken one a conflict); returns what registering its series members needs.',
    `INSERT INTO webinars (slug, topic_id, series_id, series_part, title_de, title_en, description_de, description_en, starts_at, ends_at,
                           time_zone, join_url, capacity, reminder_minutes, status, created_at, updated_at)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, 'scheduled', $15, $15)
     RETURNING ${LOCKED}`,
  ),
  update: sql<
    [
      id: string,
      titleDe: string | null,
      titleEn: string | null,
      descriptionDe: string | null,
      descriptionEn: string | null,
      startsAt: Date,
      endsAt: Date,
      timeZone: string | null,
      joinUrl: string | null,
      capacity: number | null,
      reminderMinutes: number[],
      recordingUrl: string | null,
      at: Date,
    ],
    LockedWebinar
  >(
    'A change to a webinar that is still scheduled (none: it was cancelled meanwhile); a null keeps the column.',
    `UPDATE webinars SET title_de = $2, title_en = $3, description_de = coalesce($4, description_de), description_en = coalesce($5, description_en),
       starts_at = $6, ends_at = $7, time_zone = coalesce($8, time_zone), join_url = coalesce($9, join_url), capacity = coalesce($10, capacity),
       reminder_minutes = $11, recording_url = coalesce($12, recording_url), updated_at = $13
     WHERE id = $1 AND status = 'scheduled'
     RETURNING ${LOCKED}`,
  ),
  cancel: sql<[id: string, at: Date], { id: string }>(
    'Cancels a scheduled webinar (none: cancelled already by a concurrent request).',
    `UPDATE webinars SET status = 'cancelled', cancelled_at = $2, updated_at = $2 WHERE id = $1 AND status = 'scheduled' RETURNING id`,
  ),
  attendanceImported: sql<[id: string, recordingUrl: string | null, at: Date]>(
    'Attendance imported (and the recording, if given) in the same transaction as the marks and follow-ups.',
    `UPDATE webinars SET recording_url = coalesce($2, recording_url), attendance_imported_at = $3, updated_at = $3 WHERE id = $1`,
  ),
  setInvitationCampaign: sql<[id: string, campaignId: string, at: Date]>(
    'The webinar points at its invitation campaign (made in the same transaction).',
    `UPDATE webinars SET invitation_campaign_id = $2, updated_at = $3 WHERE id = $1`,
  ),
  setAttendedCampaign: sql<[id: string, campaignId: string, at: Date]>(
    "The webinar points at its attendees' follow-up campaign.",
    `UPDATE webinars SET attended_campaign_id = $2, updated_at = $3 WHERE id = $1`,
  ),
  setMissedCampaign: sql<[id: string, campaignId: string, at: Date]>(
    "The webinar points at its no-shows' follow-up campaign.",
    `UPDATE webinars SET missed_campaign_id = $2, updated_at = $3 WHERE id = $1`,
  ),
  slugsLike: sql<[base: string], { slug: string }>(
    'Slugs taken by this base or its -2, -3, … variants, to pick the next free one.',
    `SELECT slug FROM webinars WHERE slug = $1 OR slug LIKE $1 || '-%'`,
  ),
  lockSeries: sql<[key: string], { id: string }>('A series by key, locked while a part is added.', `SELECT id FROM webinar_series WHERE key = $1 FOR UPDATE`),
  retitleSeries: sql<[id: string, titleDe: string | null, titleEn: string | null, at: Date]>(
    "A series' title, where given.",
    `UPDATE webinar_series SET title_de = coalesce($2, title_de), title_en = coalesce($3, title_en), updated_at = $4 WHERE id = $1`,
  ),
  createSeries: sql<[key: string, titleDe: string | null, titleEn: string | null, at: Date], { id: string }>(
    'A new series; a concurrent creation of the same key wins and its id is returned.',
    `INSERT INTO webinar_series (key, title_de, title_en, created_at, updated_at) VALUES ($1, $2, $3, $4, $4)
     ON CONFLICT (key) DO UPDATE SET updated_at = EXCLUDED.updated_at RETURNING id`,
  ),

  // ---- registrations ----
  target: sql<[id: string], { id: string; series_id: string | null }>(
    'The webinar a registration is for, and its series.',
    `SELECT id, series_id FROM webinars WHERE id = $1`,
  ),
  lockParts: sql<[id: string, seriesId: string | null, now: Date], LockedWebinar>(
    'Every part a registration may touch (the webinar, and with a series sign-up every later scheduled part), locked in id order so two series registrations cannot deadlock.',
    `SELECT ${LOCKED} FROM webinars
     WHERE id = $1 OR ($2::uuid IS NOT NULL AND series_id = $2 AND status = 'scheduled' AND starts_at > $3)
     ORDER BY id FOR UPDATE`,
  ),
  subscriberByEmail: sql<[email: string], { id: string }>('The subscriber behind a normalised address.', `SELECT id FROM subscribers WHERE email = $1`),
  joinSeries: sql<[subscriberId: string, seriesId: string, at: Date]>(
    'A sign-up for the whole series: parts published later register the person too.',
    `INSERT INTO webinar_series_registrations (subscriber_id, series_id, registered_at) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING`,
  ),
  registerSeriesMembers: sql<[webinarId: string, slot: number, nextReminderAt: Date | null, at: Date, seriesId: string], { id: string }>(
    'A part just published registers everyone signed up for its series, set-based.',
    `INSERT INTO webinar_registrations (subscriber_id, webinar_id, status, source, sequence, next_reminder_slot, next_reminder_at, registered_at, updated_at)
     SELECT sr.subscriber_id, $1, 'registered', 'series', 0, $2, $3, $4, $4 FROM webinar_series_registrations sr WHERE sr.series_id = $5
     ON CONFLICT (webinar_id, subscriber_id) DO NOTHING
     RETURNING id`,
  ),
  lockRegistration: sql<[id: string], { id: string; subscriber_id: string; status: string; webinar_id: string; series_id: string | null }>(
    'The registration an unregister link names, locked, with its webinar and series.',
    `SELECT r.id, r.subscriber_id, r.status, w.id AS webinar_id, w.series_id FROM webinar_registrations r JOIN webinars w ON w.id = r.webinar_id
     WHERE r.id = $1 FOR UPDATE OF r`,
  ),
  leaveSeries: sql<[subscriberId: string, seriesId: string]>(
    'Leaving the whole series; the row count says whether the person was signed up for it.',
    `DELETE FROM webinar_series_registrations WHERE subscriber_id = $1 AND series_id = $2`,
  ),
  laterPartRegistrations: sql<[subscriberId: string, seriesId: string, now: Date], { id: string }>(
    "The person's registrations for parts of the series still to come, locked in id order.",
    `SELECT r.id FROM webinar_registrations r JOIN webinars w ON w.id = r.webinar_id
     WHERE r.subscriber_id = $1 AND w.series_id = $2 AND r.status = 'registered' AND w.starts_at > $3 ORDER BY r.id FOR UPDATE OF r`,
  ),
  lockCurrentRegistrations: sql<[webinarId: string], { id: string }>(
    "A cancelled webinar's current registrations, locked in id order.",
    `SELECT id FROM webinar_registrations WHERE webinar_id = $1 AND status = 'registered' ORDER BY id FOR UPDATE`,
  ),
  bumpSequences: sql<[webinarId: string, at: Date], { id: string; sequence: number }>(
    "The webinar's calendar changed: SEQUENCE + 1 for every current registration (RFC 5545: a newer version of the same event).",
    `UPDATE webinar_registrations SET sequence = sequence + 1, updated_at = $2 WHERE webinar_id = $1 AND status = 'registered' RETURNING id, sequence`,
  ),
  replanReminders: sql<[webinarId: string, fromSlots: number[], slots: number[], ats: (Date | null)[], reminderCount: number]>(
    "Every registration's next reminder moves to its slot's time for the current start, one row per slot it may be at (slots never go back).",
    `UPDATE webinar_registrations r SET next_reminder_slot = p.slot, next_reminder_at = p.at
     FROM unnest($2::int[], $3::int[], $4::timestamptz[]) AS p(from_slot, slot, at)
     WHERE r.webinar_id = $1 AND r.status = 'registered' AND least(r.next_reminder_slot, $5::int) = p.from_slot`,
  ),
  markAttendance: sql<[webinarId: string, emails: string[], at: Date], { attended: number; missed: number; not_registered: string[] }>(
    'Who came, set-based: every other registrant is a no-show; given addresses without a registration are reported back.',
    `WITH given AS (SELECT DISTINCT lower(trim(e)) AS email FROM unnest($2::text[]) e),
       marked AS (
         UPDATE webinar_registrations r SET attended = EXISTS (SELECT 1 FROM given g WHERE g.email = s.email), updated_at = $3
         FROM subscribers s WHERE s.id = r.subscriber_id AND r.webinar_id = $1 AND r.status = 'registered'
         RETURNING r.attended, s.email)
     SELECT (SELECT count(*) FROM marked WHERE attended)::int AS attended,
            (SELECT count(*) FROM marked WHERE NOT attended)::int AS missed,
            coalesce((SELECT array_agg(g.email ORDER BY g.email) FROM given g WHERE NOT EXISTS (SELECT 1 FROM marked m WHERE m.email = g.email)), '{}') AS not_registered`,
  ),
  exists: sql<[id: string], { id: string }>('Whether a webinar exists.', `SELECT id FROM webinars WHERE id = $1`),
  registrations: sql<[webinarId: string], RegistrationRow>(
    "A webinar's registrations in the order they came.",
    `${REGISTRATION} WHERE r.webinar_id = $1 ORDER BY r.registered_at, r.id`,
  ),
  registration: sql<[id: string], RegistrationRow>('One registration with its address.', `${REGISTRATION} WHERE r.id = $1`),
  claimDueReminders: sql<[now: Date, limit: number], { id: string; slot: number; starts_at: Date; minutes: number[]; live: boolean }>(
    'Registrations whose next reminder is due, claimed with SKIP LOCKED so every instance can run the job at once.',
    `SELECT r.id, r.next_reminder_slot AS slot, w.starts_at, w.reminder_minutes AS minutes,
            (r.status = 'registered' AND w.status = 'scheduled') AS live
     FROM webinar_registrations r JOIN webinars w ON w.id = r.webinar_id
     WHERE r.next_reminder_at <= $1
     ORDER BY r.next_reminder_at LIMIT $2
     FOR UPDATE OF r SKIP LOCKED`,
  ),
  advanceReminders: sql<[ids: string[], slots: number[], ats: (Date | null)[], at: Date]>(
    'Each claimed registration moves on to its next reminder slot (or none), in one statement.',
    `UPDATE webinar_registrations r SET next_reminder_slot = p.slot, next_reminder_at = p.at, updated_at = $4
     FROM unnest($1::uuid[], $2::int[], $3::timestamptz[]) AS p(id, slot, at) WHERE r.id = p.id`,
  ),
  registeredCount: sql<[webinarId: string], { count: number }>(
    'Seats taken, read with the webinar row locked by the caller, so two last-seat registrations cannot both win.',
    `SELECT count(*)::int AS count FROM webinar_registrations WHERE webinar_id = $1 AND status = 'registered'`,
  ),
  lockExistingRegistration: sql<[webinarId: string, subscriberId: string], { id: string; status: string; next_reminder_slot: number }>(
    "The person's registration for this webinar, if any, locked.",
    `SELECT id, status, next_reminder_slot FROM webinar_registrations WHERE webinar_id = $1 AND subscriber_id = $2 FOR UPDATE`,
  ),
  reRegister: sql<[id: string, slot: number, nextReminderAt: Date | null, at: Date], { id: string; sequence: number }>(
    'A former registration comes back with SEQUENCE + 1 (its calendar event was cancelled).',
    `UPDATE webinar_registrations SET status = 'registered', sequence = sequence + 1, next_reminder_slot = $2, next_reminder_at = $3,
       registered_at = $4, unregistered_at = NULL, updated_at = $4 WHERE id = $1 RETURNING id, sequence`,
  ),
  register: sql<
    [subscriberId: string, webinarId: string, source: string, slot: number, nextReminderAt: Date | null, at: Date],
    { id: string; sequence: number }
  >(
    'A new registration.',
    `INSERT INTO webinar_registrations (subscriber_id, webinar_id, status, source, sequence, next_reminder_slot, next_reminder_at, registered_at, updated_at)
     VALUES ($1, $2, 'registered', $3, 0, $4, $5, $6, $6) RETURNING id, sequence`,
  ),
  endRegistrations: sql<[ids: string[], status: 'unregistered' | 'cancelled', at: Date], { id: string; sequence: number }>(
    'Registrations end, set-based: SEQUENCE + 1 (for the CANCEL), no more reminders.',
    `UPDATE webinar_registrations SET status = $2, sequence = sequence + 1, next_reminder_at = NULL,
       unregistered_at = CASE WHEN $2 = 'unregistered' THEN $3 ELSE unregistered_at END, updated_at = $3
     WHERE id = ANY($1::uuid[]) AND status = 'registered'
     RETURNING id, sequence`,
  ),
  forPage: sql<
    [id: string],
    { id: string; status: string; webinar_id: string; subscriber_id: string; locale: 'de' | 'en'; time_zone: string; in_series: boolean }
  >(
    "The registration an unregister page's token names, with the reader's language and zone and whether they signed up for the series.",
    `SELECT r.id, r.status, r.webinar_id, r.subscriber_id, s.locale, s.time_zone,
            EXISTS (SELECT 1 FROM webinar_series_registrations sr JOIN webinars w ON w.series_id = sr.series_id
                    WHERE w.id = r.webinar_id AND sr.subscriber_id = r.subscriber_id) AS in_series
     FROM webinar_registrations r JOIN subscribers s ON s.id = r.subscriber_id WHERE r.id = $1`,
  ),

  personalHolder: sql<[subscriberId: string], { email: string; time_zone: string; first_name: string | null }>(
    'The subscriber a personal registration link was mailed to, if they may get webinar mail (not bounced or complained): the form is theirs.',
    `SELECT email, time_zone, attributes ->> 'firstName' AS first_name FROM subscribers WHERE id = $1 AND status NOT IN ('bounced', 'complained')`,
  ),

  pruneRequests: sql<[now: Date, pendingBefore: Date]>(
    "The public form's registration requests are forgotten when no longer needed: pending ones after PENDING_REQUEST_DAYS (their link then opens the invalid-link page), every one once its webinar has ended.",
    `DELETE FROM webinar_registration_requests q USING webinars w
     WHERE w.id = q.webinar_id AND (w.ends_at <= $1 OR (q.status = 'pending' AND q.created_at <= $2))`,
  ),

  // ---- the public form's double opt-in (webinar-registration-requests.service.ts) ----
  formSubscriber: sql<[email: string], { id: string; status: string }>(
    'The subscriber behind a form address, if any, and whether they may get mail at all (a bounced or complained address is told nothing).',
    `SELECT id, status FROM subscribers WHERE email = $1`,
  ),
  isRegistered: sql<[webinarId: string, subscriberId: string]>(
    'Whether the person is registered already: then no confirmation mail asks them again.',
    `SELECT 1 FROM webinar_registrations WHERE webinar_id = $1 AND subscriber_id = $2 AND status = 'registered'`,
  ),
  lockFormKey: sql<[key: string]>(
    "A transaction advisory lock on a limit's key (an address, a client address; released at commit): no other submission for it runs between its count and its write. Taken address first, then client address: one order, no deadlock.",
    `SELECT pg_advisory_xact_lock(hashtextextended($1, 0))`,
  ),
  request: sql<[webinarId: string, email: string], RegistrationRequestRow>(
    'The request of one address for one webinar (unique), read under the address lock.',
    `SELECT ${REQUEST} FROM webinar_registration_requests WHERE webinar_id = $1 AND email = $2`,
  ),
  mailsToAddress: sql<[email: string, since: Date], { count: number }>(
    'Confirmation mails to one address since a time, whatever the webinar: the form cannot be used to flood a mailbox (MAX_MAILS_PER_ADDRESS_DAY).',
    `SELECT count(*)::int AS count FROM webinar_registration_requests WHERE email = $1 AND last_mail_at > $2`,
  ),
  mailsFromClient: sql<[ipBucket: string, since: Date], { count: number }>(
    'Confirmation mails asked for from one client address (its bucket) since a time (WEBINAR_CONFIRM_MAILS_PER_IP_HOUR).',
    `SELECT count(*)::int AS count FROM webinar_registration_requests WHERE ip_bucket = $1 AND last_mail_at > $2`,
  ),
  saveRequest: sql<
    [
      webinarId: string,
      email: string,
      locale: string,
      timeZone: string,
      firstName: string | null,
      series: boolean,
      ip: string | null,
      ipBucket: string | null,
      userAgent: string | null,
      at: Date,
    ],
    { id: string; mails: number }
  >(
    'Stored only when a mail goes: what the form said now is what the click will register (a confirmed request, whose registration has ended since, asks again and is pending again). mails counts the mails, for the mail key.',
    `INSERT INTO webinar_registration_requests (webinar_id, email, locale, time_zone, first_name, series, status, ip, ip_bucket, user_agent,
                                                mails, last_mail_at, created_at, updated_at)
     VALUES ($1, $2, $3, $4, $5, $6, 'pending', $7, $8, left($9, 500), 1, $10, $10, $10)
     ON CONFLICT (webinar_id, email) DO UPDATE
     SET locale = EXCLUDED.locale, time_zone = EXCLUDED.time_zone, first_name = EXCLUDED.first_name, series = EXCLUDED.series,
         status = 'pending', confirmed_at = NULL, ip = EXCLUDED.ip, ip_bucket = EXCLUDED.ip_bucket, user_agent = EXCLUDED.user_agent,
         mails = webinar_registration_requests.mails + 1, last_mail_at = EXCLUDED.last_mail_at, updated_at = EXCLUDED.updated_at
     RETURNING id, mails`,
  ),
  queueRequestMail: sql<
    [subscriberId: string | null, toAddress: string | null, kind: string, requestId: string, locale: string, idempotencyKey: string, at: Date]
  >(
    "The confirmation mail of a request: service mail, the direct result of this request, keyed by the request and its mail count (one per submission that may mail). A known address's mail goes to the subscriber and shows on their timeline; an unknown one goes to the bare address.",
    `INSERT INTO deliveries (subscriber_id, to_address, class, kind, ref_id, locale, status, reason, idempotency_key,
                             payload, priority, next_attempt_at, created_at, updated_at)
     VALUES ($1, $2, 'service', $3, $4, $5, 'queued', 'queued', $6, '{}'::jsonb, 10, $7, $7, $7)`,
  ),
  lockRequest: sql<[requestId: string, webinarId: string], RegistrationRequestRow>(
    "The request a confirmation link names, locked while it registers the person: two clicks on the link take turns (the second finds them registered). Another webinar's link finds nothing.",
    `SELECT ${REQUEST} FROM webinar_registration_requests WHERE id = $1 AND webinar_id = $2 FOR UPDATE`,
  ),
  confirmRequest: sql<[requestId: string, at: Date]>(
    'The request confirmed by its click; the first confirmation time stays.',
    `UPDATE webinar_registration_requests SET status = 'confirmed', confirmed_at = coalesce(confirmed_at, $2), updated_at = $2 WHERE id = $1`,
  ),
  requestById: sql<[requestId: string], RegistrationRequestRow>(
    'A request by id: for the page that shows the confirm button (GET changes nothing), and for its mail.',
    `SELECT ${REQUEST} FROM webinar_registration_requests WHERE id = $1`,
  ),
  requestGate: sql<[requestId: string], { status: string; webinar_status: string; starts_at: Date }>(
    'At hand-over: whether the request still waits and its webinar is still open; the request shared-locked so a click on an earlier mail waits for the hand-over.',
    `SELECT q.status, w.status AS webinar_status, w.starts_at FROM webinar_registration_requests q JOIN webinars w ON w.id = q.webinar_id
     WHERE q.id = $1 FOR SHARE OF q`,
  ),

  // ---- service mails ----
  queueMails: sql<[registrationIds: string[], keys: string[], payloads: string[], kind: string, priority: number, at: Date]>(
    'Service mails for registrations in one statement; the idempotency key per kind, registration and key makes a repeat a no-op.',
    `INSERT INTO deliveries (subscriber_id, class, kind, topic_id, ref_id, locale, status, reason, idempotency_key, payload,
                             priority, next_attempt_at, created_at, updated_at)
     SELECT r.subscriber_id, 'service', $4, w.topic_id, r.id::text, s.locale, 'queued', 'queued', $4 || ':' || r.id::text || ':' || m.key,
            m.payload, $5, $6, $6, $6
     FROM unnest($1::uuid[], $2::text[], $3::jsonb[]) AS m(registration_id, key, payload)
     JOIN webinar_registrations r ON r.id = m.registration_id
     JOIN subscribers s ON s.id = r.subscriber_id
     JOIN webinars w ON w.id = r.webinar_id`,
  ),
  suppressReminders: sql<[registrationIds: string[], reason: string, at: Date]>(
    'Reminders not yet handed over will not go; one being handed over right now is locked by its worker and skipped here (its gate sees the new state).',
    `WITH target AS (
       SELECT id FROM deliveries WHERE ref_id = ANY($1::text[]) AND kind = 'webinar_reminder' AND status = 'queued' FOR UPDATE SKIP LOCKED)
     UPDATE deliveries d SET status = 'suppressed', reason = $2, updated_at = $3 FROM target WHERE d.id = target.id`,
  ),
  gate: sql<[registrationId: string], { status: string; sequence: number; webinar_status: string; starts_at: Date; ends_at: Date }>(
    'At hand-over: the registration and webinar as they are now, the registration shared-locked so an unregister waits for the hand-over.',
    `SELECT r.status, r.sequence, w.status AS webinar_status, w.starts_at, w.ends_at
     FROM webinar_registrations r JOIN webinars w ON w.id = r.webinar_id WHERE r.id = $1 FOR SHARE OF r`,
  ),
  mailRecipient: sql<
    [registrationId: string],
    { id: string; webinar_id: string; subscriber_id: string; email: string; time_zone: string; first_name: string | null }
  >(
    'Who a registration mail goes to and how to greet them.',
    `SELECT r.id, r.webinar_id, r.subscriber_id, s.email, s.time_zone, s.attributes ->> 'firstName' AS first_name
     FROM webinar_registrations r JOIN subscribers s ON s.id = r.subscriber_id WHERE r.id = $1`,
  ),
});
