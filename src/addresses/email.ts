// Email addresses as Tactful compares and stores them: the normalised form, its hash (all an
// erased person leaves behind), the domain a Message-ID names, the Reply-To a sender gets.
import { createHash } from 'node:crypto';
import type { AppConfig } from '../config/config';

export const normalizeEmail = (email: string): string => email.trim().toLowerCase();

/** The suppression list keeps only this hash of an erased address. */
export const emailHash = (email: string): Buffer => createHash('sha256').update(normalizeEmail(email), 'utf8').digest();

export function mailDomain(address: string): string {
  const match = /@([^>\s]+)>?\s*$/.exec(address);
  return (match?.[1] ?? 'localhost').toLowerCase();
}

/** The Reply-To mailbox for mail from `sender`: its own from SENDER_REPLY_TO, else REPLY_TO. */
export function replyToFor(config: Pick<AppConfig, 'replyTo' | 'senderReplyTo'>, sender: string | null): string {
  return (sender !== null && Object.hasOwn(config.senderReplyTo, sender) ? config.senderReplyTo[sender] : undefined) ?? config.replyTo;
}
