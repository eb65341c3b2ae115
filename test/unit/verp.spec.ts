import fc from 'fast-check';
import { VerpCodec } from '../../src/delivery/verp';

const SECRET = 'verp-test-secret-0123456789abcdef0123456789';
const codec = new VerpCodec([SECRET], 'bounce.shop.example');

describe('VERP bounce addresses', () => {
  it('round-trips any delivery id and creation second, whatever the case the MTA hands back', () => {
    fc.assert(
      fc.property(fc.bigInt({ min: 1n, max: 2n ** 63n - 1n }), fc.integer({ min: 0, max: 2 ** 32 - 1 }), (id, seconds) => {
        const address = codec.address({ deliveryId: id.toString(), createdAt: new Date(seconds * 1000) });
        expect(address).toMatch(/^bounces\+[0-9a-f]{40}@bounce\.shop\.example$/);
        expect(address.split('@')[0].length).toBeLessThanOrEqual(64);
        for (const seen of [address, address.toUpperCase(), `<${address}>`]) {
          expect(codec.verify(seen)).toEqual({ deliveryId: id.toString(), createdAt: new Date(seconds * 1000) });
        }
      }),
    );
  });

  it('refuses a token with any character changed, another domain, or a plain address', () => {
    const address = codec.address({ deliveryId: '42', createdAt: new Date('2026-12-02T10:00:00Z') });
    const token = address.slice('bounces+'.length, address.indexOf('@'));
    for (let i = 0; i < token.length; i++) {
      const flipped = token.slice(0, i) + (token[i] === '0' ? '1' : '0') + token.slice(i + 1);
      expect(codec.verify(`bounces+${flipped}@bounce.shop.example`)).toBeNull();
    }
    expect(codec.verify(address.replace('bounce.shop.example', 'evil.example'))).toBeNull();
    expect(codec.verify('anna@example.de')).toBeNull();
    expect(codec.verify(`bounces+${token.slice(2)}@bounce.shop.example`)).toBeNull();
  });

  it('still verifies addresses signed with a retired secret during a rotation, and signs with the new one', () => {
    const old = codec.address({ deliveryId: '7', createdAt: new Date('2026-01-01T00:00:00Z') });
    const rotated = new VerpCodec(['verp-new-secret-0123456789abcdef0123456789ab', SECRET], 'bounce.shop.example');
    expect(rotated.verify(old)?.deliveryId).toBe('7');
    expect(new VerpCodec([SECRET], 'bounce.shop.example').verify(rotated.address({ deliveryId: '7', createdAt: new Date(0) }))).toBeNull();
  });
});
