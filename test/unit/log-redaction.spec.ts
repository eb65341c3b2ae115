// What may be logged: request and response shapes built from allow-lists, errors without their
// bind values or PostgreSQL's detail values, and a last pass over every line for keys, tokens and addresses.
import { withoutCustomerTokens } from '../../src/common/idempotency.interceptor';
import { redactPgDetail, redactUrl, scrubLogLine, serializeError, serializeRequest, serializeResponse } from '../../src/common/log-redaction';
import { TokenSigner } from '../../src/links/tokens';

const KEY = 'tk_8NI-L2j5gphmX0APLsIaYCCMXch2CahEhvoSDc5V';
const signer = new TokenSigner(['unit-test-token-secret-0123456789abcdef']);
const TOKEN = signer.sign('preferences', '3f2b8c1e-0000-4000-8000-000000000001');
const ITEM_TOKEN = signer.signItem('3f2b8c1e-0000-4000-8000-000000000001', 'campaign', '3f2b8c1e-0000-4000-8000-000000000002');

describe('redactUrl', () => {
  it('keeps query parameter names and drops their values unless the parameter is a harmless choice', () => {
    expect(redactUrl(`/v1/topics?api_key=${KEY}&limit=5`)).toBe('/v1/topics?api_key=[Redacted]&limit=5');
    expect(redactUrl('/v1/subscribers?email=anna%40example.com&status=active')).toBe('/v1/subscribers?email=[Redacted]&status=active');
    expect(redactUrl('/v1/subscribers?email=anna@example.com')).toBe('/v1/subscribers?email=[Redacted]');
  });

  it('drops a value that looks like a key or an address even under a harmless name, and a name that is one', () => {
    expect(redactUrl(`/p/x?lang=${KEY}`)).toBe('/p/[token]?lang=[Redacted]');
    expect(redactUrl(`/v1/topics?${KEY}`)).toBe('/v1/topics?[Redacted]');
    expect(redactUrl('/v1/topics?anna@example.com=1')).toBe('/v1/topics?[Redacted]');
  });

  it('replaces the token in the path of every customer page', () => {
    for (const path of ['/p', '/u', '/f', '/confirm', '/webinars/unregister', '/webinars/payment-terms/confirm']) {
      expect(redactUrl(`${path}/${TOKEN}?lang=en`)).toBe(`${path}/[token]?lang=en`);
    }
    expect(redactUrl(`/p/${TOKEN}/suggest`)).toBe('/p/[token]/suggest');
    // The personal registration link's token is a query value like any other.
    expect(redactUrl(`/webinars/payment-terms/register?lang=de&t=${TOKEN}`)).toBe('/webinars/payment-terms/register?lang=de&t=[Redacted]');
  });
});

describe('serializeRequest and serializeResponse', () => {
  it('logs every header by name and only harmless ones with their value', () => {
    const logged = serializeRequest({
      id: 'r1',
      method: 'GET',
      url: `/v1/topics?key=${KEY}`,
      headers: {
        authorization: `Bearer ${KEY}`,
        'x-api-key': KEY,
        'proxy-authorization': 'Basic dXNlcjpwYXNz',
        cookie: 'session=abc',
        'x-tactful-signature': 't=1,v1=ff',
        referer: `https://tactful.test/p/${TOKEN}`,
        'user-agent': 'curl/8',
        'content-type': 'application/json',
      },
      remoteAddress: '127.0.0.1',
      remotePort: 5000,
    });
    expect(logged).toEqual({
      id: 'r1',
      method: 'GET',
      url: '/v1/topics?key=[Redacted]',
      headers: {
        authorization: '[Redacted]',
        'x-api-key': '[Redacted]',
        'proxy-authorization': '[Redacted]',
        cookie: '[Redacted]',
        'x-tactful-signature': '[Redacted]',
        referer: '[Redacted]',
        'user-agent': 'curl/8',
        'content-type': 'application/json',
      },
      remoteAddress: '127.0.0.1',
      remotePort: 5000,
    });
  });

  it('keeps a redirect target without its token or query values and drops cookies', () => {
    expect(serializeResponse({ statusCode: 303, headers: { location: `https://tactful.test/p/${TOKEN}?email=a@b.de`, 'set-cookie': 'f=1' } })).toEqual({
      statusCode: 303,
      headers: { location: 'https://tactful.test/p/[token]?email=[Redacted]', 'set-cookie': '[Redacted]' },
    });
  });
});

describe('serializeError', () => {
  // What TypeORM's QueryFailedError carries for a duplicate: the bind values and PostgreSQL's detail.
  const failed = Object.assign(new Error('duplicate key value violates unique constraint "subscribers_email_key"'), {
    name: 'QueryFailedError',
    query: 'INSERT INTO subscribers (email, attributes) VALUES ($1, $2)',
    parameters: ['anna@example.com', '{"company":"Kunz GmbH"}'],
    driverError: { detail: 'Key (email)=(anna@example.com) already exists.' },
    code: '23505',
    constraint: 'subscribers_email_key',
    table: 'subscribers',
    detail: 'Key (email)=(anna@example.com) already exists.',
  });

  it('keeps codes, names and the statement text, never the bind values or the values in detail', () => {
    const logged = serializeError(failed) as Record<string, unknown>;
    expect(logged).toMatchObject({
      message: 'duplicate key value violates unique constraint "subscribers_email_key"',
      code: '23505',
      constraint: 'subscribers_email_key',
      table: 'subscribers',
      query: 'INSERT INTO subscribers (email, attributes) VALUES ($1, $2)',
      detail: 'Key (email)=([Redacted]) already exists.',
      parameters: '[2 bind values not logged]',
    });
    expect(JSON.stringify(logged)).not.toMatch(/anna@example\.com|Kunz GmbH/);
  });

  it('scrubs addresses, keys and tokens from messages, stacks and causes', () => {
    const error = new Error(`invalid input syntax for type uuid: "anna@example.com" (key ${KEY}, link /u/${TOKEN})`, {
      cause: new Error('550 5.1.1 <ben@example.org>: Recipient address rejected'),
    });
    const text = JSON.stringify(serializeError(error));
    expect(text).not.toMatch(/anna@example\.com|ben@example\.org/);
    expect(text).not.toContain(KEY);
    expect(text).not.toContain(TOKEN);
    expect(text).toContain('[email]');
  });

  it('replaces the values of a failing row, a foreign key, an exclusion and a value with parentheses in it', () => {
    expect(redactPgDetail('Failing row contains (1, anna@example.com, {"vip": true}).')).toBe('Failing row contains ([Redacted]).');
    expect(redactPgDetail('Key (subscriber_id)=(3f2b8c1e-0000-4000-8000-000000000001) is not present in table "subscribers".')).toBe(
      'Key (subscriber_id)=([Redacted]) is not present in table "subscribers".',
    );
    expect(redactPgDetail('Key (subscriber_id, during)=(3f2b8c1e, ["2026-01-01",)) conflicts with existing key (subscriber_id, during)=(3f2b8c1e, ["2026-01-01",)).')).toBe(
      'Key (subscriber_id, during)=([Redacted]) conflicts with existing key ([Redacted]).',
    );
    expect(redactPgDetail(`Key ((attributes ->> 'memberId'::text))=(M-1) is not (secret)) already exists.`)).toBe(
      `Key ((attributes ->> 'memberId'::text))=([Redacted]) already exists.`,
    );
  });
});

describe('scrubLogLine', () => {
  it('removes keys, bearer credentials, customer tokens and addresses from a written line', () => {
    const line = JSON.stringify({ msg: `Bearer ${KEY} for anna.schmidt+news@example.de at /p/${TOKEN} and /f/${ITEM_TOKEN}`, detail: 'Key (email)=(x@y.de) already exists.' });
    const scrubbed = scrubLogLine(line);
    expect(scrubbed).not.toContain(KEY);
    expect(scrubbed).not.toContain(TOKEN);
    expect(scrubbed).not.toContain(ITEM_TOKEN);
    expect(scrubbed).not.toMatch(/@example\.de|x@y\.de/);
    expect(JSON.parse(scrubbed)).toBeTruthy();
  });

  it('takes time linear in the line, also for a 200 kB header value without separators', () => {
    const line = JSON.stringify({ req: { headers: { 'user-agent': 'a'.repeat(200_000) } }, msg: 'request completed' });
    expect(scrubLogLine(line)).toBe(line);
    expect(redactPgDetail(`Key (x)=(${')=('.repeat(50_000)}) already exists.`)).toBe('Key (x)=([Redacted]) already exists.');
  });

  it('leaves ordinary text alone', () => {
    const line = '{"level":30,"msg":"campaign dispatched","campaign":"3f2b8c1e-0000-4000-8000-000000000001","decided":120}';
    expect(scrubLogLine(line)).toBe(line);
  });
});

describe('stored Idempotency-Key responses', () => {
  it('keep every field but replace each customer token', () => {
    const body = { html: `<a href="https://tactful.test/p/${TOKEN}">prefs</a>`, nested: [{ url: `https://tactful.test/f/${ITEM_TOKEN}` }], count: 3, email: 'anna@example.com' };
    expect(withoutCustomerTokens(body)).toEqual({
      html: '<a href="https://tactful.test/p/[redacted]">prefs</a>',
      nested: [{ url: 'https://tactful.test/f/[redacted]' }],
      count: 3,
      email: 'anna@example.com',
    });
  });
});
