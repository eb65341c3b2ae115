// Addresses no path may turn into a person again, or mail, without fresh consent: people erased
// under GDPR (`suppressions`) and addresses without a subscriber that hard-bounced or complained
// (`bounced_addresses`). Both keep only the SHA-256 of the normalised address.
import { Sql } from '../database/sql';
import { AddressQueries as Q } from './addresses.queries';
import { emailHash } from './email';

export type AddressBlockKind = 'erased' | 'bounced' | 'complained';

export interface AddressBlocks {
  /** When the person was erased, or null. */
  erasedAt: Date | null;
  /** The address hard-bounced or complained (a bounce outranks a complaint), or null. */
  bounce: 'bounced' | 'complained' | null;
}

export async function addressBlocks(tx: Sql, email: string): Promise<AddressBlocks> {
  const row = (await tx.row(Q.blocks, [emailHash(email)]))!;
  return { erasedAt: row.erased_at ?? null, bounce: row.bounce ?? null };
}

/** Whether a public form must leave this address alone (create nothing, send nothing). */
export const isBlocked = (blocks: AddressBlocks): boolean => blocks.erasedAt !== null || blocks.bounce !== null;
