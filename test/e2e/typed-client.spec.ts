// A client generated from the live OpenAPI document runs the README walkthrough under the type
// checker: openapi-typescript writes the `paths` types, tsc --strict compiles
// test/typed-client/walkthrough.ts (openapi-fetch) against them, and the compiled program runs
// against the test app. A type error fails the test, and so does an answer that does not match
// the document (the program's fetch is the contract-checked one, test/support/contract.ts).
import { execFile } from 'node:child_process';
import { copyFileSync, mkdtempSync, symlinkSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import ts from 'typescript';
import { CampaignDispatchService } from '../../src/campaigns/campaign-dispatch.service';
import { FakeClock } from '../../src/common/clock';
import { DeliveryWorker } from '../../src/delivery/delivery-worker';
import { startTestApp, TestApp } from '../support/app';

const ROOT = resolve(__dirname, '../..');
// A Monday, 10:00 in Berlin and 09:00 in London: outside quiet hours for both.
const clock = new FakeClock('2026-03-02T09:00:00Z');
let t: TestApp;
let dir: string;
/** tsc's diagnostics for the walkthrough against the generated client (empty: it compiles). */
let diagnostics: string[];

/** The compiled program's entry point (its own types come from the generated client: see walkthrough.ts). */
type Walkthrough = (options: {
  baseUrl: string;
  apiKey: string;
  fetch: (request: Request) => Promise<Response>;
  runScheduler(): Promise<void>;
}) => Promise<Record<string, any>>;

/** tsc --strict over the given files; the diagnostics as text (empty: it compiles). */
function compile(files: string[], outDir: string): string[] {
  const program = ts.createProgram(files, {
    strict: true,
    noEmitOnError: true,
    target: ts.ScriptTarget.ES2022,
    module: ts.ModuleKind.Node16,
    moduleResolution: ts.ModuleResolutionKind.Node16,
    lib: ['lib.es2023.d.ts', 'lib.dom.d.ts'],
    types: [],
    esModuleInterop: true,
    outDir,
    rootDir: dir,
  });
  const emitted = program.emit();
  const host: ts.FormatDiagnosticsHost = { getCanonicalFileName: (f) => f, getCurrentDirectory: () => dir, getNewLine: () => '\n' };
  return [...new Set([...ts.getPreEmitDiagnostics(program), ...emitted.diagnostics].map((d) => ts.formatDiagnostic(d, host).trim()))];
}

beforeAll(async () => {
  t = await startTestApp({ clock });
  const document = await t.api('GET', '/docs/openapi.json', { key: null });
  expect(document.status).toBe(200);
  // The generated client lives in a folder of its own, as in a user's project: the document, the
  // generated types, the program, and this repository's node_modules (openapi-fetch). Fields with
  // a default are optional to send: openapi-typescript is told so (--default-non-nullable false).
  dir = mkdtempSync(join(tmpdir(), 'tactful-typed-client-'));
  symlinkSync(join(ROOT, 'node_modules'), join(dir, 'node_modules'), 'dir');
  writeFileSync(join(dir, 'openapi.json'), JSON.stringify(document.body));
  await promisify(execFile)(
    process.execPath,
    [join(ROOT, 'node_modules/openapi-typescript/bin/cli.js'), 'openapi.json', '--output', 'schema.d.ts', '--default-non-nullable', 'false'],
    {
      cwd: dir,
      env: { PATH: process.env.PATH, HOME: dir, NO_COLOR: '1' },
    },
  );
  copyFileSync(join(ROOT, 'test/typed-client/walkthrough.ts'), join(dir, 'walkthrough.ts'));
  diagnostics = compile([join(dir, 'walkthrough.ts')], join(dir, 'out'));
}, 120_000);
afterAll(() => t.close());

describe('a client generated from the live OpenAPI document', () => {
  it('type-checks the README walkthrough (tsc --strict), and refuses a program that misuses a route', () => {
    expect(diagnostics).toEqual([]);
    // The types are real: a wrong field type, a missing path parameter and wrong response types fail to compile.
    writeFileSync(
      join(dir, 'misuse.ts'),
      `import createClient from 'openapi-fetch';
       import type { paths } from './schema';
       export async function misuse(client: ReturnType<typeof createClient<paths>>) {
         await client.POST('/v1/topics', { body: { key: 'x', nameDe: 42, nameEn: 'X' } });
         await client.GET('/v1/campaigns/{id}/stats', {});
         const { data } = await client.GET('/v1/subscribers/{id}/timeline', { params: { path: { id: 'x' } } });
         const slot: number = data!.subscriberId;
         const reason: 'sent' | 'sent_maybe' = data!.items[0].reason;
         return [slot, reason];
       }`,
    );
    const errors = compile([join(dir, 'misuse.ts')], join(dir, 'out-misuse'));
    expect(errors.join('\n')).toMatch(/misuse.ts\(4,.*Type 'number' is not assignable to type 'string'/);
    expect(errors.join('\n')).toMatch(/'params'/);
    expect(errors.join('\n')).toMatch(/Type 'string' is not assignable to type 'number'/);
    expect(errors.join('\n')).toMatch(/is not assignable to type '"sent" \| "sent_maybe"'/);
  }, 120_000);

  it('runs the walkthrough against the app: topics, a subscriber with consent evidence, an import, one campaign now and one deferred into the next digest with its reason and date', async () => {
    expect(diagnostics).toEqual([]);
    const { walkthrough } = createRequire(__filename)(join(dir, 'out/walkthrough.js')) as { walkthrough: Walkthrough };
    const result = await walkthrough({
      baseUrl: t.baseUrl,
      apiKey: t.adminKey,
      fetch: (request) => fetch(request),
      runScheduler: async () => {
        await t.app.get(CampaignDispatchService).dispatchDue();
        await t.app.get(DeliveryWorker).drain();
      },
    });
    expect(result.topics.map((x: { key: string }) => x.key)).toEqual(['trade-fairs', 'offers']);
    expect(result.anna).toMatchObject({ email: 'anna.schmidt@example.de', status: 'active', cadence: 'biweekly', confirmedAt: '2026-03-01T10:15:00.000Z' });
    expect(result.invalid.errors).toEqual([
      { field: 'email', message: 'must be a valid e-mail address' },
      { field: 'timeZone', message: 'must be an IANA time zone such as Europe/Berlin' },
    ]);
    expect(result.imported).toMatchObject({ atomic: false, applied: true, received: 4, created: 2, updated: 0, rejected: 2, errorsTruncated: false });
    expect(result.first.stats).toMatchObject({ total: 2, byStatus: { sent: 2 }, byReason: { sent: 2 } });
    expect(result.first.campaign).toMatchObject({ status: 'sending', progress: { queued: 0, sent: 2, total: 2, percentDone: 100 } });
    // Ben (weekly, London) has his next digest on Monday 9 March 09:00; Anna (every two weeks,
    // Berlin, Mondays 09:00) on the first day her window is free: Tuesday 17 March, 09:00 Berlin.
    expect(result.second.audience).toMatchObject({ now: 0, later: 2, never: 0, firstDigestAt: '2026-03-09T09:00:00.000Z' });
    expect(result.second.stats).toMatchObject({ total: 2, byStatus: { deferred: 2 }, byReason: { deferred_cadence: 2 } });
    expect(result.deferred).toMatchObject({
      status: 'deferred',
      reason: 'deferred_cadence',
      reasonLabel: { en: 'Folded into the next digest (cadence)' },
      nextAttemptAt: '2026-03-17T08:00:00.000Z',
    });
    expect(result.timeline).toMatchObject({
      lastMarketingAt: '2026-03-02T09:00:00.000Z',
      nextMarketingSlot: '2026-03-16T09:00:00.000Z',
      nextDigestAt: '2026-03-17T08:00:00.000Z',
    });
    // The README shows these answers: WALKTHROUGH_OUTPUT=file writes them out when they need refreshing.
    if (process.env.WALKTHROUGH_OUTPUT) writeFileSync(process.env.WALKTHROUGH_OUTPUT, JSON.stringify(result, null, 2));
  }, 120_000);
});
