// Every /v1 route in the OpenAPI document, table-driven: without a key 401, with a key that
// lacks the route's scope 403 — and neither changes anything.
import { SCOPES } from '../../src/auth/scopes';
import { startTestApp, TestApp } from '../support/app';

let t: TestApp;
beforeAll(async () => {
  t = await startTestApp();
});
afterAll(() => t.close());

const SAMPLE_ID = '00000000-0000-4000-8000-000000000001';

it('answers 401 without a key and 403 with a wrong scope on every /v1 route the OpenAPI document lists', async () => {
  const doc = (await t.api('GET', '/docs/openapi.json', { key: null })).body;
  const operations: { method: string; path: string; scopes: string[] }[] = [];
  for (const [path, item] of Object.entries<any>(doc.paths)) {
    if (!path.startsWith('/v1/')) continue;
    for (const [method, op] of Object.entries<any>(item)) {
      operations.push({ method: method.toUpperCase(), path, scopes: op['x-required-scopes'] ?? [] });
    }
  }
  expect(operations.length).toBeGreaterThan(30);
  const undocumented = operations.filter((o) => o.scopes.length === 0);
  expect(undocumented).toEqual([]);

  const keys = new Map<string, string>();
  for (const scope of SCOPES.filter((s) => s !== 'admin')) {
    keys.set(scope, (await t.api('POST', '/v1/api-keys', { body: { name: scope, scopes: [scope] } })).body.key);
  }
  const before = await t.sql(`SELECT (SELECT count(*) FROM topics) + (SELECT count(*) FROM subscribers) + (SELECT count(*) FROM campaigns) AS n`);

  const failures: string[] = [];
  for (const op of operations) {
    const url = op.path.replace(/\{[^}]+\}/g, SAMPLE_ID);
    const body = ['POST', 'PATCH', 'PUT'].includes(op.method) ? {} : undefined;
    const anonymous = await t.api(op.method, url, { key: null, body });
    if (anonymous.status !== 401 || anonymous.body?.code !== 'unauthorized') failures.push(`${op.method} ${op.path} without key: ${anonymous.status}`);
    const wrong = SCOPES.find((s) => s !== 'admin' && !op.scopes.includes(s) && !op.scopes.includes('admin'));
    if (wrong) {
      const forbidden = await t.api(op.method, url, { key: keys.get(wrong)!, body });
      if (forbidden.status !== 403) failures.push(`${op.method} ${op.path} with ${wrong}: ${forbidden.status}`);
    }
  }
  expect(failures).toEqual([]);
  const after = await t.sql(`SELECT (SELECT count(*) FROM topics) + (SELECT count(*) FROM subscribers) + (SELECT count(*) FROM campaigns) AS n`);
  expect(after).toEqual(before);
});
