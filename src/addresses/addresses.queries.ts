// The addresses' statements (docs/SQL.md): the lists of addresses no path may turn into a person
// again, or mail, without fresh consent.
import { queries, sql } from '../database/statements';

export const AddressQueries = queries('addresses', {
  blocks: sql<[emailHash: Buffer], { erased_at: Date | null; bounce: 'bounced' | 'complained' | null }>(
    'Both lists of blocked addresses probed by the hash in one statement (two primary-key lookups).',
    `SELECT (SELECT created_at FROM suppressions WHERE email_hash = $1) AS erased_at,
            (SELECT reason FROM bounced_addresses WHERE email_hash = $1) AS bounce`,
  ),
});
