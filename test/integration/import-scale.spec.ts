// 100,000 subscribers in one streamed CSV request: every good row stored, every bad row reported by number.
import { Readable } from 'node:stream';
import { Client } from 'pg';
import { startTestApp, TestApp } from '../support/app';

const ROWS = 100_000;
/** 1-based data rows that are broken on purpose, spread over batch boundaries (the importer writes 5,000 at a time). */
const BAD = new Map<number, string>([
  [1, 'email'],
  [5_000, 'timeZone'],
  [5_001, 'topics[1]'],
  [54_321, 'cadence'],
  [ROWS, 'email'],
]);

let t: TestApp;

beforeAll(async () => {
  t = await startTestApp();
  for (const key of ['trade-fairs', 'offers']) {
    expect((await t.api('POST', '/v1/topics', { body: { key, nameDe: key, nameEn: key } })).status).toBe(201);
  }
});
afterAll(() => t.close());

async function sql(text: string): Promise<any[]> {
  const client = new Client({ connectionString: t.db.url });
  await client.connect();
  try {
    return (await client.query(text)).rows;
  } finally {
    await client.end();
  }
}

/** The CSV, generated lazily in chunks so neither side ever holds it whole. */
function* csv(cadence: string): Generator<string> {
  yield 'email,locale,time_zone,cadence,topics,consent_source,consent_confirmed_at,attr.company,attr.row\n';
  let chunk = '';
  for (let row = 1; row <= ROWS; row++) {
    const field = BAD.get(row);
    const email = field === 'email' ? `broken-${row}` : `bulk${row}@example.com`;
    const zone = field === 'timeZone' ? 'Mars/Olympus' : row % 3 ? 'Europe/Berlin' : 'Europe/Vienna';
    const rowCadence = field === 'cadence' ? 'daily' : cadence;
    const topics = field === 'topics[1]' ? 'offers;no-such-topic' : row % 2 ? 'trade-fairs;offers' : 'offers';
    // Every tenth person brings confirmed consent evidence; the rest start pending (double opt-in).
    const consent = row % 10 === 0 ? 'form,2026-01-02T09:00:00Z' : ',';
    chunk += `${email},${row % 4 ? 'de' : 'en'},${zone},${rowCadence},${topics},${consent},"Firma ${row}, GmbH",${row}\n`;
    if (row % 2_000 === 0) {
      yield chunk;
      chunk = '';
    }
  }
  if (chunk) yield chunk;
}

async function postCsv(cadence = 'weekly'): Promise<{ status: number; body: any; ms: number }> {
  const started = Date.now();
  const res = await fetch(`${t.baseUrl}/v1/subscribers/import`, {
    method: 'POST',
    headers: { authorization: `Bearer ${t.adminKey}`, 'content-type': 'text/csv' },
    body: Readable.toWeb(Readable.from(csv(cadence))) as ReadableStream,
    duplex: 'half',
  } as RequestInit);
  const body = await res.json();
  return { status: res.status, body, ms: Date.now() - started };
}

describe('import at scale', () => {
  it(`stores ${ROWS.toLocaleString('en')} streamed CSV rows and reports exactly the bad ones`, async () => {
    const { status, body, ms } = await postCsv();
    process.stdout.write(`import of ${ROWS} CSV rows (chunked upload): ${ms} ms, ${Math.round(ROWS / (ms / 1000))} rows/s\n`);

    expect(status).toBe(200);
    expect(body).toMatchObject({
      atomic: false,
      applied: true,
      received: ROWS,
      created: ROWS - BAD.size,
      updated: 0,
      rejected: BAD.size,
      errorsTruncated: false,
    });
    expect(body.errors.map((e: { row: number; field: string }) => [e.row, e.field])).toEqual([...BAD.entries()]);

    const [counts] = await sql(`
      SELECT count(*)::int AS subscribers,
             count(*) FILTER (WHERE status = 'active')::int AS active,
             count(*) FILTER (WHERE status = 'pending')::int AS pending,
             count(*) FILTER (WHERE locale = 'en')::int AS english
      FROM subscribers WHERE email LIKE 'bulk%@example.com'`);
    const good = [...Array(ROWS).keys()].map((i) => i + 1).filter((row) => !BAD.has(row));
    expect(counts).toEqual({
      subscribers: good.length,
      active: good.filter((row) => row % 10 === 0).length,
      pending: good.filter((row) => row % 10 !== 0).length,
      english: good.filter((row) => row % 4 === 0).length,
    });

    const [consent] = await sql(`
      SELECT count(*)::int AS records,
             count(*) FILTER (WHERE ts.status = 'confirmed')::int AS confirmed,
             count(*) FILTER (WHERE ts.consent_source = 'import')::int AS from_import
      FROM topic_subscriptions ts JOIN subscribers s ON s.id = ts.subscriber_id WHERE s.email LIKE 'bulk%@example.com'`);
    const topicCount = (row: number) => (row % 2 ? 2 : 1);
    expect(consent).toEqual({
      records: good.reduce((n, row) => n + topicCount(row), 0),
      confirmed: good.filter((row) => row % 10 === 0).reduce((n, row) => n + topicCount(row), 0),
      from_import: good.filter((row) => row % 10 !== 0).reduce((n, row) => n + topicCount(row), 0),
    });

    const [sample] = await sql(`SELECT time_zone, cadence, attributes FROM subscribers WHERE email = 'bulk99998@example.com'`);
    expect(sample).toEqual({ time_zone: 'Europe/Berlin', cadence: 'weekly', attributes: { company: 'Firma 99998, GmbH', row: '99998' } });
  }, 180_000);
});
