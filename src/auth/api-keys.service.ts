// API keys: random, shown once, stored only as a SHA-256 hash (the keys are high-entropy, so a
// slow password hash adds nothing but latency to every request).
import { Inject, Injectable, Logger } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { createHash, randomBytes } from 'node:crypto';
import { DataSource } from 'typeorm';
import { APP_CONFIG, AppConfig } from '../config/config';
import { Clock } from '../common/clock';
import { DomainException, ErrorCode, notFound } from '../common/problem';
import { ApiKey } from './api-key.entity';
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
// Conditional, so that several instances together still write at most once a minute per key.
const TOUCH_KEY = `UPDATE api_keys SET last_used_at = $2
  WHERE id = $1 AND (last_used_at IS NULL OR last_used_at <= $2::timestamptz - interval '1 minute')`;

@Injectable()
export class ApiKeysService {
  private readonly logger = new Logger(ApiKeysService.name);
  /** When this instance last wrote each key's last_used_at (by key id). */
  private readonly touched = new Map<string, number>();

  constructor(
    @InjectDataSource() private readonly db: DataSource,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly clock: Clock,
  ) {}

  private get repo() {
    return this.db.getRepository(ApiKey);
  }

  async create(name: string, scopes: Scope[], key = generateApiKey()): Promise<CreatedApiKey> {
    const [row] = await this.db.query(
      `INSERT INTO api_keys (name, prefix, key_hash, scopes) VALUES ($1, $2, $3, $4)
       RETURNING id`,
      [name, key.slice(0, 10), hashKey(key), [...new Set(scopes)]],
    );
    return { key, apiKey: await this.get(row.id) };
  }

  list(): Promise<ApiKey[]> {
    return this.repo.find({ order: { createdAt: 'ASC' } });
  }

  async get(id: string): Promise<ApiKey> {
    const key = await this.repo.findOneBy({ id });
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
      const admins: { id: string }[] = await tx.query(
        `SELECT id FROM api_keys WHERE 'admin' = ANY(scopes) AND revoked_at IS NULL ORDER BY id FOR UPDATE`,
      );
      const [target]: { id: string; name: string; prefix: string; scopes: string[]; revoked_at: Date | null }[] = await tx.query(
        `SELECT id, name, prefix, scopes, revoked_at FROM api_keys WHERE id = $1 FOR UPDATE`,
        [id],
      );
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
      await tx.query(`UPDATE api_keys SET revoked_at = $2 WHERE id = $1`, [id, this.clock.now()]);
      // Its console sessions end with it (each request checks the key anyway; this clears them).
      await tx.query(`DELETE FROM console_sessions WHERE api_key_id = $1`, [id]);
    });
  }

  /**
   * The key's scopes, or null when the key is unknown or revoked. A read on every request (a
   * revocation counts at once); a write only when this instance has not marked the key used
   * within the last minute.
   */
  async verify(key: string): Promise<{ id: string; scopes: string[] } | null> {
    const [row]: { id: string; scopes: string[] }[] = await this.db.query(
      `SELECT id, scopes FROM api_keys WHERE key_hash = $1 AND revoked_at IS NULL`,
      [hashKey(key)],
    );
    if (!row) return null;
    const now = this.clock.now();
    const last = this.touched.get(row.id);
    if (last === undefined || now.getTime() - last >= LAST_USED_RESOLUTION_MS) {
      this.touched.set(row.id, now.getTime());
      await this.db.query(TOUCH_KEY, [row.id, now]);
    }
    return row;
  }

  /**
   * At start: ADMIN_API_KEY, when set, becomes an admin key; otherwise, when no admin key exists
   * yet, one is created and returned so start-up can print it once.
   */
  async ensureAdminKey(): Promise<string | null> {
    if (this.config.adminApiKey) {
      await this.db.query(
        `INSERT INTO api_keys (name, prefix, key_hash, scopes) VALUES ('ADMIN_API_KEY', $1, $2, '{admin}')
         ON CONFLICT (key_hash) DO UPDATE SET revoked_at = NULL`,
        [this.config.adminApiKey.slice(0, 10), hashKey(this.config.adminApiKey)],
      );
      return null;
    }
    // The advisory lock keeps two instances starting at once from both creating a key.
    return this.db.transaction(async (tx) => {
      await tx.query(`SELECT pg_advisory_xact_lock(hashtext('tactful:admin-key'))`);
      const [{ count }] = await tx.query(
        `SELECT count(*)::int AS count FROM api_keys WHERE 'admin' = ANY(scopes) AND revoked_at IS NULL`,
      );
      if (count > 0) return null;
      const key = generateApiKey();
      await tx.query(
        `INSERT INTO api_keys (name, prefix, key_hash, scopes) VALUES ('first admin key', $1, $2, '{admin}')`,
        [key.slice(0, 10), hashKey(key)],
      );
      this.logger.log('Created the first admin API key');
      return key;
    });
  }
}
