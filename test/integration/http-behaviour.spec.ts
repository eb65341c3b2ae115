// Cross-cutting HTTP rules against the real app: request ids, unknown fields on PATCH, body size limits.
import { Client } from 'pg';
import { startTestApp, TestApp } from '../support/app';

let t: TestApp;

beforeAll(async () => {
  t = await startTestApp({ env: { BODY_LIMIT_BYTES: '2048' } });
  expect((await t.api('POST', '/v1/topics', { body: { key: 'offers', nameDe: 'Angebote', nameEn: 'Offers' } })).status).toBe(201);
});
afterAll(() => t.close());

async function sql(text: string, params: unknown[] = []): Promise<any[]> {
  const client = new Client({ connectionString: t.db.url });
  await client.connect();
  try {
    return (await client.query(text, params)).rows;
  } finally {
    await client.end();
  }
}

const get = (path: string, headers: Record<string, string> = {}) => fetch(t.baseUrl + path, { headers: { authorization: `Bearer ${t.adminKey}`, ...headers } });

describe('request ids', () => {
  it('echoes a caller’s x-request-id', async () => {
    const res = await get('/v1/topics', { 'x-request-id': 'abc-123' });
    expect(res.status).toBe(200);
    expect(res.headers.get('x-request-id')).toBe('abc-123');
  });

  it('generates a fresh id when the caller sends none', async () => {
    const [a, b] = await Promise.all([get('/v1/topics'), get('/v1/topics')]);
    const ids = [a.headers.get('x-request-id'), b.headers.get('x-request-id')];
    for (const id of ids) expect(id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
    expect(ids[0]).not.toBe(ids[1]);
  });

  it('replaces an id that is not a safe token instead of echoing it into logs', async () => {
    const res = await get('/v1/topics', { 'x-request-id': 'evil id with spaces {"level":60}' });
    expect(res.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/);
  });

  it('carries the id on error responses too', async () => {
    const res = await get('/v1/subscribers/not-a-uuid', { 'x-request-id': 'err-42' });
    expect(res.status).toBe(400);
    expect(res.headers.get('x-request-id')).toBe('err-42');
    const unauthorized = await fetch(t.baseUrl + '/v1/topics', { headers: { 'x-request-id': 'no-key-1' } });
    expect(unauthorized.status).toBe(401);
    expect(unauthorized.headers.get('x-request-id')).toBe('no-key-1');
  });
});

describe('PATCH rejects unknown fields', () => {
  it('answers 400 naming the unknown field and changes nothing', async () => {
    const created = await t.api('POST', '/v1/subscribers', { body: { email: 'patch@example.com', cadence: 'weekly' } });
    expect(created.status).toBe(201);
    const res = await t.api('PATCH', `/v1/subscribers/${created.body.id}`, { body: { cadence: 'biweekly', email: 'other@example.com', vip: true } });
    expect(res.status).toBe(400);
    expect(res.headers.get('content-type')).toContain('application/problem+json');
    expect(res.body.errors).toEqual([
      { field: 'email', message: 'is not a known field' },
      { field: 'vip', message: 'is not a known field' },
    ]);
    const after = await t.api('GET', `/v1/subscribers/${created.body.id}`);
    expect(after.body).toMatchObject({ email: 'patch@example.com', cadence: 'weekly' });
  });

  it('also on topics', async () => {
    const res = await t.api('PATCH', '/v1/topics/offers', { body: { nameEn: 'Deals', key: 'deals' } });
    expect(res.status).toBe(400);
    expect(res.body.errors).toEqual([{ field: 'key', message: 'is not a known field' }]);
    expect((await t.api('GET', '/v1/topics/offers')).body.nameEn).toBe('Offers');
  });
});

describe('body size limit (BODY_LIMIT_BYTES=2048)', () => {
  const big = (email: string) => ({ email, attributes: { note: 'x'.repeat(1000), more: 'y'.repeat(1000), most: 'z'.repeat(500) } });

  it('answers an oversized JSON body with 413 problem+json and stores nothing', async () => {
    const body = JSON.stringify(big('huge@example.com'));
    expect(Buffer.byteLength(body)).toBeGreaterThan(2048);
    const res = await t.api('POST', '/v1/subscribers', { raw: body });
    expect(res.status).toBe(413);
    expect(res.headers.get('content-type')).toContain('application/problem+json');
    expect(res.body).toMatchObject({ status: 413, code: 'payload_too_large' });
    expect(await sql(`SELECT id FROM subscribers WHERE email = 'huge@example.com'`)).toEqual([]);
  });

  it('measures the body it reads, not the Content-Length it is told (chunked upload)', async () => {
    const payload = JSON.stringify(big('chunked@example.com'));
    const stream = new ReadableStream<Uint8Array>({
      start(controller) {
        const bytes = new TextEncoder().encode(payload);
        for (let i = 0; i < bytes.length; i += 500) controller.enqueue(bytes.subarray(i, i + 500));
        controller.close();
      },
    });
    const res = await fetch(t.baseUrl + '/v1/subscribers', {
      method: 'POST',
      headers: { authorization: `Bearer ${t.adminKey}`, 'content-type': 'application/json' },
      body: stream,
      duplex: 'half',
    } as RequestInit);
    expect(res.status).toBe(413);
    expect(res.headers.get('content-type')).toContain('application/problem+json');
    expect(await sql(`SELECT id FROM subscribers WHERE email = 'chunked@example.com'`)).toEqual([]);
  });

  it('leaves an existing subscriber untouched when an oversized PATCH is refused', async () => {
    const created = await t.api('POST', '/v1/subscribers', { body: { email: 'keep@example.com', attributes: { tier: 'gold' } } });
    const attributes = big('x@example.com').attributes;
    expect(Buffer.byteLength(JSON.stringify({ attributes }))).toBeGreaterThan(2048);
    const res = await t.api('PATCH', `/v1/subscribers/${created.body.id}`, { body: { attributes } });
    expect(res.status).toBe(413);
    expect((await t.api('GET', `/v1/subscribers/${created.body.id}`)).body.attributes).toEqual({ tier: 'gold' });
  });

  it('still accepts a body just under the limit', async () => {
    const body = { email: 'fits@example.com', attributes: { note: 'x'.repeat(1000), more: 'y'.repeat(900) } };
    expect(Buffer.byteLength(JSON.stringify(body))).toBeLessThan(2048);
    expect((await t.api('POST', '/v1/subscribers', { body })).status).toBe(201);
  });
});

describe('structured logs', () => {
  // pino writes its JSON lines to process.stdout (jest wraps stdout, so pino skips its fd-1 fast path).
  const lines: string[] = [];
  let logged: TestApp;
  let restore: () => void;

  beforeAll(async () => {
    const spy = jest.spyOn(process.stdout, 'write').mockImplementation(((chunk: string | Uint8Array, ...rest: unknown[]) => {
      const text = typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString('utf8');
      lines.push(...text.split('\n').filter((line) => line.startsWith('{')));
      const callback = rest.find((r) => typeof r === 'function') as (() => void) | undefined;
      callback?.();
      return true;
    }) as typeof process.stdout.write);
    restore = () => spy.mockRestore();
    logged = await startTestApp({ env: { LOG_LEVEL: 'info' } });
  });

  afterAll(async () => {
    await logged?.close();
    restore();
  });

  it('writes one JSON line per request that carries the request id', async () => {
    const res = await fetch(logged.baseUrl + '/v1/topics', { headers: { authorization: `Bearer ${logged.adminKey}`, 'x-request-id': 'abc-123' } });
    expect(res.headers.get('x-request-id')).toBe('abc-123');
    await new Promise((r) => setTimeout(r, 100));
    const entries = lines.map((l) => JSON.parse(l) as { req?: { id?: string; headers?: Record<string, string> }; res?: { statusCode: number }; msg?: string });
    const mine = entries.filter((e) => e.req?.id === 'abc-123');
    expect(mine).toEqual([expect.objectContaining({ msg: 'request completed', res: expect.objectContaining({ statusCode: 200 }) })]);
    expect(mine[0].req?.headers?.authorization).toBe('[Redacted]');
  });

  it('logs the generated id it sends back when the caller sent none', async () => {
    const res = await fetch(logged.baseUrl + '/v1/topics/nope', { headers: { authorization: `Bearer ${logged.adminKey}` } });
    expect(res.status).toBe(404);
    const id = res.headers.get('x-request-id');
    expect(id).toMatch(/^[0-9a-f-]{36}$/);
    await new Promise((r) => setTimeout(r, 100));
    const mine = lines.map((l) => JSON.parse(l) as { req?: { id?: string }; res?: { statusCode: number } }).filter((e) => e.req?.id === id);
    expect(mine).toEqual([expect.objectContaining({ res: expect.objectContaining({ statusCode: 404 }) })]);
  });
});
