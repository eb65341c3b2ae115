// The X-Tactful-Delivery header: which delivery a mail is, for support and for tests, without
// telling its recipient anything. Delivery ids are sequential, so the raw id showed how much mail
// goes out and let anyone guess the ids of other people's mails. The reference is the id
// enciphered under a key derived from TOKEN_SECRET: AES-256 over one 16-byte block holding the
// 8-byte id and 8 zero check bytes. One block under a block cipher is a keyed permutation, so
// references look random, only the secret's holder reads them back, and a made-up one fails the
// check (all but 2^-64 of them).
import { Cipher, createCipheriv, createDecipheriv, createHmac } from 'node:crypto';

const keyFor = (secret: string): Buffer => createHmac('sha256', secret).update('tactful:delivery-reference').digest();

export class DeliveryReferences {
  private readonly keys: Buffer[];
  /**
   * One cipher for every reference, never finalised: ECB enciphers each whole 16-byte block on
   * its own as `update` takes it, so a block in gives its block out, with no state carried over
   * (a cipher per mail cost more than the enciphering).
   */
  private readonly encoder: Cipher;

  /** The first secret encodes; the others (retired during a rotation) still decode. */
  constructor(secrets: string[]) {
    this.keys = secrets.map(keyFor);
    this.encoder = createCipheriv('aes-256-ecb', this.keys[0], null).setAutoPadding(false);
  }

  encode(deliveryId: string | bigint): string {
    const block = Buffer.alloc(16);
    block.writeBigUInt64BE(BigInt(deliveryId), 0);
    const sealed = this.encoder.update(block);
    if (sealed.length !== 16) throw new Error('delivery reference: the cipher held a block back');
    return sealed.toString('base64url');
  }

  /** The delivery id, or null for anything this service did not issue. */
  decode(reference: string): string | null {
    const sealed = /^[A-Za-z0-9_-]{22}$/.test(reference) ? Buffer.from(reference, 'base64url') : null;
    if (!sealed || sealed.length !== 16) return null;
    for (const key of this.keys) {
      const decipher = createDecipheriv('aes-256-ecb', key, null).setAutoPadding(false);
      const block = Buffer.concat([decipher.update(sealed), decipher.final()]);
      if (block.readBigUInt64BE(8) === 0n) return block.readBigUInt64BE(0).toString();
    }
    return null;
  }
}
