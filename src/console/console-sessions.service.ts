// The console's sessions: an API key, checked once at sign-in, is exchanged for a random 256-bit
// token in an HttpOnly cookie; only the token's SHA-256 is stored. A session ends at sign-out,
// after CONSOLE_SESSION_IDLE_MINUTES without a request, CONSOLE_SESSION_MAX_HOURS after sign-in,
// and at once when its key is revoked (every request reads the key's state and scopes afresh).
// The CSRF token of every console form is an HMAC of the session id: a synchronizer token that
// no other session, and no page of another site, can know.
import { Inject, Injectable } from '@nestjs/common';
import type { FastifyRequest } from 'fastify';
import { createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { ApiKeysService } from '../auth/api-keys.service';
import { Clock } from '../common/clock';
import { APP_CONFIG, AppConfig, Locale } from '../config/config';
import { Db } from '../database/sql';
import { ConsoleQueries as Q } from './console.queries';

export const CONSOLE_COOKIE = 'tactful_console';

/** A request to a console page, with the session ConsoleGuard found for it. */
export interface ConsoleRequest extends FastifyRequest {
  consoleSession?: ConsoleSession;
}

export interface ConsoleSession {
  /** The stored id (the token's SHA-256), hex: names the session without being able to open it. */
  id: string;
  apiKeyId: string;
  apiKeyName: string;
  apiKeyPrefix: string;
  scopes: string[];
  locale: Locale;
  expiresAt: Date;
  csrf: string;
}

const hashToken = (token: string): Buffer => createHash('sha256').update(token, 'utf8').digest();

/** Tokens are 43 base64url characters (256 bits); anything else is not looked up. */
const TOKEN_SHAPE = /^[A-Za-z0-9_-]{43}$/;

/** last_seen_at is written at most every this many ms per session: idle expiry to the half minute. */
const TOUCH_RESOLUTION_MS = 30_000;

@Injectable()
export class ConsoleSessionsService {
  constructor(
    private readonly db: Db,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly clock: Clock,
    private readonly keys: ApiKeysService,
  ) {}

  /** Signs in with an API key: the new session's token (for the cookie), or null for an unknown or revoked key. */
  async open(apiKey: unknown, locale: Locale): Promise<string | null> {
    if (typeof apiKey !== 'string' || apiKey.trim() === '' || apiKey.length > 200) return null;
    const key = await this.keys.verify(apiKey.trim());
    if (!key) return null;
    const now = this.clock.now();
    const token = randomBytes(32).toString('base64url');
    await this.db.transaction(async (tx) => {
      await tx.run(Q.pruneSessions, [now, this.config.consoleSessionIdleMinutes]);
      await tx.run(Q.openSession, [hashToken(token), key.id, locale, now, this.config.consoleSessionMaxHours]);
    });
    return token;
  }

  /** The session behind a cookie's token, or null (unknown, expired, idle too long, key revoked). Counts as activity. */
  async resolve(token: string | undefined): Promise<ConsoleSession | null> {
    if (!token || !TOKEN_SHAPE.test(token)) return null;
    const id = hashToken(token);
    const now = this.clock.now();
    const row = await this.db.row(Q.openByToken, [id, now, this.config.consoleSessionIdleMinutes]);
    if (!row) return null;
    if (now.getTime() - row.last_seen_at.getTime() >= TOUCH_RESOLUTION_MS) {
      await this.db.run(Q.touch, [id, now]);
    }
    const hex = row.id.toString('hex');
    return {
      id: hex,
      apiKeyId: row.api_key_id,
      apiKeyName: row.name,
      apiKeyPrefix: row.prefix,
      scopes: row.scopes,
      locale: row.locale,
      expiresAt: row.expires_at,
      csrf: this.csrfToken(hex),
    };
  }

  async close(token: string | undefined): Promise<void> {
    if (!token || !TOKEN_SHAPE.test(token)) return;
    await this.db.run(Q.close, [hashToken(token)]);
  }

  async setLocale(session: ConsoleSession, locale: Locale): Promise<void> {
    await this.db.run(Q.setLocale, [Buffer.from(session.id, 'hex'), locale]);
  }

  csrfToken(sessionId: string): string {
    return createHmac('sha256', this.config.tokenSecret).update(`console-csrf:${sessionId}`).digest('base64url');
  }

  checkCsrf(session: ConsoleSession, given: unknown): boolean {
    if (typeof given !== 'string') return false;
    const expected = Buffer.from(session.csrf);
    const actual = Buffer.from(given);
    return expected.length === actual.length && timingSafeEqual(expected, actual);
  }

  /** The Set-Cookie value: HttpOnly, SameSite=Strict, only under /console, Secure unless plain-HTTP development. */
  cookie(token: string | null): string {
    const secure = this.config.env === 'production' || this.config.publicUrl.startsWith('https:');
    const parts = [
      `${CONSOLE_COOKIE}=${token ?? ''}`,
      'Path=/console',
      'HttpOnly',
      'SameSite=Strict',
      ...(secure ? ['Secure'] : []),
      // A session cookie (no Max-Age) ends with the browser too; clearing sets it expired.
      ...(token === null ? ['Max-Age=0'] : []),
    ];
    return parts.join('; ');
  }
}

/** The console cookie's value from a Cookie header. */
export function consoleToken(cookieHeader: string | undefined): string | undefined {
  if (!cookieHeader) return undefined;
  for (const part of cookieHeader.split(';')) {
    const at = part.indexOf('=');
    if (at > 0 && part.slice(0, at).trim() === CONSOLE_COOKIE) return part.slice(at + 1).trim();
  }
  return undefined;
}
