// Idempotency-Key for POSTs: the first request with a key runs and its response is stored; a
// retry with the same key and body gets that response again, a different body gets 422, and a
// retry while the first still runs waits for it (two identical POSTs at once → one campaign).
// Stored responses are kept IDEMPOTENCY_RETENTION_HOURS (then the key is new again and the
// scheduler prunes the row), and never with a customer token in them: links into the customer
// pages are stored as "[redacted]", so a replay answers the same status and body minus those.
import { CallHandler, ExecutionContext, Inject, Injectable, NestInterceptor } from '@nestjs/common';
import type { FastifyReply } from 'fastify';
import { createHash } from 'node:crypto';
import { catchError, from, Observable, of, switchMap, throwError } from 'rxjs';
import type { AuthenticatedRequest } from './authenticated-request';
import { APP_CONFIG, AppConfig } from '../config/config';
import { Db } from '../database/sql';
import { IdempotencyQueries as Q } from './idempotency.queries';
import { Clock } from './clock';
import { redactCustomerTokens } from './log-redaction';
import { DomainException, ErrorCode } from './problem';

const WAIT_MS = 10_000;
const HOUR_MS = 3_600_000;
const PRUNE_BATCH = 10_000;

/** Deletes stored keys created before `cutoff`, in batches; returns how many went. */
export async function pruneIdempotencyKeys(db: Db, cutoff: Date): Promise<number> {
  let total = 0;
  for (;;) {
    // Batched, so one run never holds many row locks or one long statement (index on created_at).
    const n = await db.run(Q.prune, [cutoff, PRUNE_BATCH]);
    total += n;
    if (n < PRUNE_BATCH) return total;
  }
}

/** Strings of a response with every customer token replaced (tokens are bearer credentials for a person's pages). */
export function withoutCustomerTokens(value: unknown): unknown {
  if (typeof value === 'string') return redactCustomerTokens(value);
  if (Array.isArray(value)) return value.map(withoutCustomerTokens);
  if (value !== null && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value as Record<string, unknown>).map(([k, v]) => [k, withoutCustomerTokens(v)]));
  }
  return value;
}

@Injectable()
export class IdempotencyInterceptor implements NestInterceptor {
  constructor(
    private readonly db: Db,
    private readonly clock: Clock,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {}

  intercept(context: ExecutionContext, next: CallHandler): Observable<unknown> {
    const request = context.switchToHttp().getRequest<AuthenticatedRequest>();
    const key = request.headers['idempotency-key'];
    if (request.method !== 'POST' || typeof key !== 'string' || !request.apiKey) return next.handle();
    if (!/^[\w.:-]{1,200}$/.test(key)) {
      throw new DomainException(ErrorCode.Validation, 'Idempotency-Key must be 1-200 letters, digits, . : _ -', [
        { field: 'Idempotency-Key', message: 'is malformed' },
      ]);
    }
    const reply = context.switchToHttp().getResponse<FastifyReply>();
    const apiKeyId = request.apiKey.id;
    const hash = createHash('sha256').update(`${request.method} ${request.url}\n${JSON.stringify(request.body ?? null)}`).digest('hex');

    return from(this.claim(apiKeyId, key, hash)).pipe(
      switchMap((stored) => {
        if (stored) {
          void reply.status(stored.status).header('idempotent-replayed', 'true');
          return of(stored.body);
        }
        return next.handle().pipe(
          // Nest set the route's status (@HttpCode, else 201) before the interceptors ran, and a
          // handler may have changed it (an upsert answering 200): the reply holds the real one.
          switchMap((body) => from(this.store(apiKeyId, key, reply.statusCode, body)).pipe(switchMap(() => of(body)))),
          catchError((error) => from(this.forget(apiKeyId, key)).pipe(switchMap(() => throwError(() => error)))),
        );
      }),
    );
  }

  /** null: this request owns the key and runs; otherwise the stored response of the first one. */
  private async claim(apiKeyId: string, key: string, hash: string): Promise<{ status: number; body: unknown } | null> {
    const now = this.clock.now();
    // A key stored longer ago than the retention is new again (the prune job may not have run yet).
    const claimed = await this.db.row(Q.claim, [apiKeyId, key, hash, now, new Date(now.getTime() - this.config.idempotencyRetentionHours * HOUR_MS)]);
    if (claimed) return null;
    const deadline = Date.now() + WAIT_MS;
    for (;;) {
      const row = await this.db.row(Q.stored, [apiKeyId, key]);
      if (!row) return this.claim(apiKeyId, key, hash); // the first attempt failed and gave the key back
      if (row.request_hash !== hash) {
        throw new DomainException(ErrorCode.Unprocessable, 'This Idempotency-Key was used with a different request body.', [
          { field: 'Idempotency-Key', message: 'was used for a different request' },
        ]);
      }
      if (row.status_code !== null) return { status: row.status_code, body: row.response };
      if (Date.now() > deadline) {
        throw new DomainException(ErrorCode.Conflict, 'A request with this Idempotency-Key is still being processed; retry shortly.');
      }
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }

  private async store(apiKeyId: string, key: string, status: number, body: unknown): Promise<void> {
    await this.db.run(Q.store, [apiKeyId, key, status, JSON.stringify(withoutCustomerTokens(body ?? null))]);
  }

  private async forget(apiKeyId: string, key: string): Promise<void> {
    await this.db.run(Q.forget, [apiKeyId, key]);
  }
}
