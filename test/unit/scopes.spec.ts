// An API key reaches a route when it holds one of the route's scopes, or admin.
import fc from 'fast-check';
import { Scope, SCOPES, scopesAllow } from '../../src/auth/scopes';

describe('scopesAllow', () => {
  it('lets admin through everywhere', () => {
    for (const scope of SCOPES) expect(scopesAllow(['admin'], [scope])).toBe(true);
    expect(scopesAllow(['admin'], [])).toBe(true);
  });

  it('lets a key through when it holds any one of the required scopes', () => {
    expect(scopesAllow(['read'], ['read', 'subscribers:write'])).toBe(true);
    expect(scopesAllow(['subscribers:write'], ['read', 'subscribers:write'])).toBe(true);
  });

  it('refuses a key that holds none of them', () => {
    expect(scopesAllow(['topics:write'], ['subscribers:write'])).toBe(false);
    expect(scopesAllow(['read'], ['admin'])).toBe(false);
    expect(scopesAllow([], ['read'])).toBe(false);
  });

  it('refuses everyone but admin on a route that requires nothing listed', () => {
    expect(scopesAllow(['read', 'topics:write'], [])).toBe(false);
  });

  it('does not treat unknown or look-alike scope strings as grants', () => {
    expect(scopesAllow(['Admin', 'admin '], ['read'])).toBe(false);
    expect(scopesAllow(['topics:*'], ['topics:write'])).toBe(false);
  });

  it('allows exactly when admin is granted or the sets intersect', () => {
    const scopes = fc.subarray([...SCOPES]);
    fc.assert(
      fc.property(scopes, scopes, (granted, required) => {
        const expected = granted.includes('admin') || required.some((s: Scope) => granted.includes(s));
        expect(scopesAllow(granted, required)).toBe(expected);
      }),
    );
  });
});
