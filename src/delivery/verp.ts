// VERP: every mail's envelope sender (Return-Path) is an address of its own on the bounce domain,
// `bounces+<token>@<bounce domain>`, so an asynchronous bounce names the delivery it is about even
// when the returned message is cut off or rewritten. The token is the delivery's id and creation
// time under a truncated HMAC; it is lower-case hex because some MTAs lower-case local parts.
// Pure: no I/O. The token secret's key id is not embedded; verification tries every secret.
import { createHmac, timingSafeEqual } from 'node:crypto';

/** What a bounce address says: the delivery, as the outbox knows it. */
export interface VerpClaims {
  deliveryId: string;
  /** Whole seconds: lets a time-partitioned log find the row without scanning every partition. */
  createdAt: Date;
}

const PREFIX = 'bounces';
const MAC_BYTES = 8;
const TOKEN = /^[0-9a-f]{40}$/;

export class VerpCodec {
  /** `secrets`: the current one first, then retired ones still accepted during a rotation. */
  constructor(
    private readonly secrets: readonly string[],
    readonly bounceDomain: string,
  ) {
    if (secrets.length === 0) throw new Error('VerpCodec needs at least one secret');
  }

  /** The envelope sender for one delivery: `bounces+<40 hex>@<bounce domain>`. */
  address(claims: VerpClaims): string {
    return `${PREFIX}+${this.token(claims)}@${this.bounceDomain}`;
  }

  token(claims: VerpClaims): string {
    const payload = Buffer.alloc(12);
    payload.writeBigUInt64BE(BigInt(claims.deliveryId), 0);
    payload.writeUInt32BE(Math.floor(claims.createdAt.getTime() / 1000) >>> 0, 8);
    return Buffer.concat([payload, this.mac(this.secrets[0], payload)]).toString('hex');
  }

  /**
   * The claims of a bounce address (or of its bare token), or null for anything we did not sign:
   * another domain, a forged or truncated token, a plain address. Case-insensitive.
   */
  verify(addressOrToken: string): VerpClaims | null {
    const value = addressOrToken.trim().toLowerCase().replace(/^<|>$/g, '');
    let token = value;
    if (value.includes('@')) {
      const at = value.lastIndexOf('@');
      const local = value.slice(0, at);
      if (value.slice(at + 1) !== this.bounceDomain.toLowerCase() || !local.startsWith(`${PREFIX}+`)) return null;
      token = local.slice(PREFIX.length + 1);
    }
    if (!TOKEN.test(token)) return null;
    const raw = Buffer.from(token, 'hex');
    const payload = raw.subarray(0, 12);
    const given = raw.subarray(12);
    if (!this.secrets.some((secret) => timingSafeEqual(this.mac(secret, payload), given))) return null;
    return {
      deliveryId: payload.readBigUInt64BE(0).toString(),
      createdAt: new Date(payload.readUInt32BE(8) * 1000),
    };
  }

  private mac(secret: string, payload: Buffer): Buffer {
    return createHmac('sha256', secret).update('verp:').update(payload).digest().subarray(0, MAC_BYTES);
  }
}
