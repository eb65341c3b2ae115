// The OpenAPI document (GET /docs/openapi.json) describes the API completely: it passes Redocly's
// recommended ruleset, every operation documents its success with a schema and an example and
// its errors as one Problem schema, the examples match their schemas, and the names that mean an
// instant, an id, a status or a reason have the format or enum that says so. That the responses
// themselves match it is checked on every response of the e2e suite (test/support/contract.ts).
import { execFile } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { ErrorCode } from '../../src/common/problem';
import { REASONS } from '../../src/reasons/reason-codes';
import { startTestApp, TestApp } from '../support/app';
import { Contract, watchApp } from '../support/contract';

const ROOT = resolve(__dirname, '../..');
let t: TestApp;
let doc: any;

beforeAll(async () => {
  t = await startTestApp();
  const res = await t.api('GET', '/docs/openapi.json', { key: null });
  expect(res.status).toBe(200);
  doc = res.body;
});
afterAll(() => t.close());

const METHODS = ['get', 'put', 'post', 'delete', 'patch'];
const operations = () =>
  Object.entries<any>(doc.paths).flatMap(([path, item]) =>
    METHODS.filter((m) => item[m]).map((method) => ({ method, path, op: item[method], label: `${method.toUpperCase()} ${path}` })),
  );

/** Every (name, schema) pair of every schema in the document: components, parameters, bodies, responses. */
function namedSchemas(): { where: string; name: string; schema: any }[] {
  const out: { where: string; name: string; schema: any }[] = [];
  const walk = (schema: any, where: string) => {
    if (!schema || typeof schema !== 'object') return;
    for (const [name, child] of Object.entries<any>(schema.properties ?? {})) {
      out.push({ where: `${where}.${name}`, name, schema: child });
      walk(child, `${where}.${name}`);
    }
    for (const key of ['items', 'additionalProperties']) if (schema[key] && typeof schema[key] === 'object') walk(schema[key], `${where}[]`);
    for (const key of ['oneOf', 'anyOf', 'allOf']) for (const part of schema[key] ?? []) walk(part, where);
  };
  for (const [name, schema] of Object.entries<any>(doc.components.schemas)) walk(schema, name);
  for (const { label, op } of operations()) {
    for (const p of op.parameters ?? []) out.push({ where: `${label} ${p.in} ${p.name}`, name: p.name, schema: p.schema });
    for (const [media, content] of Object.entries<any>(op.requestBody?.content ?? {})) walk(content.schema, `${label} ${media} body`);
  }
  return out;
}

/** The schema's own type or types, with `null` left out; a `oneOf: [X, null]` is X. */
function resolved(schema: any): any {
  if (schema?.$ref) return resolved(doc.components.schemas[schema.$ref.split('/').pop()]);
  const parts = (schema?.oneOf ?? []).filter((s: any) => s.type !== 'null');
  if (parts.length === 1) return { ...resolved(parts[0]), description: schema.description };
  return schema;
}
const types = (schema: any) => [resolved(schema)?.type ?? []].flat().filter((x: string) => x !== 'null');

describe('the OpenAPI document', () => {
  it('passes @redocly/cli lint with the recommended ruleset (redocly.yaml): no errors, no warnings', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tactful-openapi-'));
    const file = join(dir, 'openapi.json');
    writeFileSync(file, JSON.stringify(doc, null, 2));
    const bin = join(ROOT, 'node_modules/@redocly/cli/bin/cli.js');
    const run = await promisify(execFile)(process.execPath, [bin, 'lint', file, '--config', join(ROOT, 'redocly.yaml'), '--format=json'], {
      cwd: dir,
      env: { PATH: process.env.PATH, HOME: dir, REDOCLY_TELEMETRY: 'off', REDOCLY_SUPPRESS_UPDATE_NOTICE: 'true', NO_COLOR: '1' },
      maxBuffer: 64 * 1024 * 1024,
    }).catch((error: { stdout?: string; stderr?: string }) => ({ stdout: error.stdout ?? '', stderr: error.stderr ?? String(error) }));
    const report = JSON.parse(run.stdout) as {
      totals: { errors: number; warnings: number };
      problems: { ruleId: string; message: string; location: { pointer: string }[] }[];
    };
    const problems = report.problems.map((p) => `${p.ruleId}: ${p.message} at ${p.location.map((l) => l.pointer).join(', ')}`);
    expect(problems).toEqual([]);
    expect(report.totals).toMatchObject({ errors: 0, warnings: 0 });
  }, 120_000);

  it('lists every route the app has (but the Swagger UI), the customer pages included', () => {
    // Fastify's route tree: one node per line, indented four characters per level under its parent.
    const tree = t.app.getHttpAdapter().getInstance().printRoutes({ commonPrefix: false });
    const stack: string[] = [];
    const routes: string[] = [];
    for (const line of tree.split('\n')) {
      const node = /^([│ ]*)[├└]── (\S+)(?: \(([^)]+)\))?$/.exec(line);
      if (!node) continue;
      const depth = node[1].length / 4;
      stack.length = depth;
      stack.push(node[2]);
      const path = stack.join('').replace(/:(\w+)/g, '{$1}');
      for (const method of (node[3] ?? '').split(', ').filter((m) => m && m !== 'HEAD')) routes.push(`${method} ${path}`);
    }
    const app = routes.filter((r) => !/ \/docs(\/|-|$)/.test(r)).sort();
    expect(app.length).toBeGreaterThan(60);
    expect(
      operations()
        .map((o) => o.label)
        .sort(),
    ).toEqual(app);
    expect(app).toEqual(
      expect.arrayContaining([
        'GET /p/{token}',
        'POST /u/{token}',
        'POST /f/{token}',
        'POST /confirm/{token}',
        'POST /webinars/{slug}/register',
        'POST /webinars/unregister/{token}',
      ]),
    );
  });

  it('documents every success with a schema and an example, and the customer pages and the console as text/html with their forms', () => {
    const missing: string[] = [];
    for (const { label, op } of operations()) {
      const successes = Object.entries<any>(op.responses).filter(([status]) => status.startsWith('2'));
      if (successes.length === 0) missing.push(`${label}: no 2xx`);
      for (const [status, response] of successes) {
        if (status === '204') {
          if (response.content) missing.push(`${label} 204 has content`);
          continue;
        }
        const media = Object.entries<any>(response.content ?? {});
        if (media.length === 0) missing.push(`${label} ${status}: no content`);
        for (const [type, content] of media) {
          if (!content.schema) missing.push(`${label} ${status} ${type}: no schema`);
          if (content.example === undefined) missing.push(`${label} ${status} ${type}: no example`);
          if (type === 'application/json' && !content.schema?.$ref && !content.schema?.items?.$ref) missing.push(`${label} ${status}: not a named schema`);
        }
        const pages = /^\/(p|u|f|confirm|webinars|console)(\/|$)/.test(label.split(' ')[1]);
        if (pages && !response.content?.['text/html']) missing.push(`${label} ${status}: a customer page that is not text/html`);
      }
      if (
        op.requestBody &&
        /^(POST|PUT|PATCH) \/(p|u|f|confirm|webinars|console)\//.test(label) &&
        !op.requestBody.content['application/x-www-form-urlencoded']
      ) {
        missing.push(`${label}: its form body is not documented`);
      }
    }
    expect(missing).toEqual([]);
  });

  it('documents every error as application/problem+json with the one Problem schema (customer pages may answer HTML), each with an example', () => {
    const wrong: string[] = [];
    const problem = doc.components.schemas.Problem;
    expect(problem.required).toEqual(expect.arrayContaining(['type', 'title', 'status', 'detail', 'code']));
    expect(resolved(problem.properties.code).enum).toEqual(Object.values(ErrorCode));
    expect(resolved(problem.properties.errors.items).required).toEqual(['field', 'message']);
    expect(Object.keys(resolved(problem.properties.errors.items).properties)).toEqual(['field', 'message', 'row']);
    for (const { label, op } of operations()) {
      const errors = Object.entries<any>(op.responses).filter(([status]) => /^[45]/.test(status));
      if (!errors.some(([status]) => status === '400')) wrong.push(`${label}: no 400`);
      if (label.includes(' /v1/') && !['401', '403'].every((s) => s in op.responses)) wrong.push(`${label}: no 401/403`);
      if (!label.startsWith('GET') && !['413', '415'].every((s) => s in op.responses)) wrong.push(`${label}: no 413/415`);
      for (const [status, response] of errors) {
        const media = Object.keys(response.content ?? {});
        const json = response.content?.['application/problem+json'];
        if (media.some((m) => m !== 'application/problem+json' && m !== 'text/html')) wrong.push(`${label} ${status}: ${media.join(', ')}`);
        if (!json && !response.content?.['text/html']) wrong.push(`${label} ${status}: neither problem+json nor a page`);
        if (json && json.schema?.$ref !== '#/components/schemas/Problem') wrong.push(`${label} ${status}: not the Problem schema`);
        if (json && json.example?.status !== Number(status)) wrong.push(`${label} ${status}: its example says ${json.example?.status}`);
      }
    }
    expect(wrong).toEqual([]);
  });

  it('has examples that match their own schemas (objects closed, as the contract test checks responses)', () => {
    const wrong: string[] = [];
    let checked = 0;
    for (const { method, path, op, label } of operations()) {
      for (const [status, response] of Object.entries<any>(op.responses)) {
        for (const [media, content] of Object.entries<any>(response.content ?? {})) {
          if (content.example === undefined) continue;
          const body = typeof content.example === 'string' ? content.example : JSON.stringify(content.example);
          const problem = t.contract.check({ method, url: path.replace(/\{[^}]+\}/g, 'x'), status: Number(status), contentType: media, body });
          checked++;
          if (problem) wrong.push(`${label}: ${problem}`);
        }
      }
    }
    expect(checked).toBeGreaterThan(200);
    expect(wrong).toEqual([]);
  });

  it('says what each name means: instants are date-time, ids are UUIDs, counts integers, statuses and reasons enums', () => {
    const wrong: string[] = [];
    for (const { where, name, schema } of namedSchemas()) {
      const s = resolved(schema);
      const type = types(schema);
      if (/(At|^at)$/.test(name) && !(s.format === 'date-time' && type.includes('string'))) wrong.push(`${where}: an instant without format date-time`);
      if (
        /^(id|.+Id)$/.test(name) &&
        type.includes('string') &&
        s.format !== 'uuid' &&
        !/64-bit integer|provider’s|carrier’s/.test(s.description ?? '') &&
        !/^(eventId|messageId|refId)$/.test(name)
      ) {
        wrong.push(`${where}: an id that is neither a uuid nor described as a 64-bit integer`);
      }
      if (/(status|reason|cadence|locale|class|source|action|rating)$/.test(name) && type.includes('string') && !s.enum)
        wrong.push(`${where}: a ${name} without an enum`);
      if (/^(reason)$/.test(name) && s.enum && !where.startsWith('Problem')) {
        const reasons = s.enum.filter((r: unknown) => r !== null);
        if (JSON.stringify(reasons) !== JSON.stringify(REASONS)) wrong.push(`${where}: reasons other than the Reason enum`);
      }
      if (type.includes('number') && !/[Rr]ate$/.test(name)) wrong.push(`${where}: a number where the server counts in whole numbers`);
      if (type.includes('array') && types(s.items).includes('number')) wrong.push(`${where}: an array of numbers where the server takes integers`);
    }
    expect(wrong).toEqual([]);
    // The one Reason enum (src/reasons/reason-codes.ts) is one schema, used by every reason.
    expect(doc.components.schemas.Reason.enum).toEqual(REASONS);
    const webinar = doc.components.schemas.CreateWebinarDto.properties.reminderMinutes;
    expect(webinar).toMatchObject({ type: 'array', items: { type: 'integer' } });
  });

  it('describes the API key as an opaque bearer key, keeps the scopes of every /v1 route, and marks the public routes as such', () => {
    expect(doc.components.securitySchemes.bearer).toMatchObject({ type: 'http', scheme: 'bearer' });
    expect(doc.components.securitySchemes.bearer.bearerFormat).not.toMatch(/JWT/i);
    expect(doc.components.securitySchemes.bearer.bearerFormat).toMatch(/tk_/);
    const wrong: string[] = [];
    for (const { label, op } of operations()) {
      const api = label.includes(' /v1/');
      if (api && !(op['x-required-scopes']?.length > 0 && op.security?.some((s: any) => 'bearer' in s)))
        wrong.push(`${label}: no scopes or no bearer security`);
      if (!api && !(Array.isArray(op.security) && op.security.length === 0)) wrong.push(`${label}: public, but not security: []`);
    }
    expect(wrong).toEqual([]);
  });
});

describe('the contract check (test/support/contract.ts)', () => {
  const topic = {
    key: 'a',
    nameDe: 'A',
    nameEn: 'A',
    descriptionDe: '',
    descriptionEn: '',
    audienceHint: '',
    archived: false,
    createdAt: '2026-03-02T09:00:00.000Z',
    updatedAt: '2026-03-02T09:00:00.000Z',
  };
  const check = (status: number, body: unknown, contentType = 'application/json') =>
    t.contract.check({ method: 'GET', url: '/v1/topics/a', status, contentType, body: typeof body === 'string' ? body : JSON.stringify(body) });

  it('passes a response that matches the document', () => {
    expect(check(200, topic)).toBeNull();
  });

  it('fails a field the document does not name, a missing one, a wrong type or format, an undeclared status or media type', () => {
    expect(check(200, { ...topic, shoeSize: 42 })).toMatch(/GET \/v1\/topics\/\{key\} \(TopicsController_get\) 200 .*must NOT have additional properties/);
    const { archived: _archived, ...withoutArchived } = topic;
    expect(check(200, withoutArchived)).toMatch(/must have required property 'archived'/);
    expect(check(200, { ...topic, archived: 'no' })).toMatch(/archived must be boolean/);
    expect(check(200, { ...topic, createdAt: '2 March 2026' })).toMatch(/createdAt must match format "date-time"/);
    expect(check(201, topic)).toMatch(/answered 201, which the document does not declare/);
    expect(check(200, '<p>hi</p>', 'text/html')).toMatch(/answered text\/html; the document declares application\/json/);
    expect(check(404, { type: 'x', title: 'x', status: 404, detail: 'x', code: 'not_found', stack: 'at …' }, 'application/problem+json')).toMatch(
      /must NOT have additional properties/,
    );
  });

  it('makes a raw fetch to the app throw when the answer does not match, naming the operation, status and error', async () => {
    // The app's real answer to a route the document does not have is a 404 Problem: it passes.
    expect((await fetch(`${t.baseUrl}/v1/nothing-here`)).status).toBe(404);
    // Against a document that declares another /health, the same fetch throws.
    const altered = JSON.parse(JSON.stringify(doc));
    altered.paths['/health'].get.responses['200'].content['application/json'].schema = {
      type: 'object',
      required: ['uptime'],
      properties: { uptime: { type: 'integer' } },
    };
    watchApp(t.baseUrl, new Contract(altered));
    try {
      await expect(fetch(`${t.baseUrl}/health`)).rejects.toThrow(
        /Contract test .*GET \/health \(HealthController_health\) 200 application\/json does not match the document: body must have required property 'uptime'/,
      );
    } finally {
      watchApp(t.baseUrl, t.contract);
    }
    expect((await fetch(`${t.baseUrl}/health`)).status).toBe(200);
  });
});
