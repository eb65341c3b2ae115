// Time zones for process tests that run on the real clock.

/** Fixed-offset IANA zones in which `at` (and the minutes after it) is local daytime: no quiet-hours shift. */
export function daytimeZones(at: Date, localHours: number[]): string[] {
  return localHours.map((hour) => {
    let offset = hour - at.getUTCHours();
    if (offset > 14) offset -= 24;
    if (offset < -12) offset += 24;
    // IANA's Etc zones have the POSIX sign: Etc/GMT-3 is UTC+3.
    return offset === 0 ? 'Etc/UTC' : `Etc/GMT${offset > 0 ? '-' : '+'}${Math.abs(offset)}`;
  });
}

type Query = (text: string, params?: unknown[]) => Promise<unknown>;

/**
 * For process tests on the real clock, straight into the database: one topic and `count` active,
 * confirmed subscribers `<prefix><i>@example.com` (English; weekly and biweekly alternating) in
 * zones where it is daytime now, whose digest slot is neither today nor tomorrow (only the
 * test's campaigns are in play).
 */
export async function seedDaytimeAudience(q: Query, options: { prefix: string; count: number; topic: string }): Promise<void> {
  const zones = daytimeZones(new Date(), [11, 14, 16]);
  await q(`INSERT INTO topics (key, name_de, name_en) VALUES ($1, 'Neuigkeiten', 'News')`, [options.topic]);
  await q(
    `INSERT INTO subscribers (email, locale, time_zone, cadence, status, attributes, digest_weekday, digest_hour, source, confirmed_at, created_at, updated_at)
     SELECT $3 || i || '@example.com', 'en', ($2::text[])[1 + i % 3], CASE WHEN i % 2 = 0 THEN 'biweekly' ELSE 'weekly' END, 'active',
            jsonb_build_object('n', i), (extract(isodow FROM now() AT TIME ZONE ($2::text[])[1 + i % 3])::int + 2) % 7 + 1, 9,
            'import', now() - interval '90 days', now(), now()
     FROM generate_series(1, $1::int) i`,
    [options.count, zones, options.prefix],
  );
  await q(
    `INSERT INTO topic_subscriptions (subscriber_id, topic_id, status, consented_at, consent_source, confirmed_at)
     SELECT s.id, t.id, 'confirmed', now() - interval '90 days', 'import', now() - interval '90 days'
     FROM subscribers s JOIN topics t ON t.key = $1 WHERE s.email LIKE $2`,
    [options.topic, `${options.prefix}%`],
  );
}
