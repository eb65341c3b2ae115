// Signed links for customers: HMAC-SHA256 over (purpose, subscriber id) with the server secret.
// They carry a key id so secrets can be rotated, never expire (RFC 8058 wants unsubscribe links
// to keep working), and a token for one purpose or subscriber is useless for another.
//
// Format: `<key id>.<base64url payload>.<base64url mac>`, the mac over `<key id>.<payload>`.
// Subscriber tokens: payload = purpose byte + 16-byte subscriber uuid (17 bytes).
// Item tokens (feedback links): payload = purpose byte + 16-byte subscriber uuid + item-kind byte
// + 16-byte item uuid (34 bytes), so one link binds one customer to one item: a campaign, a
// digest item, or a topic (the "drop this topic?" question). The lengths differ, so neither
// kind verifies as the other.
//
// Previews and test sends carry PREVIEW_TOKEN instead: a fixed word with no signature, which no
// page accepts as anyone's link (the pages answer it with "this is a preview link").
import { Inject, Injectable } from '@nestjs/common';
import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import { APP_CONFIG, AppConfig } from '../config/config';

/**
 * 'webinar' signs a webinar registration id (the self-service unregister link), not a subscriber
 * id; 'webinar_confirm' a webinar registration request id (the double opt-in link of the public
 * form); 'webinar_register' a subscriber id, for a personal registration link that registers its
 * holder without the double opt-in (they hold a link mailed to them).
 */
export type TokenPurpose = 'confirm' | 'preferences' | 'unsubscribe' | 'feedback' | 'webinar' | 'webinar_confirm' | 'webinar_register';

const PURPOSE_BYTE: Record<TokenPurpose, number> = {
  confirm: 1,
  preferences: 2,
  unsubscribe: 3,
  feedback: 4,
  webinar: 5,
  webinar_confirm: 6,
  webinar_register: 7,
};
const BYTE_PURPOSE = new Map(Object.entries(PURPOSE_BYTE).map(([p, b]) => [b, p as TokenPurpose]));
const UUID_HEX = /^[0-9a-f]{32}$/;

/** What a feedback link is about. */
export type ItemKind = 'campaign' | 'digest_item' | 'topic';
const ITEM_BYTE: Record<ItemKind, number> = { campaign: 1, digest_item: 2, topic: 3 };
const BYTE_ITEM = new Map(Object.entries(ITEM_BYTE).map(([k, b]) => [b, k as ItemKind]));

export interface ItemTokenClaims {
  subscriberId: string;
  kind: ItemKind;
  itemId: string;
}

const uuidBytes = (id: string): Buffer => Buffer.from(id.replace(/-/g, ''), 'hex');
const uuidOf = (hex: string): string => `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;

/**
 * The token in every link of a preview or test send. Not a signed token (it has no dots), so it can
 * never verify, whatever the purpose: a read-only key that previews a mail "for" a subscriber gets
 * links that change nothing.
 */
export const PREVIEW_TOKEN = 'preview';

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
    return this.seal(Buffer.concat([Buffer.from([PURPOSE_BYTE[purpose]]), uuidBytes(subscriberId)]));
  }

  /** The subscriber id, or null for anything forged, truncated or meant for another purpose. */
  verify(purpose: TokenPurpose, token: string): string | null {
    const payload = this.open(token);
    if (!payload || payload.length !== 17 || BYTE_PURPOSE.get(payload[0]) !== purpose) return null;
    const hex = payload.subarray(1).toString('hex');
    return UUID_HEX.test(hex) ? uuidOf(hex) : null;
  }

  /** A feedback link: binds the subscriber and the item (purpose byte 'feedback'). */
  signItem(subscriberId: string, kind: ItemKind, itemId: string): string {
    return this.seal(Buffer.concat([Buffer.from([PURPOSE_BYTE.feedback]), uuidBytes(subscriberId), Buffer.from([ITEM_BYTE[kind]]), uuidBytes(itemId)]));
  }

  /** The subscriber and the item, or null for anything forged, truncated or not a feedback link. */
  verifyItem(token: string): ItemTokenClaims | null {
    const payload = this.open(token);
    if (!payload || payload.length !== 34 || payload[0] !== PURPOSE_BYTE.feedback) return null;
    const kind = BYTE_ITEM.get(payload[17]);
    const subscriber = payload.subarray(1, 17).toString('hex');
    const item = payload.subarray(18).toString('hex');
    if (!kind || !UUID_HEX.test(subscriber) || !UUID_HEX.test(item)) return null;
    return { subscriberId: uuidOf(subscriber), kind, itemId: uuidOf(item) };
  }

  /**
   * Whether we signed this token, for whatever purpose and whoever: the rate limit lets every
   * genuine link through and counts only the rest (guesses, typos, truncated links).
   */
  isGenuine(token: string): boolean {
    return this.open(token) !== null;
  }

  private seal(payload: Buffer): string {
    const body = payload.toString('base64url');
    return `${this.current.id}.${body}.${this.mac(this.current.secret, this.current.id, body)}`;
  }

  /** The signed payload, or null when the signature does not hold. */
  private open(token: string): Buffer | null {
    const parts = token.split('.');
    if (parts.length !== 3 || token.length > 100) return null;
    const [keyId, body, signature] = parts;
    const secret = this.keys.get(keyId);
    if (!secret) return null;
    const expected = Buffer.from(this.mac(secret, keyId, body));
    const given = Buffer.from(signature);
    if (expected.length !== given.length || !timingSafeEqual(expected, given)) return null;
    return Buffer.from(body, 'base64url');
  }

  private mac(secret: string, keyId: string, body: string): string {
    return createHmac('sha256', secret).update(`${keyId}.${body}`).digest('base64url').slice(0, 27);
  }
}

/** The purposes whose page is `/<path>/<token>`; the webinar links also name the webinar (src/webinars). */
type PagePurpose = Exclude<TokenPurpose, 'webinar_confirm' | 'webinar_register'>;
const PATHS: Record<PagePurpose, string> = { confirm: 'confirm', preferences: 'p', unsubscribe: 'u', feedback: 'f', webinar: 'webinars/unregister' };

@Injectable()
export class TokenService extends TokenSigner {
  constructor(@Inject(APP_CONFIG) private readonly config: AppConfig) {
    super([config.tokenSecret, ...config.previousTokenSecrets]);
  }

  url(purpose: PagePurpose, subscriberId: string): string {
    return this.urlOfToken(purpose, this.sign(purpose, subscriberId));
  }

  /** The page's link for a token signed for `purpose` (one a mail also needs on its own: a HMAC fewer). */
  urlOfToken(purpose: PagePurpose, token: string): string {
    return `${this.config.publicUrl}/${PATHS[purpose]}/${token}`;
  }

  /** The inert link a preview or test send shows where a real mail has the person's own link. */
  previewUrl(purpose: 'preferences' | 'unsubscribe' | 'feedback', locale: string, preselect?: 'useful' | 'not_useful'): string {
    return `${this.config.publicUrl}/${PATHS[purpose]}/${PREVIEW_TOKEN}?lang=${locale}${preselect ? `&v=${preselect}` : ''}`;
  }

  /** `/f/<item token>`, optionally with the answer to preselect (`?v=useful|not_useful`). */
  itemUrl(subscriberId: string, kind: ItemKind, itemId: string, preselect?: 'useful' | 'not_useful'): string {
    return `${this.config.publicUrl}/f/${this.signItem(subscriberId, kind, itemId)}${preselect ? `?v=${preselect}` : ''}`;
  }
}
