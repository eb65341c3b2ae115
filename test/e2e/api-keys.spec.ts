// Managing API keys safely (issue 17): the last active admin key cannot be revoked (nobody could
// manage keys any more), a key revokes itself only when it says so, two admins revoking each other
// at once leave one, and using a key writes its row at most once a minute, not on every call.
import { FakeClock } from '../../src/common/clock';
import { startTestApp, TestApp } from '../support/app';

let t: TestApp;
const clock = new FakeClock('2026-03-02T09:00:00Z');

beforeAll(async () => {
  t = await startTestApp({ clock });
});
afterAll(() => t?.close());

async function createKey(name: string, scopes: string[]): Promise<{ id: string; key: string }> {
  const res = await t.api('POST', '/v1/api-keys', { body: { name, scopes } });
  expect(res.status).toBe(201);
  return { id: res.body.id, key: res.body.key };
}

const activeAdmins = async () =>
  (await t.sql(`SELECT id FROM api_keys WHERE 'admin' = ANY(scopes) AND revoked_at IS NULL ORDER BY id`)).map((r) => r.id as string);

describe('last_used_at', () => {
  it('is written at most once a minute per key, not on every call', async () => {
    const key = await createKey('busy integration', ['read']);
    const row = async () => (await t.sql(`SELECT xmin::text AS version, last_used_at FROM api_keys WHERE id = $1`, [key.id]))[0];
    expect((await row()).last_used_at).toBeNull();

    expect((await t.api('GET', '/v1/topics', { key: key.key })).status).toBe(200);
    const marked = await row();
    expect(marked.last_used_at).toEqual(clock.now());
    // Twenty more calls within the minute: the row is not written again (its version stays).
    for (let i = 0; i < 20; i++) expect((await t.api('GET', '/v1/topics', { key: key.key })).status).toBe(200);
    expect(await row()).toEqual(marked);

    clock.advance(61_000);
    expect((await t.api('GET', '/v1/topics', { key: key.key })).status).toBe(200);
    const later = await row();
    expect(later.last_used_at).toEqual(clock.now());
    expect(later.version).not.toBe(marked.version);
  });
});

describe('revoking keys', () => {
  it('refuses to revoke the last active admin key with 409 naming it, even when it asks for itself', async () => {
    const [only] = await activeAdmins();
    const refused = await t.api('DELETE', `/v1/api-keys/${only}?self=true`);
    expect(refused.status).toBe(409);
    expect(refused.headers.get('content-type')).toContain('application/problem+json');
    expect(refused.body.detail).toContain(only);
    expect(refused.body.detail).toContain('"test admin"');
    expect(refused.body.detail).toContain('last active admin key');
    expect(refused.body).toMatchObject({ apiKeyId: only, errors: [{ field: 'id', message: 'is the last active admin key' }] });
    expect((await t.api('GET', '/v1/api-keys')).status).toBe(200);
  });

  it('revokes the key making the request only with self=true', async () => {
    const second = await createKey('second admin', ['admin']);
    const slip = await t.api('DELETE', `/v1/api-keys/${second.id}`, { key: second.key });
    expect(slip.status).toBe(409);
    expect(slip.body.errors).toEqual([{ field: 'self', message: 'must be true to revoke the key making the request' }]);
    expect((await t.api('GET', '/v1/topics', { key: second.key })).status).toBe(200);
    expect((await t.api('DELETE', `/v1/api-keys/${second.id}?self=maybe`, { key: second.key })).status).toBe(400);

    expect((await t.api('DELETE', `/v1/api-keys/${second.id}?self=true`, { key: second.key })).status).toBe(204);
    expect((await t.api('GET', '/v1/topics', { key: second.key })).status).toBe(401);
  });

  it('revokes other keys at once, and leaves one of two admins revoking each other at the same time', async () => {
    const reader = await createKey('reader', ['read']);
    expect((await t.api('DELETE', `/v1/api-keys/${reader.id}`)).status).toBe(204);
    expect((await t.api('GET', '/v1/topics', { key: reader.key })).status).toBe(401);

    const a = await createKey('admin a', ['admin']);
    const b = await createKey('admin b', ['admin']);
    const [first] = await activeAdmins().then((ids) => ids.filter((id) => id !== a.id && id !== b.id));
    expect((await t.api('DELETE', `/v1/api-keys/${first}`, { key: a.key })).status).toBe(204);
    const [aRevokesB, bRevokesA] = await Promise.all([
      t.api('DELETE', `/v1/api-keys/${b.id}`, { key: a.key }),
      t.api('DELETE', `/v1/api-keys/${a.id}`, { key: b.key }),
    ]);
    // One wins; the other finds itself the last admin (409) or, if it came second, already revoked (401).
    const statuses = [aRevokesB.status, bRevokesA.status].sort();
    expect(statuses[0]).toBe(204);
    expect([401, 409]).toContain(statuses[1]);
    expect(await activeAdmins()).toHaveLength(1);
  });
});
