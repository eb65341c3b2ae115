// Set-based writes of subscribers and their topic consent, shared by the API (one row) and the
// import (thousands per statement). One statement per table per batch; no per-row round trips.
import { Locale } from '../config/config';
import type { Cadence } from '../cadence/slots';
import { Sql } from '../database/sql';
import { ConsentSource } from './subscriber.entity';
import { SubscriberQueries as Q } from './subscribers.queries';

/** A validated subscriber input; null means "not given" (keep the stored value or use the default). */
export interface SubscriberRow {
  email: string;
  locale: Locale | null;
  timeZone: string | null;
  cadence: Cadence | null;
  digestWeekday: number | null;
  digestHour: number | null;
  attributes: Record<string, unknown> | null;
  topicIds: string[];
  consent: {
    source: ConsentSource;
    confirmedAt: Date | null;
    ip: string | null;
    userAgent: string | null;
    textVersion: string | null;
  };
}

export interface WrittenSubscriber {
  id: string;
  email: string;
  created: boolean;
}

export interface WriteDefaults {
  locale: Locale;
  timeZone: string;
  now: Date;
}

/**
 * Inserts new subscribers and, with `update`, updates existing ones by e-mail. An existing
 * subscriber's status only moves from pending to active (consent evidence); an unsubscribed,
 * bounced or complained person is never re-activated by a write like this.
 */
export async function writeSubscribers(tx: Sql, rows: SubscriberRow[], defaults: WriteDefaults, update: boolean): Promise<WrittenSubscriber[]> {
  if (rows.length === 0) return [];
  return tx.rows(update ? Q.upsertSubscribers : Q.insertSubscribers, [
    rows.map((r) => r.email),
    rows.map((r) => r.locale),
    rows.map((r) => r.timeZone),
    rows.map((r) => r.cadence),
    rows.map((r) => r.digestWeekday),
    rows.map((r) => r.digestHour),
    rows.map((r) => (r.attributes === null ? null : JSON.stringify(r.attributes))),
    rows.map((r) => r.consent.source),
    rows.map((r) => r.consent.confirmedAt),
    defaults.locale,
    defaults.timeZone,
    defaults.now,
  ]);
}

/**
 * Records consent for each (subscriber, topic). A confirmed consent never falls back to pending;
 * a revoked one (an opt-out) is only confirmed again by evidence newer than the opt-out.
 * `apiKeyId`: the key that sent the rows, kept with each record it writes.
 */
export async function writeTopicConsent(
  tx: Sql,
  rows: SubscriberRow[],
  idsByEmail: Map<string, string>,
  now: Date,
  apiKeyId: string | null = null,
): Promise<void> {
  const pairs = rows.flatMap((row) => {
    const subscriberId = idsByEmail.get(row.email);
    return subscriberId ? row.topicIds.map((topicId) => ({ subscriberId, topicId, consent: row.consent })) : [];
  });
  if (pairs.length === 0) return;
  await tx.run(Q.writeTopicConsent, [
    pairs.map((p) => p.subscriberId),
    pairs.map((p) => p.topicId),
    pairs.map((p) => p.consent.source),
    pairs.map((p) => p.consent.confirmedAt),
    pairs.map((p) => p.consent.ip),
    pairs.map((p) => p.consent.userAgent),
    pairs.map((p) => p.consent.textVersion),
    now,
    apiKeyId,
  ]);
}
