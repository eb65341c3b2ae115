// The auth domain's statements (docs/SQL.md): API keys, stored as SHA-256 hashes only.
import { queries, sql } from '../database/statements';
import type { ApiKey } from './api-key.entity';

/** A key as the API lists it: never its hash. */
const KEY = `id, name, prefix, scopes, created_at AS "createdAt", last_used_at AS "lastUsedAt", revoked_at AS "revokedAt"`;

export const AuthQueries = queries('auth', {
  create: sql<[name: string, prefix: string, keyHash: Buffer, scopes: string[]], { id: string }>(
    'A new key; only its hash and its first characters (to tell keys apart) are stored.',
    `INSERT INTO api_keys (name, prefix, key_hash, scopes) VALUES ($1, $2, $3, $4) RETURNING id`,
  ),
  list: sql<[], ApiKey>('Every key, oldest first.', `SELECT ${KEY} FROM api_keys ORDER BY created_at`),
  byId: sql<[id: string], ApiKey>('One key by id.', `SELECT ${KEY} FROM api_keys WHERE id = $1`),
  lockActiveAdmins: sql<[], { id: string }>(
    'Every active admin key, locked in id order: two admins revoking each other at once take turns, and the second finds itself the last one.',
    `SELECT id FROM api_keys WHERE 'admin' = ANY(scopes) AND revoked_at IS NULL ORDER BY id FOR UPDATE`,
  ),
  lockForRevoke: sql<[id: string], { id: string; name: string; prefix: string; scopes: string[]; revoked_at: Date | null }>(
    'The key to revoke, locked.',
    `SELECT id, name, prefix, scopes, revoked_at FROM api_keys WHERE id = $1 FOR UPDATE`,
  ),
  revoke: sql<[id: string, at: Date]>('Revokes a key; verify() refuses it from the next request on.', `UPDATE api_keys SET revoked_at = $2 WHERE id = $1`),
  verify: sql<[keyHash: Buffer], { id: string; scopes: string[] }>(
    'On every request: the scopes of an active key by its hash (unique index), so a revocation counts at once.',
    `SELECT id, scopes FROM api_keys WHERE key_hash = $1 AND revoked_at IS NULL`,
    { prepared: true },
  ),
  touch: sql<[id: string, at: Date]>(
    'last_used_at to the minute; conditional, so several instances together still write at most once a minute per key.',
    `UPDATE api_keys SET last_used_at = $2 WHERE id = $1 AND (last_used_at IS NULL OR last_used_at <= $2::timestamptz - interval '1 minute')`,
    { prepared: true },
  ),
  upsertConfiguredAdmin: sql<[prefix: string, keyHash: Buffer]>(
    'ADMIN_API_KEY becomes an admin key (again, if it was revoked).',
    `INSERT INTO api_keys (name, prefix, key_hash, scopes) VALUES ('ADMIN_API_KEY', $1, $2, '{admin}')
     ON CONFLICT (key_hash) DO UPDATE SET revoked_at = NULL`,
  ),
  adminKeyLock: sql<[]>(
    'Two instances starting at once must not both create a first admin key: a transaction lock around the check and the insert.',
    `SELECT pg_advisory_xact_lock(hashtext('tactful:admin-key'))`,
  ),
  activeAdmins: sql<[], { count: number }>(
    'Whether any active admin key exists.',
    `SELECT count(*)::int AS count FROM api_keys WHERE 'admin' = ANY(scopes) AND revoked_at IS NULL`,
  ),
  createFirstAdmin: sql<[prefix: string, keyHash: Buffer]>(
    'The first admin key, printed once at start-up.',
    `INSERT INTO api_keys (name, prefix, key_hash, scopes) VALUES ('first admin key', $1, $2, '{admin}')`,
  ),
});
