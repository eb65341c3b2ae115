// The console's own statements (docs/SQL.md): its sign-in sessions, stored by the SHA-256 of
// their token only. (The figures its pages show are the domains' statements.)
import { queries, sql } from '../database/statements';
import type { Locale } from '../config/config';

/** An open session with its key's name, prefix and current scopes. */
export interface OpenSessionRow {
  id: Buffer;
  api_key_id: string;
  locale: Locale;
  expires_at: Date;
  last_seen_at: Date;
  name: string;
  prefix: string;
  scopes: string[];
}

export const ConsoleQueries = queries('console', {
  pruneSessions: sql<[now: Date, idleMinutes: number]>(
    'Old sessions go at the next sign-in (ended, or idle too long): nothing else needs them.',
    `DELETE FROM console_sessions WHERE expires_at <= $1 OR last_seen_at <= $1::timestamptz - make_interval(mins => $2)`,
  ),
  openSession: sql<[tokenHash: Buffer, apiKeyId: string, locale: Locale, now: Date, maxHours: number]>(
    'A new session: only the token hash is stored; it ends CONSOLE_SESSION_MAX_HOURS after sign-in whatever the activity.',
    `INSERT INTO console_sessions (id, api_key_id, locale, created_at, last_seen_at, expires_at)
     VALUES ($1, $2, $3, $4, $4, $4::timestamptz + make_interval(hours => $5))`,
  ),
  openByToken: sql<[tokenHash: Buffer, now: Date, idleMinutes: number], OpenSessionRow>(
    "On every console request: the session, if it is neither idle too long nor past its end, and its key still active; the key's scopes read afresh, so a revocation or a scope change counts at once.",
    `SELECT s.id, s.api_key_id, s.locale, s.expires_at, s.last_seen_at, k.name, k.prefix, k.scopes
     FROM console_sessions s JOIN api_keys k ON k.id = s.api_key_id AND k.revoked_at IS NULL
     WHERE s.id = $1 AND s.expires_at > $2 AND s.last_seen_at > $2::timestamptz - make_interval(mins => $3)`,
  ),
  touch: sql<[tokenHash: Buffer, now: Date]>(
    'Activity moves the idle expiry (written at most every half minute per session, not on every request).',
    `UPDATE console_sessions SET last_seen_at = $2 WHERE id = $1`,
  ),
  close: sql<[tokenHash: Buffer]>('Sign-out: the session is gone, its cookie opens nothing.', `DELETE FROM console_sessions WHERE id = $1`),
  setLocale: sql<[sessionId: Buffer, locale: Locale]>("The console's language for this session.", `UPDATE console_sessions SET locale = $2 WHERE id = $1`),
});
