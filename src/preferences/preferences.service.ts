// The customer's side of the promise: what they get, from whom, how often, when the next mail
// comes; and every change in one step, effective at once for every mail not yet handed to SMTP
// (the send-time gate re-reads what is stored here).
import { Inject, Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import type { Pool } from 'pg';
import { DataSource } from 'typeorm';
import type { PostgresDriver } from 'typeorm/driver/postgres/PostgresDriver';
import { marketingOutlook } from '../cadence/cadence.policy';
import { Clock } from '../common/clock';
import { FieldError } from '../common/problem';
import { validationException } from '../common/validation';
import { isTimeZone, TIME_ZONE_MESSAGE } from '../common/time-zones';
import { APP_CONFIG, AppConfig, Locale } from '../config/config';
import { namedQuery } from '../database/prepared';
import { ConsentActor, grantEvidence, revocationEvidence } from '../subscribers/consent-actor';
import { NoMarketingReason } from '../reasons/reason-codes';
import type { Cadence } from '../cadence/slots';
import { SubscriberStatus } from '../reasons/subscriber-states';

export const PAUSE_WEEKS = [2, 4, 8] as const;
const DAY = 86_400_000;

export interface PreferenceChange {
  topics?: string[];
  cadence?: Cadence;
  digestWeekday?: number;
  digestHour?: number;
  timeZone?: string;
  locale?: Locale;
  /** 0 ends a pause; 2, 4 or 8 pauses for that many weeks. */
  pauseWeeks?: number;
}

export type ChangeNote =
  | { kind: 'topicOn' | 'topicOff'; topic: string }
  | { kind: 'cadence'; cadence: Cadence }
  | { kind: 'slot'; weekday: number; hour: number }
  | { kind: 'timeZone'; timeZone: string }
  | { kind: 'language'; locale: Locale }
  | { kind: 'pause'; until: Date }
  | { kind: 'resume' };

export interface PreferencesState {
  id: string;
  email: string;
  locale: Locale;
  timeZone: string;
  cadence: Cadence;
  digestWeekday: number;
  digestHour: number;
  status: string;
  pausedUntil: Date | null;
  topics: PreferencesTopic[];
  nextNewsletter: Date | null;
  /** Why no newsletter is coming (or, when paused with an end, none before it ends); null when one is. */
  noNewsletterBecause: NoMarketingReason | null;
  recent: { at: Date; kind: string; topicDe: string | null; topicEn: string | null }[];
}

export interface PreferencesTopic {
  id: string;
  key: string;
  nameDe: string;
  nameEn: string;
  descriptionDe: string;
  descriptionEn: string;
  subscribed: boolean;
  /** The customer's answers on this topic's items: counts, and the five first rated most recently. */
  ratings: { useful: number; notUseful: number; recent: { rating: 'useful' | 'not_useful'; titleDe: string; titleEn: string }[] } | null;
  /** When the customer dropped this (now revoked) topic in answer to our drop question. */
  droppedAt: Date | null;
}

/** The subscriber's settings both the page and a save read. */
interface SubscriberSettingsRow {
  locale: Locale;
  time_zone: string;
  cadence: Cadence;
  digest_weekday: number;
  digest_hour: number;
  status: string;
  paused_until: Date | null;
}

interface PageStateRow extends SubscriberSettingsRow {
  id: string;
  email: string;
  last_marketing_at: Date | null;
  // json_build_object: timestamps arrive as ISO strings
  topics: (Omit<PreferencesTopic, 'droppedAt'> & { droppedAt: string | null })[];
  recent: { at: string; kind: string; topicDe: string | null; topicEn: string | null }[];
}


const SAVE_SUBSCRIBER_COLUMNS = `s.locale, s.time_zone, s.cadence, s.digest_weekday, s.digest_hour, s.status, s.paused_until, s.confirmed_at`;

/**
 * preferences_save_lock: what a save depends on, locked in one statement — the subscriber
 * FOR UPDATE (saves of one customer queue up), and every topic with the customer's subscription
 * status, the topics FOR SHARE in id order (a topic is not archived under a save; shared and in
 * one order, so concurrent saves never deadlock, and foreign-key checks elsewhere are not blocked).
 */
const SAVE_LOCK_SQL = `
  SELECT ${SAVE_SUBSCRIBER_COLUMNS}, t.id AS topic_id, t.key, t.archived, ts.status AS topic_status
  FROM subscribers s
  JOIN topics t ON true
  LEFT JOIN topic_subscriptions ts ON ts.topic_id = t.id AND ts.subscriber_id = s.id
  WHERE s.id = $1
  ORDER BY t.id
  FOR UPDATE OF s FOR SHARE OF t`;

interface SaveRow extends SubscriberSettingsRow {
  confirmed_at: Date | null;
  topic_id: string | null;
  key: string | null;
  archived: boolean | null;
  topic_status: string | null;
}

/**
 * preferences_state: one subscriber as their preferences page shows them, in one statement —
 * the subscriber, their cadence window (for the next newsletter), every topic they can choose
 * (plus archived ones they still hold) with their subscription, their ratings of its items
 * (counts and titles of their recent ratings) and when they dropped it in answer to
 * our question, and their last five marketing mails.
 * Every part is an index probe by subscriber_id.
 */
const PAGE_STATE_SQL = `
  SELECT s.id, s.email, s.locale, s.time_zone, s.cadence, s.digest_weekday, s.digest_hour, s.status, s.paused_until,
         (SELECT nullif(w.last_marketing_at, '-infinity') FROM cadence_windows w WHERE w.subscriber_id = $1) AS last_marketing_at,
         (SELECT coalesce(json_agg(json_build_object(
                   'id', t.id, 'key', t.key, 'nameDe', t.name_de, 'nameEn', t.name_en,
                   'descriptionDe', t.description_de, 'descriptionEn', t.description_en,
                   'subscribed', coalesce(ts.status = 'confirmed', false),
                   'droppedAt', CASE WHEN ts.status = 'revoked' THEN
                     (SELECT max(p.answered_at) FROM drop_topic_prompts p WHERE p.subscriber_id = $1 AND p.topic_id = t.id AND p.answer = 'dropped') END,
                   'ratings', (SELECT json_build_object(
                                 'useful', count(*) FILTER (WHERE f.rating = 'useful'),
                                 'notUseful', count(*) FILTER (WHERE f.rating <> 'useful'),
                                 'recent', (SELECT json_agg(json_build_object('rating', r.rating, 'titleDe', coalesce(r.title_de, r.title_en, ''), 'titleEn', coalesce(r.title_en, r.title_de, ''))
                                                    ORDER BY r.created_at DESC)
                                            FROM (SELECT f5.rating, f5.created_at, coalesce(c.subject_de, i.title_de) AS title_de, coalesce(c.subject_en, i.title_en) AS title_en
                                                  FROM feedback f5
                                                  LEFT JOIN campaigns c ON f5.item_type = 'campaign' AND c.id = f5.item_id
                                                  LEFT JOIN digest_items i ON f5.item_type = 'digest_item' AND i.id = f5.item_id
                                                  WHERE f5.subscriber_id = $1 AND f5.topic_id = t.id
                                                  ORDER BY f5.created_at DESC LIMIT 5) r))
                               FROM feedback f WHERE f.subscriber_id = $1 AND f.topic_id = t.id HAVING count(*) > 0)
                 ) ORDER BY t.key), '[]')
          FROM topics t LEFT JOIN topic_subscriptions ts ON ts.topic_id = t.id AND ts.subscriber_id = $1
          WHERE NOT t.archived OR ts.status = 'confirmed') AS topics,
         (SELECT coalesce(json_agg(json_build_object('at', r.sent_at, 'kind', r.kind, 'topicDe', r.name_de, 'topicEn', r.name_en) ORDER BY r.sent_at DESC), '[]')
          FROM (SELECT d.sent_at, d.kind, t.name_de, t.name_en FROM deliveries d LEFT JOIN topics t ON t.id = d.topic_id
                WHERE d.subscriber_id = $1 AND d.status = 'sent' AND d.class = 'marketing' ORDER BY d.sent_at DESC LIMIT 5) r) AS recent
  FROM subscribers s WHERE s.id = $1`;

@Injectable()
export class PreferencesService {
  constructor(
    @InjectDataSource() private readonly db: DataSource,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly clock: Clock,
  ) {}

  /** Everything the preferences page shows about one subscriber, in one round trip (`PAGE_STATE_SQL`). */
  async state(subscriberId: string): Promise<PreferencesState | null> {
    const [s] = await this.prepared<PageStateRow>(PAGE_STATE_SQL, [subscriberId]);
    if (!s) return null;
    // In Node, not with tactful_next_digest() in the statement: PostgreSQL plans those SQL
    // functions anew on every execution (≈ 0.27 ms of its CPU, luxon here ≈ 0.1 ms).
    const outlook = marketingOutlook(
      {
        status: s.status as SubscriberStatus,
        pausedUntil: s.paused_until,
        hasConfirmedTopic: s.topics.some((t) => t.subscribed),
        lastMarketingAt: s.last_marketing_at,
        cadence: s.cadence,
        timeZone: s.time_zone,
        digestWeekday: s.digest_weekday,
        digestHour: s.digest_hour,
      },
      this.clock.now(),
    );
    return {
      id: s.id,
      email: s.email,
      locale: s.locale,
      timeZone: s.time_zone,
      cadence: s.cadence,
      digestWeekday: s.digest_weekday,
      digestHour: s.digest_hour,
      status: s.status,
      pausedUntil: s.status === 'paused' ? s.paused_until : null,
      topics: s.topics.map((t) => ({ ...t, droppedAt: t.droppedAt === null ? null : new Date(t.droppedAt) })),
      nextNewsletter: outlook.nextDigestAt,
      noNewsletterBecause: outlook.noMarketingBecause,
      recent: s.recent.map((r) => ({ at: new Date(r.at), kind: r.kind, topicDe: r.topicDe, topicEn: r.topicEn })),
    };
  }

  /**
   * A named prepared statement: PostgreSQL parses and plans it once per pooled connection instead
   * of on every call (planning was about three quarters of the page's database time). TypeORM's
   * `query()` cannot name a statement, so this goes to the driver's `pg` pool directly.
   */
  private async prepared<T>(text: string, values: unknown[]): Promise<T[]> {
    return (await this.pool().query(namedQuery(text, values))).rows as T[];
  }

  /** A transaction on one pooled connection whose statements are all prepared (named by their text). */
  private async transaction<T>(work: (query: <R>(text: string, values: unknown[]) => Promise<R[]>) => Promise<T>): Promise<T> {
    const client = await this.pool().connect();
    let broken: Error | undefined;
    try {
      await client.query('BEGIN');
      const result = await work(async (text, values) => (await client.query(namedQuery(text, values))).rows);
      await client.query('COMMIT');
      return result;
    } catch (error) {
      await client.query('ROLLBACK').catch((rollback: Error) => (broken = rollback));
      throw error;
    } finally {
      client.release(broken);
    }
  }

  private pool(): Pool {
    return (this.db.driver as PostgresDriver).master as Pool;
  }

  /** Validates a change; every bad field is named. */
  validate(change: PreferenceChange): void {
    const errors: FieldError[] = [];
    if (change.cadence !== undefined && change.cadence !== 'weekly' && change.cadence !== 'biweekly') errors.push({ field: 'cadence', message: 'must be weekly or biweekly' });
    if (change.digestWeekday !== undefined && !(Number.isInteger(change.digestWeekday) && change.digestWeekday >= 1 && change.digestWeekday <= 7)) {
      errors.push({ field: 'digestWeekday', message: 'must be 1 (Monday) to 7 (Sunday)' });
    }
    if (change.digestHour !== undefined && !(Number.isInteger(change.digestHour) && change.digestHour >= 0 && change.digestHour <= 23)) {
      errors.push({ field: 'digestHour', message: 'must be 0 to 23' });
    }
    if (change.timeZone !== undefined && !isTimeZone(change.timeZone)) errors.push({ field: 'timeZone', message: TIME_ZONE_MESSAGE });
    if (change.locale !== undefined && change.locale !== 'de' && change.locale !== 'en') errors.push({ field: 'locale', message: 'must be de or en' });
    if (change.pauseWeeks !== undefined && ![0, ...PAUSE_WEEKS].includes(change.pauseWeeks as never)) {
      errors.push({ field: 'pause', message: 'must be 0, 2, 4 or 8 weeks' });
    }
    if (change.topics !== undefined && (!Array.isArray(change.topics) || change.topics.some((t) => typeof t !== 'string' || t.length > 63))) {
      errors.push({ field: 'topics', message: 'must be topic keys' });
    }
    if (errors.length) throw validationException(errors);
  }

  /**
   * Applies a change made by the customer (token-authenticated: the link reached their mailbox,
   * so choosing a topic here is confirmed consent) or, on their behalf, by an API key with
   * `subscribers:write`; the consent record says which. Returns what actually changed, or null
   * when the subscriber does not exist (any more).
   */
  async apply(subscriberId: string, change: PreferenceChange, actor: ConsentActor): Promise<ChangeNote[] | null> {
    this.validate(change);
    const now = this.clock.now();
    return this.transaction(async (query) => {
      // One statement reads and locks what the change depends on, one writes it: a save is four
      // round trips with BEGIN and COMMIT (it was up to eight), each statement prepared once.
      const rows = await query<SaveRow>(SAVE_LOCK_SQL, [subscriberId]);
      let current: SaveRow | undefined = rows[0];
      if (!current) {
        // No topic exists at all (the join above is empty): the subscriber alone.
        [current] = await query<SaveRow>(`SELECT ${SAVE_SUBSCRIBER_COLUMNS} FROM subscribers s WHERE s.id = $1 FOR UPDATE`, [subscriberId]);
        if (!current) return null;
      }
      const topics = rows.filter((r) => r.topic_id !== null);
      const notes: ChangeNote[] = [];
      const params: unknown[] = [subscriberId];
      const $ = (value: unknown) => `$${params.push(value)}`;
      const writes: string[] = [];

      let on: SaveRow[] = [];
      let off: SaveRow[] = [];
      if (change.topics !== undefined) {
        const wanted = new Set(change.topics);
        const unknown = change.topics.filter((k) => !topics.some((r) => r.key === k && (!r.archived || r.topic_status === 'confirmed')));
        if (unknown.length) throw validationException(unknown.map((k) => ({ field: 'topics', message: `"${k}" is not a topic you can choose` })));
        on = topics.filter((r) => wanted.has(r.key!) && r.topic_status !== 'confirmed');
        off = topics.filter((r) => !wanted.has(r.key!) && (r.topic_status === 'confirmed' || r.topic_status === 'pending'));
        // Choosing a topic on the page is confirmed consent: the link reached the customer's mailbox.
        // A new consent record replaces the old one whole, so no evidence of an earlier consent
        // (its text version, a revocation) is mixed into it.
        if (on.length) {
          const evidence = grantEvidence(actor);
          const [ids, at, source, ip, ua, key] = [$(on.map((r) => r.topic_id)), $(now), $(evidence.source), $(evidence.ip), $(evidence.userAgent), $(evidence.apiKeyId)];
          writes.push(`topics_on AS (
            INSERT INTO topic_subscriptions (subscriber_id, topic_id, status, consented_at, consent_source, consent_ip, consent_user_agent, consent_api_key_id, confirmed_at)
            SELECT $1, unnest(${ids}::uuid[]), 'confirmed', ${at}::timestamptz, ${source}::text, ${ip}::inet, left(${ua}::text, 500), ${key}::uuid, ${at}::timestamptz
            ON CONFLICT (subscriber_id, topic_id) DO UPDATE SET status = 'confirmed', consented_at = ${at}::timestamptz, consent_source = ${source}::text,
              consent_ip = ${ip}::inet, consent_user_agent = left(${ua}::text, 500), consent_api_key_id = ${key}::uuid, consent_text_version = NULL,
              confirmed_at = ${at}::timestamptz, revoked_at = NULL, revocation_source = NULL, revoked_api_key_id = NULL)`);
        }
        if (off.length) {
          const revocation = revocationEvidence(actor);
          writes.push(`topics_off AS (
            UPDATE topic_subscriptions SET status = 'revoked', revoked_at = ${$(now)}::timestamptz,
              revocation_source = ${$(revocation.source)}::text, revoked_api_key_id = ${$(revocation.apiKeyId)}::uuid
            WHERE subscriber_id = $1 AND topic_id = ANY(${$(off.map((r) => r.topic_id))}::uuid[]))`);
        }
        notes.push(...on.map((r) => ({ kind: 'topicOn' as const, topic: r.key! })), ...off.map((r) => ({ kind: 'topicOff' as const, topic: r.key! })));
      }
      const anyTopic = topics.some((r) => on.includes(r) || (r.topic_status === 'confirmed' && !off.includes(r)));

      const set: Record<string, unknown> = {};
      if (change.cadence && change.cadence !== current.cadence) {
        set.cadence = change.cadence;
        notes.push({ kind: 'cadence', cadence: change.cadence });
      }
      const weekday = change.digestWeekday ?? current.digest_weekday;
      const hour = change.digestHour ?? current.digest_hour;
      if (weekday !== current.digest_weekday || hour !== current.digest_hour) {
        Object.assign(set, { digest_weekday: weekday, digest_hour: hour });
        notes.push({ kind: 'slot', weekday, hour });
      }
      if (change.timeZone && change.timeZone !== current.time_zone) {
        set.time_zone = change.timeZone;
        notes.push({ kind: 'timeZone', timeZone: change.timeZone });
      }
      if (change.locale && change.locale !== current.locale) {
        set.locale = change.locale;
        notes.push({ kind: 'language', locale: change.locale });
      }
      let status: string = current.status;
      if (change.pauseWeeks) {
        const until = new Date(now.getTime() + change.pauseWeeks * 7 * DAY);
        Object.assign(set, { status: 'paused', paused_until: until });
        status = 'paused';
        notes.push({ kind: 'pause', until });
      } else if (change.pauseWeeks === 0 && current.status === 'paused') {
        Object.assign(set, { status: 'active', paused_until: null });
        status = 'active';
        notes.push({ kind: 'resume' });
      }
      // Choosing topics again is coming back: an unsubscribed (or never confirmed) customer who
      // does it on their own page is active again.
      if (anyTopic && status !== 'active' && status !== 'paused') {
        Object.assign(set, { status: 'active', confirmed_at: current.confirmed_at ?? now });
      }
      if (!anyTopic && status === 'active') set.status = 'unsubscribed';

      let main = 'SELECT 1';
      if (Object.keys(set).length > 0) {
        const at = $(now);
        const assignments = Object.keys(set).map((c) => `${c} = ${$(set[c])}`);
        const statusChanged = set.status !== undefined ? `status <> ${$(set.status)}` : 'false';
        main = `UPDATE subscribers SET ${assignments.join(', ')}, updated_at = ${at},
                  status_changed_at = CASE WHEN ${statusChanged} THEN ${at}::timestamptz ELSE status_changed_at END
                WHERE id = $1`;
      }
      if (writes.length > 0 || main !== 'SELECT 1') await query(`${writes.length ? `WITH ${writes.join(',\n')}\n` : ''}${main}`, params);
      return notes;
    });
  }

  /** RFC 8058 one-click: idempotent; every marketing mail not yet handed over is suppressed by the gate. */
  async unsubscribeAll(subscriberId: string): Promise<'done' | 'already'> {
    const now = this.clock.now();
    return this.db.transaction(async (tx) => {
      const [current] = await tx.query(`SELECT status FROM subscribers WHERE id = $1 FOR UPDATE`, [subscriberId]);
      if (!current || current.status === 'unsubscribed') return 'already';
      await tx.query(`UPDATE subscribers SET status = 'unsubscribed', paused_until = NULL, status_changed_at = $2, updated_at = $2 WHERE id = $1`, [subscriberId, now]);
      await tx.query(
        `UPDATE topic_subscriptions SET status = 'revoked', revoked_at = $2, revocation_source = 'unsubscribe_link', revoked_api_key_id = NULL
         WHERE subscriber_id = $1 AND status <> 'revoked'`,
        [subscriberId, now],
      );
      return 'done';
    });
  }

  /** Pauses that ran out end by themselves (a scheduler job). */
  async resumeEndedPauses(): Promise<number> {
    const now = this.clock.now();
    const [{ count }] = await this.db.query(
      `WITH resumed AS (
         UPDATE subscribers SET status = 'active', paused_until = NULL, status_changed_at = $1, updated_at = $1
         WHERE status = 'paused' AND paused_until IS NOT NULL AND paused_until <= $1 RETURNING 1)
       SELECT count(*)::int AS count FROM resumed`,
      [now],
    );
    return count;
  }

}
