// What every parsed body is checked for, whatever its media type: strings PostgreSQL cannot hold
// and keys that are never fields, each named by its path.
import { Readable } from 'node:stream';
import { formFields, multipartFields, unsafeJsonProblems } from '../../src/common/body-parsers';
import { DomainException } from '../../src/common/problem';

const json = (text: string) => JSON.parse(text) as unknown;

describe('unsafeJsonProblems', () => {
  it('names every lone surrogate and NUL, in values and in keys, with its path', () => {
    const body = json('{"email":"a\\ud800@example.com","items":[{"name":"ok"},{"name":"x\\udc00"}],"attributes":{"a\\u0000b":"1"},"emoji":"\\ud83d\\ude00"}');
    expect(unsafeJsonProblems(body)).toEqual([
      { field: 'email', message: 'must not contain a lone UTF-16 surrogate (not valid Unicode text)' },
      { field: 'items[1].name', message: 'must not contain a lone UTF-16 surrogate (not valid Unicode text)' },
      { field: 'attributes.a\u0000b', message: 'must not contain NUL characters' },
    ]);
  });

  it('refuses __proto__, constructor and prototype as unknown fields at any depth', () => {
    const body = json('{"__proto__":{"admin":true},"consent":{"constructor":{"x":1}},"attributes":{"prototype":1},"rows":[{"__proto__":1}]}');
    expect(unsafeJsonProblems(body).map((p) => p.field)).toEqual(['__proto__', 'consent.constructor', 'attributes.prototype', 'rows[0].__proto__']);
    expect(unsafeJsonProblems(body).every((p) => p.message === 'is not a known field')).toBe(true);
  });
});

describe('form bodies', () => {
  it('keep a __proto__ field as a field (no prototype to replace), so it is refused like any other', () => {
    const fields = formFields('csrf=x&__proto__=y&topics=a&topics=b');
    expect(Object.getPrototypeOf(fields)).toBeNull();
    expect({ ...fields }).toEqual({ csrf: 'x', ['__proto__']: 'y', topics: ['a', 'b'] });
    expect(unsafeJsonProblems(fields)).toEqual([{ field: '__proto__', message: 'is not a known field' }]);
  });
});

describe('multipartFields', () => {
  const headers = { 'content-type': 'multipart/form-data; boundary=b' };
  const read = (body: string, h: Record<string, string> = headers) => multipartFields(h, Readable.from([Buffer.from(body, 'latin1')]));

  it('reads the one-click field', async () => {
    await expect(read('--b\r\nContent-Disposition: form-data; name="List-Unsubscribe"\r\n\r\nOne-Click\r\n--b--\r\n')).resolves.toEqual(
      Object.assign(Object.create(null), { 'List-Unsubscribe': 'One-Click' }),
    );
  });

  it.each([
    ['no boundary', { 'content-type': 'multipart/form-data' }, 'x'],
    ['a body that ends in a part', headers, '--b\r\nContent-Disposition: form-data; name="a"\r\n\r\nvalue'],
    ['a file', headers, '--b\r\nContent-Disposition: form-data; name="f"; filename="a.txt"\r\n\r\nhello\r\n--b--\r\n'],
    ['a field over 1 kB', headers, `--b\r\nContent-Disposition: form-data; name="a"\r\n\r\n${'x'.repeat(1025)}\r\n--b--\r\n`],
  ])('refuses %s with a 400', async (_name, h, body) => {
    const error = await read(body, h as Record<string, string>).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(DomainException);
    expect((error as DomainException).status).toBe(400);
  });
});
