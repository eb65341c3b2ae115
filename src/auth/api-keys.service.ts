// API keys: random, shown once, stored only as a SHA-256 hash (the keys are high-entropy, so a
// slow password hash adds nothing but latency to every request).
import { Inject, Injectable, Logger } from '@nestjs/common';
import { createHash, randomBytes } from 'node:crypto';
import { APP_CONFIG, AppConfig } from '../config/config';
import { Clock } from '../common/clock';
import { DomainException, ErrorCode, notFound } from '../common/problem';
import { Db } from '../database/sql';
import { ApiKey } from './api-key.entity';
import { AuthQueries as Q } from './auth.queries';
import { Scope } from './scopes';

export interface CreatedApiKey {
  key: string;
  apiKey: ApiKey;
}

const hashKey = (key: string): Buffer => createHash('sha256').update(key, 'utf8').digest();

export function generateApiKey(): string {
  return `tk_${randomBytes(30).toString('base64url')}`;
}

/** `last_used_at` is kept to the minute: at most one write per key and minute, not one per request. */
const LAST_USED_RESOLUTION_MS = 60_000;

@Injectable()
export class ApiKeysService {
  private readonly logger = new Logger(ApiKeysService.name);
  /** When this instance last wrote each key's last_used_at (by key id). */
  private readonly touched = new Map<string, number>();

  constructor(
    private readonly db: Db,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly clock: Clock,
  ) {}

  async create(name: string, scopes: Scope[], key = generateApiKey()): Promise<CreatedApiKey> {
    const row = (await this.db.row(Q.create, [name, key.slice(0, 10), hashKey(key), [...new Set(scopes)]]))!;
    return { key, apiKey: await this.get(row.id) };
  }

  list(): Promise<ApiKey[]> {
    return this.db.rows(Q.list, []);
  }

  async get(id: string): Promise<ApiKey> {
    const key = await this.db.row(Q.byId, [id]);
    if (!key) throw notFound('API key', id);
    return key;
  }

  /**
   * Revokes a key at once. Never the last active admin key (nobody could manage keys any more),
   * and the key making the request only when it says so (`self`): locking oneself out should be
   * a decision, not a slip of the id.
   */
  async revoke(id: string, callerKeyId: string | undefined, self: boolean): Promise<void> {
    await this.db.transaction(async (tx) => {
      // Every active admin key, locked: two admins revoking each other at once take turns here,
      // and the second finds itself the last one.
      const admins = await tx.rows(Q.lockActiveAdmins, []);
      const target = await tx.row(Q.lockForRevoke, [id]);
      if (!target) throw notFound('API key', id);
      if (target.revoked_at) return;
      const named = `API key ${target.id} ("${target.name}", ${target.prefix}…)`;
      if (admins.length === 1 && admins[0].id === target.id) {
        throw new DomainException(
          ErrorCode.Conflict,
          `${named} is the last active admin key; create another admin key before revoking this one.`,
          [{ field: 'id', message: 'is the last active admin key' }],
          { apiKeyId: target.id },
        );
      }
      if (target.id === callerKeyId && !self) {
        throw new DomainException(
          ErrorCode.Conflict,
          `${named} is the key making this request; to revoke it anyway, repeat with ?self=true.`,
          [{ field: 'self', message: 'must be true to revoke the key making the request' }],
          { apiKeyId: target.id },
        );
      }
      await tx.run(Q.revoke, [id, this.clock.now()]);
    });
  }

  /**
   * The key's scopes, or null when the key is unknown or revoked. A read on every request (a
   * revocation counts at once); a write only when this instance has not marked the key used
   * within the last minute.
   */
  async verify(key: string): Promise<{ id: string; scopes: string[] } | null> {
    const row = await this.db.row(Q.verify, [hashKey(key)]);
    if (!row) return null;
    const now = this.clock.now();
    const last = this.touched.get(row.id);
    if (last === undefined || now.getTime() - last >= LAST_USED_RESOLUTION_MS) {
      this.touched.set(row.id, now.getTime());
      await this.db.run(Q.touch, [row.id, now]);
    }
    return row;
  }

  /**
   * At start: ADMIN_API_KEY, when set, becomes an admin key; otherwise, when no admin key exists
   * yet, one is created and returned so start-up can print it once.
   */
  async ensureAdminKey(): Promise<string | null> {
    if (this.config.adminApiKey) {
      await this.db.run(Q.upsertConfiguredAdmin, [this.config.adminApiKey.slice(0, 10), hashKey(this.config.adminApiKey)]);
      return null;
    }
    // The advisory lock keeps two instances starting at once from both creating a key.
    return this.db.transaction(async (tx) => {
      await tx.run(Q.adminKeyLock, []);
      const { count } = (await tx.row(Q.activeAdmins, []))!;
      if (count > 0) return null;
      const key = generateApiKey();
      await tx.run(Q.createFirstAdmin, [key.slice(0, 10), hashKey(key)]);
      this.logger.log('Created the first admin API key');
      return key;
    });
  }
}
