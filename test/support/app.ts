// Starts the real app (Fastify, real PostgreSQL) for one test file, listening on a free port.
import { NestFastifyApplication } from '@nestjs/platform-fastify';
import { mkdtempSync } from 'node:fs';
import { Client } from 'pg';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ApiKeysService } from '../../src/auth/api-keys.service';
import { createApp } from '../../src/bootstrap';
import { Clock, FakeClock } from '../../src/common/clock';
import { AppConfig, loadConfig } from '../../src/config/config';
import { assertContract, Contract, contractFor, rawFetch, watchApp } from './contract';
import { createTestDatabase, TestDatabase } from './database';

export const TEST_SECRETS = {
  TOKEN_SECRET: 'test-token-secret-0123456789abcdef0123456789',
  WEBHOOK_SECRET: 'test-webhook-secret-0123456789abcdef012345678',
};

export interface TestApp {
  app: NestFastifyApplication;
  config: AppConfig;
  db: TestDatabase;
  clock: Clock;
  baseUrl: string;
  adminKey: string;
  /** One SQL statement against the test database (for asserting on rows). */
  sql(text: string, params?: unknown[]): Promise<any[]>;
  /** The app's OpenAPI document, against which every response a test receives is checked (contract.ts). */
  contract: Contract;
  /**
   * fetch against the running app with the admin key unless `key` says otherwise (null: no key).
   * Throws when the response does not match the OpenAPI document (as does any fetch to the app).
   */
  api(method: string, path: string, options?: { body?: unknown; raw?: string; contentType?: string; key?: string | null }): Promise<ApiResponse>;
  close(): Promise<void>;
}

export interface ApiResponse {
  status: number;
  headers: Headers;
  body: any;
}

export async function startTestApp(options: { clock?: Clock; env?: Record<string, string> } = {}): Promise<TestApp> {
  // env.DATABASE_URL: another app's database (several instances on one database); it stays when this app closes.
  const shared = options.env?.DATABASE_URL;
  const db: TestDatabase = shared ? { url: shared, name: new URL(shared).pathname.slice(1), drop: async () => undefined } : await createTestDatabase();
  // Workers and cron ticks are driven by the tests themselves (worker.drain()), unless a test opts in.
  const config = loadConfig({
    NODE_ENV: 'test',
    LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? 'silent',
    ...TEST_SECRETS,
    DATABASE_URL: db.url,
    WORKER_ENABLED: 'false',
    // Run from src/ (ts-jest): a test that turns the worker on runs it on the app's loop.
    WORKER_ISOLATION: 'inline',
    SCHEDULER_ENABLED: 'false',
    OUTBOX_DIR: mkdtempSync(join(tmpdir(), 'tactful-outbox-')),
    PUBLIC_URL: 'http://tactful.test',
    ...options.env,
  });
  const clock = options.clock ?? new FakeClock();
  const app = await createApp(config, db.url, clock);
  await app.listen({ port: 0, host: '127.0.0.1' });
  const address = app.getHttpServer().address() as { port: number };
  const baseUrl = `http://127.0.0.1:${address.port}`;
  const { key: adminKey } = await app.get(ApiKeysService).create('test admin', ['admin']);
  const documentText = (await app.getHttpAdapter().getInstance().inject({ method: 'GET', url: '/docs/openapi.json' })).body;
  const contract = contractFor(documentText);
  const unwatch = watchApp(baseUrl, contract);

  const api: TestApp['api'] = async (method, path, opts = {}) => {
    const headers: Record<string, string> = {};
    const key = opts.key === undefined ? adminKey : opts.key;
    if (key !== null) headers.authorization = `Bearer ${key}`;
    let body: string | undefined;
    if (opts.raw !== undefined) {
      body = opts.raw;
      headers['content-type'] = opts.contentType ?? 'application/json';
    } else if (opts.body !== undefined) {
      body = JSON.stringify(opts.body);
      headers['content-type'] = 'application/json';
    }
    const response = await rawFetch(baseUrl + path, { method, headers, body });
    const text = await response.text();
    assertContract(contract, { method, url: baseUrl + path, status: response.status, contentType: response.headers.get('content-type'), body: text });
    let parsed: unknown = text;
    if ((response.headers.get('content-type') ?? '').includes('json') && text !== '') parsed = JSON.parse(text);
    return { status: response.status, headers: response.headers, body: parsed };
  };

  return {
    app,
    config,
    db,
    clock,
    baseUrl,
    adminKey,
    contract,
    api,
    sql: async (text, params = []) => {
      const client = new Client({ connectionString: db.url });
      await client.connect();
      try {
        return (await client.query(text, params)).rows;
      } finally {
        await client.end();
      }
    },
    close: async () => {
      unwatch();
      await app.close();
      await db.drop();
    },
  };
}
