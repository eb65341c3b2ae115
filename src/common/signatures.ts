// Webhook signatures: `X-Tactful-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<raw body>">`.
// The timestamp bounds replays to a short window; the event id (stored) stops replays inside it.
import { createHmac, timingSafeEqual } from 'node:crypto';

export const SIGNATURE_HEADER = 'x-tactful-signature';
export const SIGNATURE_TOLERANCE_SECONDS = 300;

export function signWebhook(secret: string, rawBody: string, timestampSeconds: number): string {
  const mac = createHmac('sha256', secret).update(`${timestampSeconds}.${rawBody}`).digest('hex');
  return `t=${timestampSeconds},v1=${mac}`;
}

export type SignatureCheck = { ok: true } | { ok: false; reason: string };

/** `secrets`: the current one first, then retired ones still accepted during a rotation. */
export function verifyWebhook(secrets: string | readonly string[], header: string | undefined, rawBody: string, now: Date): SignatureCheck {
  if (!header) return { ok: false, reason: `missing ${SIGNATURE_HEADER} header` };
  const parts = Object.fromEntries(header.split(',').map((p) => p.trim().split('=', 2) as [string, string]));
  const timestamp = Number(parts.t);
  if (!Number.isInteger(timestamp) || !/^[0-9a-f]{64}$/.test(parts.v1 ?? '')) return { ok: false, reason: 'malformed signature header' };
  if (Math.abs(now.getTime() / 1000 - timestamp) > SIGNATURE_TOLERANCE_SECONDS) {
    return { ok: false, reason: `timestamp outside the ${SIGNATURE_TOLERANCE_SECONDS} s window (replay or clock skew)` };
  }
  const given = Buffer.from(parts.v1, 'hex');
  const matches = (secret: string) => timingSafeEqual(Buffer.from(signWebhook(secret, rawBody, timestamp).split('v1=')[1], 'hex'), given);
  if (!(typeof secrets === 'string' ? [secrets] : secrets).some(matches)) return { ok: false, reason: 'signature does not match' };
  return { ok: true };
}
