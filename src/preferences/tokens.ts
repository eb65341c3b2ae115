// Signed links for customers: HMAC-SHA256 over (purpose, subscriber id) with the server secret.
// They carry a key id so secrets can be rotated, never expire (RFC 8058 wants unsubscribe links
// to keep working), and a token for one purpose or subscriber is useless for another.
import { Inject, Injectable } from '@nestjs/common';
import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import { APP_CONFIG, AppConfig } from '../config/config';

export type TokenPurpose = 'confirm' | 'preferences' | 'unsubscribe' | 'feedback';

const PURPOSE_BYTE: Record<TokenPurpose, number> = { confirm: 1, preferences: 2, unsubscribe: 3, feedback: 4 };
const BYTE_PURPOSE = new Map(Object.entries(PURPOSE_BYTE).map(([p, b]) => [b, p as TokenPurpose]));
const UUID_HEX = /^[0-9a-f]{32}$/;

export const keyIdOf = (secret: string): string => createHash('sha256').update(secret).digest('base64url').slice(0, 4);

export class TokenSigner {
  private readonly keys: Map<string, string>;
  private readonly current: { id: string; secret: string };

  /** The first secret signs; the others (older ones during a rotation) still verify. */
  constructor(secrets: string[]) {
    this.current = { id: keyIdOf(secrets[0]), secret: secrets[0] };
    this.keys = new Map(secrets.map((s) => [keyIdOf(s), s]));
  }

  sign(purpose: TokenPurpose, subscriberId: string): string {
    const payload = Buffer.concat([Buffer.from([PURPOSE_BYTE[purpose]]), Buffer.from(subscriberId.replace(/-/g, ''), 'hex')]);
    const body = payload.toString('base64url');
    return `${this.current.id}.${body}.${this.mac(this.current.secret, this.current.id, body)}`;
  }

  /** The subscriber id, or null for anything forged, truncated or meant for another purpose. */
  verify(purpose: TokenPurpose, token: string): string | null {
    const parts = token.split('.');
    if (parts.length !== 3 || token.length > 100) return null;
    const [keyId, body, signature] = parts;
    const secret = this.keys.get(keyId);
    if (!secret) return null;
    const expected = Buffer.from(this.mac(secret, keyId, body));
    const given = Buffer.from(signature);
    if (expected.length !== given.length || !timingSafeEqual(expected, given)) return null;
    const payload = Buffer.from(body, 'base64url');
    if (payload.length !== 17 || BYTE_PURPOSE.get(payload[0]) !== purpose) return null;
    const hex = payload.subarray(1).toString('hex');
    if (!UUID_HEX.test(hex)) return null;
    return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
  }

  private mac(secret: string, keyId: string, body: string): string {
    return createHmac('sha256', secret).update(`${keyId}.${body}`).digest('base64url').slice(0, 27);
  }
}

@Injectable()
export class TokenService extends TokenSigner {
  constructor(@Inject(APP_CONFIG) private readonly config: AppConfig) {
    super([config.tokenSecret]);
  }

  url(purpose: TokenPurpose, subscriberId: string): string {
    const path = { confirm: 'confirm', preferences: 'p', unsubscribe: 'u', feedback: 'f' }[purpose];
    return `${this.config.publicUrl}/${path}/${this.sign(purpose, subscriberId)}`;
  }
}
