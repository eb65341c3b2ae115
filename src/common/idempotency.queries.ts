// Statements of the Idempotency-Key store (docs/SQL.md; common/idempotency.interceptor.ts).
import { queries, sql } from '../database/statements';

export const IdempotencyQueries = queries('idempotency', {
  prune: sql<[cutoff: Date, batch: number]>(
    'Stored keys older than the retention go, in batches, so one run never holds many row locks or one long statement (index on created_at).',
    `WITH old AS (SELECT api_key_id, key FROM idempotency_keys WHERE created_at < $1 LIMIT $2)
     DELETE FROM idempotency_keys i USING old WHERE i.api_key_id = old.api_key_id AND i.key = old.key`,
  ),
  claim: sql<[apiKeyId: string, key: string, requestHash: string, at: Date, expiredBefore: Date], { claimed: 1 }>(
    'The first request with a key owns it (a row comes back); a key stored longer ago than the retention is new again (the prune job may not have run yet).',
    `INSERT INTO idempotency_keys (api_key_id, key, request_hash, created_at) VALUES ($1, $2, $3, $4)
     ON CONFLICT (api_key_id, key) DO UPDATE SET request_hash = EXCLUDED.request_hash, status_code = NULL, response = NULL,
       created_at = EXCLUDED.created_at
     WHERE idempotency_keys.created_at < $5
     RETURNING 1 AS claimed`,
  ),
  stored: sql<[apiKeyId: string, key: string], { request_hash: string; status_code: number | null; response: unknown }>(
    'What the first request with this key stored (no status yet: it is still running).',
    `SELECT request_hash, status_code, response FROM idempotency_keys WHERE api_key_id = $1 AND key = $2`,
  ),
  store: sql<[apiKeyId: string, key: string, status: number, response: string]>(
    'The response of the request that owns the key, for its repetitions.',
    `UPDATE idempotency_keys SET status_code = $3, response = $4 WHERE api_key_id = $1 AND key = $2`,
  ),
  forget: sql<[apiKeyId: string, key: string]>(
    'A request that failed gives its key back: a retry runs anew.',
    `DELETE FROM idempotency_keys WHERE api_key_id = $1 AND key = $2`,
  ),
});
