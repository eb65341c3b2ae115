// API keys: random, shown once, stored only as a SHA-256 hash (the keys are high-entropy, so a
// slow password hash adds nothing but latency to every request).
import { Inject, Injectable, Logger } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { createHash, randomBytes } from 'node:crypto';
import { DataSource, IsNull } from 'typeorm';
import { APP_CONFIG, AppConfig } from '../config/config';
import { notFound } from '../common/problem';
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

@Injectable()
export class ApiKeysService {
  private readonly logger = new Logger(ApiKeysService.name);

  constructor(
    @InjectDataSource() private readonly db: DataSource,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
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

  async revoke(id: string): Promise<void> {
    const result = await this.repo.update({ id, revokedAt: IsNull() }, { revokedAt: () => 'now()' });
    if (result.affected === 0) await this.get(id);
  }

  /** The key's scopes, or null when the key is unknown or revoked. */
  async verify(key: string): Promise<{ id: string; scopes: string[] } | null> {
    // Wrapped in a CTE: TypeORM returns [rows, count] for a bare UPDATE … RETURNING.
    const rows: { id: string; scopes: string[] }[] = await this.db.query(
      `WITH used AS (
         UPDATE api_keys SET last_used_at = CASE
             WHEN last_used_at IS NULL OR last_used_at < now() - interval '1 minute' THEN now() ELSE last_used_at END
           WHERE key_hash = $1 AND revoked_at IS NULL
         RETURNING id, scopes)
       SELECT id, scopes FROM used`,
      [hashKey(key)],
    );
    return rows[0] ?? null;
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
