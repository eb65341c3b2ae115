"use strict";
Object.defineProperty(exports, "__esModule", { value: true });
exports.isBlocked = void 0;
exports.addressBlocks = addressBlocks;
const email_1 = require("./email");
/** address_blocks: both lists probed by the address's hash in one statement (two primary-key lookups). */
const ADDRESS_BLOCKS_SQL = `
  SELECT (SELECT created_at FROM suppressions WHERE email_hash = $1) AS erased_at,
         (SELECT reason FROM bounced_addresses WHERE email_hash = $1) AS bounce`;
async function addressBlocks(tx, email) {
    const [row] = await tx.query(ADDRESS_BLOCKS_SQL, [(0, email_1.emailHash)(email)]);
    return { erasedAt: row.erased_at ?? null, bounce: row.bounce ?? null };
}
/** Whether a public form must leave this address alone (create nothing, send nothing). */
const isBlocked = (blocks) => blocks.erasedAt !== null || blocks.bounce !== null;
exports.isBlocked = isBlocked;
//# sourceMappingURL=address-blocks.js.map