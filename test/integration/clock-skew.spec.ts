// Clock skew between instances (issue 11, scenario 10): three processes whose host clocks are
// 2 minutes slow, right and 2 minutes fast work one campaign. Each instance runs on PostgreSQL's
// time (DatabaseClock), so the instance that is 2 minutes fast neither starts the campaign early
// nor hands over mails before the customers' windows end, and every recorded hand-over time is
// the real one. Checked against the customer's view: when the mails reached the SMTP sink.
import { resolve } from 'node:path';
import { Client } from 'pg';
import { createTestDatabase, TestDatabase } from '../support/database';
import { DistSnapshot, snapshotDist } from '../support/dist-snapshot';
import { startTactfulProcess, TactfulProcess } from '../support/processes';
import { SmtpSink, startSmtpSink } from '../support/smtp-sink';
import { seedDaytimeAudience } from '../support/zones';

const SUBSCRIBERS = 300;
const SKEWS_MS = [-120_000, 0, 120_000];
const ADMIN_KEY = 'tk_skew_admin_key_0123456789abcdef';
const PRELOAD = resolve(__dirname, '../support/skewed-clock.js');
/** The windows end this long after the processes are up: the fast one would see them end 30 s later. */
const LEAD_MS = 150_000;

let db: TestDatabase;
let sql: Client;
let sink: SmtpSink;
let dist: DistSnapshot;
const processes: TactfulProcess[] = [];

const q = async <T = any>(text: string, params: unknown[] = []): Promise<T[]> => (await sql.query(text, params)).rows;

beforeAll(async () => {
  db = await createTestDatabase();
  sql = new Client({ connectionString: db.url });
  await sql.connect();
  sink = await startSmtpSink({ parse: false });
  dist = await snapshotDist();
});

afterAll(async () => {
  await Promise.all(processes.map((p) => p.stop()));
  await sql?.end();
  await sink?.close();
  await db?.drop();
  dist?.dispose();
});

it('keeps every window on one clock when instances are 2 minutes apart: no mail before its window ends, hand-over times are real', async () => {
  await seedDaytimeAudience(q, { prefix: 'skew', count: SUBSCRIBERS, topic: 'skew-news' });

  for (const [i, skew] of SKEWS_MS.entries()) {
    processes.push(
      await startTactfulProcess({
        name: `skew-p${i}`,
        main: dist.main,
        databaseUrl: db.url,
        adminKey: ADMIN_KEY,
        smtpUrl: sink.url,
        nodeArgs: ['-r', PRELOAD],
        // The envelope sender tells which process handed a mail over.
        env: { TACTFUL_TEST_CLOCK_SKEW_MS: String(skew), MAIL_FROM: `Tactful <news+p${i}@tactful.localhost>` },
      }),
    );
  }
  // Each process measured its host clock against PostgreSQL's (same host here: the offset is the skew).
  const offsets = await Promise.all(processes.map(async (p) => (await p.api('GET', '/health')).body.clockOffsetMs as number));
  offsets.forEach((offset, i) => expect(Math.abs(offset + SKEWS_MS[i])).toBeLessThan(1_000));

  // History on the database's clock: every subscriber's last marketing mail went out exactly one
  // window ago minus LEAD_MS, so all windows end at windowsEnd.
  const [{ now }] = await q<{ now: Date }>(`SELECT clock_timestamp() AS now`);
  const windowsEnd = new Date(now.getTime() + LEAD_MS);
  await q(
    `WITH past AS (
       INSERT INTO deliveries (subscriber_id, class, kind, ref_id, locale, status, reason, idempotency_key, next_attempt_at, created_at, updated_at, sent_at)
       SELECT s.id, 'marketing', 'campaign', 'history', s.locale, 'sent', 'sent', 'history:' || s.id, h.at, h.at, h.at, h.at
       FROM subscribers s
       CROSS JOIN LATERAL (SELECT (($1::timestamptz AT TIME ZONE s.time_zone) - make_interval(days => tactful_window_days(s.cadence))) AT TIME ZONE s.time_zone AS at) h
       RETURNING id, subscriber_id, sent_at),
     sends AS (
       INSERT INTO marketing_sends (subscriber_id, delivery_id, during)
       SELECT p.subscriber_id, p.id, tstzrange(p.sent_at, $1::timestamptz) FROM past p)
     INSERT INTO cadence_windows (subscriber_id, last_marketing_at, window_days, time_zone)
     SELECT p.subscriber_id, p.sent_at, tactful_window_days(s.cadence), s.time_zone FROM past p JOIN subscribers s ON s.id = p.subscriber_id`,
    [windowsEnd],
  );

  // Scheduled for the moment the windows end. On its own clock the fast instance would find it
  // due 2 minutes early, with every window apparently over, and send all of it at once.
  const created = await processes[0].api('POST', '/v1/campaigns', {
    name: 'skew',
    topic: 'skew-news',
    subject: { en: 'News' },
    body: { en: '<p>News</p>' },
  });
  await processes[0].api('POST', `/v1/campaigns/${created.body.id}/schedule`, { sendAt: windowsEnd.toISOString() });

  await sink.waitFor(SUBSCRIBERS, LEAD_MS + 240_000);
  await new Promise((done) => setTimeout(done, 2_000)); // anything extra would arrive now

  const early = sink.messages.filter((m) => m.receivedAt.getTime() < windowsEnd.getTime());
  const perRecipient = new Map<string, number>();
  for (const m of sink.messages) for (const rcpt of m.envelope.rcptTo) perRecipient.set(rcpt, (perRecipient.get(rcpt) ?? 0) + 1);
  const byProcess = SKEWS_MS.map((_, i) => sink.messages.filter((m) => m.envelope.mailFrom.includes(`+p${i}@`)).length);
  // Recorded hand-over times against the arrival times the customer saw.
  const sent = await q<{ email: string; sent_at: Date; during_start: Date }>(
    `SELECT s.email, d.sent_at, lower(m.during) AS during_start
     FROM deliveries d JOIN subscribers s ON s.id = d.subscriber_id JOIN marketing_sends m ON m.delivery_id = d.id
     WHERE d.ref_id = $1 AND d.status = 'sent'`,
    [created.body.id],
  );
  const arrivedAt = new Map(sink.messages.map((m) => [m.envelope.rcptTo[0], m.receivedAt.getTime()]));
  // The window is taken before the mail goes (during_start) and the send is recorded after the
  // relay's 250 (sent_at): the arrival lies between the two, on one clock, give or take the
  // clock sync's error (a round trip to PostgreSQL).
  const outside = sent.filter((row) => {
    const arrived = arrivedAt.get(row.email)!;
    return arrived < row.during_start.getTime() - 1_000 || arrived > row.sent_at.getTime() + 1_000;
  });
  const drift = sent.map((row) => Math.abs(arrivedAt.get(row.email)! - row.sent_at.getTime()));
  const firstArrival = Math.min(...sink.messages.map((m) => m.receivedAt.getTime()));
  process.stdout.write(
    `clock skew: offsets measured ${offsets.join(' / ')} ms; ${sink.messages.length} mails, handed over by p0/p1/p2 ${byProcess.join('/')}; ` +
      `first arrival ${firstArrival - windowsEnd.getTime()} ms after the windows ended; early ${early.length}; ` +
      `largest |recorded hand-over − arrival| ${Math.max(...drift)} ms\n`,
  );

  expect(early).toHaveLength(0);
  expect(perRecipient.size).toBe(SUBSCRIBERS);
  expect([...perRecipient.values()].every((n) => n === 1)).toBe(true);
  expect(sent).toHaveLength(SUBSCRIBERS);
  expect(outside.map((row) => ({ ...row, arrived: new Date(arrivedAt.get(row.email)!) }))).toEqual([]);
  // No recorded window overlaps another of the same subscriber (the exclusion constraint's promise, re-checked).
  const [{ overlaps }] = await q(
    `SELECT count(*)::int AS overlaps FROM marketing_sends a JOIN marketing_sends b
       ON a.subscriber_id = b.subscriber_id AND a.delivery_id < b.delivery_id AND a.during && b.during`,
  );
  expect(overlaps).toBe(0);
}, 600_000);
