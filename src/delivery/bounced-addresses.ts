// Hard bounces and complaints of addresses that have no subscriber row (shop customers who only
// get order and shipment mail). Subscribers carry this in their status; these addresses are
// remembered as hashes so their next order's mails are suppressed instead of bouncing again.
import { addressBlocks } from '../addresses/address-blocks';
import { emailHash } from '../addresses/email';
import type { Sql } from '../database/sql';
import { MessageClass, Reason } from '../reasons/reason-codes';
import { DeliveryQueries as Q } from './delivery.queries';

export type AddressBlock = 'bounced' | 'complained';

/** Marks the subscriber bounced, or, without one, remembers the address. */
export async function recordHardBounce(tx: Sql, target: { subscriberId: string | null; email: string }, response: string, now: Date): Promise<void> {
  if (target.subscriberId) {
    await tx.run(Q.markSubscriberBounced, [target.subscriberId, now]);
    return;
  }
  await blockAddress(tx, target.email, 'bounced', response, now);
}

/** A bounce outranks a complaint (nothing can reach the address at all). */
export async function blockAddress(tx: Sql, email: string, reason: AddressBlock, response: string | null, now: Date): Promise<void> {
  await tx.run(Q.blockAddress, [emailHash(email), reason, response, now]);
}

/**
 * At hand-over, for mail to an address without a subscriber: nothing goes to an address that
 * hard-bounced; after a complaint only transactional mail does (as for a complained subscriber);
 * to an erased person's address too only transactional mail goes (the receipt of an order they
 * placed since), never a test send or any other service mail.
 */
export async function addressVerdict(tx: Sql, email: string, messageClass: MessageClass): Promise<Reason | null> {
  const blocks = await addressBlocks(tx, email);
  if (blocks.bounce === 'bounced') return Reason.SuppressedBounced;
  if (messageClass === 'transactional') return null;
  if (blocks.erasedAt) return Reason.SuppressedErased;
  return blocks.bounce === 'complained' ? Reason.SuppressedComplained : null;
}
