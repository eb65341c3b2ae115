// Subscriber attributes feed audience filters: a flat map of scalars with safe keys, nothing else.
import fc from 'fast-check';
import { isAttributeMap } from '../../src/subscribers/dto/attributes.validator';

describe('isAttributeMap', () => {
  it('accepts a flat map of strings, finite numbers, booleans and null', () => {
    expect(isAttributeMap({ company: 'Bäckerei Kunz', employees: 12, vip: true, churned: null, _since: 2019, ratio: -0.5 })).toBe(true);
    expect(isAttributeMap({})).toBe(true);
  });

  it.each([
    ['null', null],
    ['an array', ['a']],
    ['a string', 'company=Acme'],
    ['a number', 4],
  ])('rejects %s', (_what, value) => {
    expect(isAttributeMap(value)).toBe(false);
  });

  it.each([
    ['a nested object', { address: { city: 'Köln' } }],
    ['an array value', { tags: ['a', 'b'] }],
    ['NaN', { score: NaN }],
    ['Infinity', { score: Infinity }],
    ['a string longer than 1000 characters', { note: 'x'.repeat(1001) }],
    ['a key with a dash', { 'first-name': 'Anna' }],
    ['a key starting with a digit', { '1st': 'Anna' }],
    ['a key with a dot (a path)', { 'a.b': 1 }],
    ['an empty key', { '': 1 }],
    ['a key longer than 64 characters', { ['k'.repeat(65)]: 1 }],
    ['more than 50 keys', Object.fromEntries(Array.from({ length: 51 }, (_, i) => [`k${i}`, i]))],
  ])('rejects %s', (_what, value) => {
    expect(isAttributeMap(value)).toBe(false);
  });

  it('accepts the limits themselves: 50 keys, 64-character keys, 1000-character strings', () => {
    expect(isAttributeMap(Object.fromEntries(Array.from({ length: 50 }, (_, i) => [`k${i}`, i])))).toBe(true);
    expect(isAttributeMap({ ['k'.repeat(64)]: 'x'.repeat(1000) })).toBe(true);
  });

  it('accepts every generated flat scalar map and rejects it once any value is an object', () => {
    const key = fc.stringMatching(/^[A-Za-z_][A-Za-z0-9_]{0,20}$/);
    const scalar = fc.oneof(fc.string({ maxLength: 50 }), fc.double({ noNaN: true, noDefaultInfinity: true }), fc.boolean(), fc.constant(null));
    fc.assert(
      fc.property(fc.dictionary(key, scalar, { maxKeys: 20 }), key, (map, nestedKey) => {
        expect(isAttributeMap(map)).toBe(true);
        expect(isAttributeMap({ ...map, [nestedKey]: { inner: 1 } })).toBe(false);
      }),
    );
  });
});
