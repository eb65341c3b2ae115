// The README's walkthrough as a program, written against a client generated from the live OpenAPI
// document (openapi-typescript `paths` + openapi-fetch). test/e2e/typed-client.spec.ts generates
// ./schema.d.ts next to a copy of this file, compiles both with tsc --strict and runs the result
// against the test app: a route, field or type the document gets wrong fails to compile or to run.
// Keep it in step with README.md ("A walkthrough").
import createClient from 'openapi-fetch';
import type { components, paths } from './schema';

type Schemas = components['schemas'];

export interface WalkthroughOptions {
  baseUrl: string;
  apiKey: string;
  /** The fetch the client uses (the test's, which checks every answer against the document too). */
  fetch: (request: Request) => Promise<Response>;
  /** What the scheduler does every few seconds on a running instance: dispatch due campaigns and send. */
  runScheduler(): Promise<void>;
}

export interface WalkthroughResult {
  topics: Schemas['TopicResponse'][];
  anna: Schemas['SubscriberResponse'];
  invalid: Schemas['Problem'];
  imported: Schemas['ImportReportResponse'];
  offers: Schemas['SubscriberPage'];
  first: { campaign: Schemas['CampaignResponse']; stats: Schemas['CampaignStatsResponse'] };
  second: {
    audience: Schemas['CampaignAudienceResponse'];
    campaign: Schemas['CampaignResponse'];
    stats: Schemas['CampaignStatsResponse'];
  };
  /** Anna's timeline entry of the second campaign: deferred into her next digest, with the date. */
  deferred: Schemas['TimelineEntryResponse'];
  timeline: Schemas['TimelineResponse'];
}

/** The data of a success, or an error naming the call and the problem. */
function ok<T>(what: string, result: { data?: T; error?: unknown; response: Response }): T {
  if (result.data === undefined) throw new Error(`${what}: ${result.response.status} ${JSON.stringify(result.error)}`);
  return result.data;
}

function check(condition: boolean, what: string): void {
  if (!condition) throw new Error(`walkthrough: ${what}`);
}

export async function walkthrough(options: WalkthroughOptions): Promise<WalkthroughResult> {
  const client = createClient<paths>({ baseUrl: options.baseUrl, fetch: options.fetch, headers: { Authorization: `Bearer ${options.apiKey}` } });

  // 1. Topics: the things customers can choose to hear about.
  const topics = [
    ok(
      'trade-fairs',
      await client.POST('/v1/topics', { body: { key: 'trade-fairs', nameDe: 'Messen', nameEn: 'Trade fairs', descriptionEn: 'Where and when we exhibit.' } }),
    ),
    ok('offers', await client.POST('/v1/topics', { body: { key: 'offers', nameDe: 'Angebote', nameEn: 'Offers' } })),
  ];

  // 2. A subscriber whose consent was given elsewhere, with its evidence: active at once.
  const anna = ok(
    'anna',
    await client.POST('/v1/subscribers', {
      body: {
        email: '  Anna.Schmidt@Example.DE ',
        locale: 'de',
        timeZone: 'Europe/Berlin',
        cadence: 'biweekly',
        topics: ['trade-fairs'],
        consent: { source: 'form', confirmedAt: '2026-03-01T10:15:00Z', ip: '203.0.113.7', textVersion: 'form-v3' },
      },
    }),
  );
  check(anna.email === 'anna.schmidt@example.de' && anna.status === 'active', 'Anna is active, her address trimmed and lower-cased');
  check(anna.topics[0]?.status === 'confirmed' && anna.topics[0].textVersion === 'form-v3', 'her topic is confirmed, with the evidence');

  // Mistakes get a problem+json answer naming each field.
  const { error: invalid, response: refused } = await client.POST('/v1/subscribers', { body: { email: 'not-an-address', timeZone: 'Mars/Olympus' } });
  if (!invalid) throw new Error(`walkthrough: a bad subscriber was accepted (${refused.status})`);
  check(refused.status === 400 && invalid.code === 'validation', 'a bad subscriber is refused with 400');
  check((invalid.errors ?? []).map((e) => e.field).join() === 'email,timeZone', 'the problem names each field');

  // 3. A CSV import: the good rows are stored, the bad ones reported by row.
  const csv = [
    'email,locale,time_zone,cadence,topics,consent_source,consent_confirmed_at,attr.company',
    'ben@example.com,en,Europe/London,weekly,trade-fairs;offers,form,2026-03-01T10:15:00Z,Acme Ltd',
    'carla@example.de,de,Europe/Berlin,biweekly,offers,,,Kunz GmbH',
    'not-an-address,de,Europe/Berlin,weekly,offers,,,',
    'dora@example.at,de,Mars/Olympus,weekly,offers,,,',
    '',
  ].join('\n');
  const imported = ok(
    'import',
    await client.POST('/v1/subscribers/import', { body: csv, headers: { 'Content-Type': 'text/csv' }, bodySerializer: (body) => body }),
  );
  check(imported.created === 2 && imported.rejected === 2, 'two rows stored, two refused');
  check(imported.errors.map((e) => `${e.row}:${e.field}`).join(',') === '3:email,4:timeZone', 'the bad rows are named by number and field');

  // 4. Look around: who is confirmed for a topic (keyset-paged).
  const offers = ok('offers list', await client.GET('/v1/subscribers', { params: { query: { topic: 'offers' } } }));
  check(offers.items.map((s) => s.email).join() === 'ben@example.com', 'only Ben is confirmed for offers (Carla is pending)');

  // 5. Two campaigns on one topic: the first goes now, the second is folded into each reader's next digest.
  const content = (en: string, de: string) => ({ subject: { en, de }, body: { en: `<p>${en}.</p>`, de: `<p>${de}.</p>` } });
  const firstDraft = ok(
    'first campaign',
    await client.POST('/v1/campaigns', {
      body: { name: 'Fair moved', topic: 'trade-fairs', ...content('The Aufschwung fair moves to June', 'Die Aufschwung-Messe zieht in den Juni') },
    }),
  );
  const secondDraft = ok(
    'second campaign',
    await client.POST('/v1/campaigns', {
      body: { name: 'Fair goes digital', topic: 'trade-fairs', ...content('The Aufschwung fair goes digital', 'Die Aufschwung-Messe wird digital') },
    }),
  );
  ok('schedule first', await client.POST('/v1/campaigns/{id}/schedule', { params: { path: { id: firstDraft.id } }, body: {} }));
  await options.runScheduler();
  const first = {
    campaign: ok('first', await client.GET('/v1/campaigns/{id}', { params: { path: { id: firstDraft.id } } })),
    stats: ok('first stats', await client.GET('/v1/campaigns/{id}/stats', { params: { path: { id: firstDraft.id } } })),
  };
  check(first.stats.byStatus.sent === 2, 'the first campaign went to Anna and Ben');
  check(first.campaign.progress?.sent === 2 && first.campaign.progress.percentDone === 100, 'its progress says both mails were handed over');

  // The dry run says who would get the second now, later (and when), or never, and why.
  const audience = ok('audience', await client.GET('/v1/campaigns/{id}/audience', { params: { path: { id: secondDraft.id } } }));
  check(audience.now === 0 && audience.later === 2 && audience.firstDigestAt !== null, 'the second would wait for the next digests');
  check(
    audience.byReason.every((r) => r.reason === 'deferred_cadence'),
    'because of the cadence',
  );

  ok('schedule second', await client.POST('/v1/campaigns/{id}/schedule', { params: { path: { id: secondDraft.id } }, body: {} }));
  await options.runScheduler();
  const second = {
    audience,
    campaign: ok('second', await client.GET('/v1/campaigns/{id}', { params: { path: { id: secondDraft.id } } })),
    stats: ok('second stats', await client.GET('/v1/campaigns/{id}/stats', { params: { path: { id: secondDraft.id } } })),
  };
  check(second.stats.byReason.deferred_cadence === 2, 'both readers have it deferred into their digest');

  // Anna's timeline: the decision, its reason in words, and the date of her next digest.
  const timeline = ok('timeline', await client.GET('/v1/subscribers/{id}/timeline', { params: { path: { id: anna.id } } }));
  const deferred = timeline.items.find((item) => item.refId === secondDraft.id);
  check(deferred?.status === 'deferred' && deferred.reason === 'deferred_cadence', 'the timeline shows the deferral');
  check(deferred?.nextAttemptAt === timeline.nextDigestAt, 'with the date of her next digest');
  return { topics, anna, invalid, imported, offers, first, second, deferred: deferred!, timeline };
}
