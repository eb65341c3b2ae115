// The pure parts of the customer pages' defences: which bucket an address counts in, which language
// a visitor asked for, and the Content-Security-Policy built from the templates.
import type { FastifyRequest } from 'fastify';
import { createHash } from 'node:crypto';
import { addressBucket } from '../../src/pages/customer-rate-limit.guard';
import { contentSecurityPolicy, requestLocale } from '../../src/pages/page-renderer';

describe('addressBucket', () => {
  it.each([
    ['203.0.113.7', '203.0.113.7'],
    ['::ffff:203.0.113.7', '203.0.113.7'],
    ['2001:db8:85a3:0042:1000:8a2e:0370:7334', '2001:db8:85a3:42::/64'],
    ['2001:db8:85a3:42::1', '2001:db8:85a3:42::/64'],
    ['2001:DB8:85A3:42:ffff::9', '2001:db8:85a3:42::/64'],
    ['2001:db8::1', '2001:db8:0:0::/64'],
    ['::1', '0:0:0:0::/64'],
  ])('counts %s in the bucket %s (IPv6 by its /64)', (ip, bucket) => {
    expect(addressBucket(ip)).toBe(bucket);
  });
});

describe('requestLocale', () => {
  const request = (query: unknown, headers: Record<string, string> = {}, body?: unknown) => ({ query, headers, body }) as unknown as FastifyRequest;

  it.each([
    [{ lang: 'en' }, { 'accept-language': 'de-DE' }, undefined, 'en'],
    [{}, {}, { lang: 'en' }, 'en'],
    [{ lang: 'fr' }, { 'accept-language': 'fr-FR, en;q=0.8, de;q=0.9' }, undefined, 'de'],
    [{}, { 'accept-language': 'en-GB,en;q=0.9,de;q=0.8' }, undefined, 'en'],
    [{}, { 'accept-language': 'de;q=0, en;q=0.1' }, undefined, 'en'],
    [{}, { 'accept-language': 'fr, es' }, undefined, 'de'],
    [{}, {}, undefined, 'de'],
  ])('picks the language from ?lang %j, Accept-Language %j, form %j: %s', (query, headers, body, expected) => {
    expect(requestLocale(request(query, headers, body), 'de')).toBe(expected);
  });
});

describe('contentSecurityPolicy', () => {
  it('allows each inline block by its SHA-256 and nothing inline else', () => {
    const csp = contentSecurityPolicy(['<style>p{}</style>', '<p>x</p><script>1</script>']);
    expect(csp).toContain(`style-src 'sha256-${createHash('sha256').update('p{}').digest('base64')}'`);
    expect(csp).toMatch(/script-src 'sha256-[A-Za-z0-9+/=]+'/);
    expect(csp).toContain("frame-ancestors 'none'");
    expect(csp).not.toContain('unsafe-inline');
  });

  it('refuses a block that holds a template expression (its hash could never match)', () => {
    expect(() => contentSecurityPolicy(['<style>p { color: {{color}} }</style>'])).toThrow(/template expression/);
  });
});
