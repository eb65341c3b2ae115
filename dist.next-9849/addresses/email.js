"use strict";
Object.defineProperty(exports, "__esModule", { value: true });
exports.emailHash = exports.normalizeEmail = void 0;
exports.mailDomain = mailDomain;
exports.replyToFor = replyToFor;
// Email addresses as Tactful compares and stores them: the normalised form, its hash (all an
// erased person leaves behind), the domain a Message-ID names, the Reply-To a sender gets.
const node_crypto_1 = require("node:crypto");
const normalizeEmail = (email) => email.trim().toLowerCase();
exports.normalizeEmail = normalizeEmail;
/** The suppression list keeps only this hash of an erased address. */
const emailHash = (email) => (0, node_crypto_1.createHash)('sha256').update((0, exports.normalizeEmail)(email), 'utf8').digest();
exports.emailHash = emailHash;
function mailDomain(address) {
    const match = /@([^>\s]+)>?\s*$/.exec(address);
    return (match?.[1] ?? 'localhost').toLowerCase();
}
/** The Reply-To mailbox for mail from `sender`: its own from SENDER_REPLY_TO, else REPLY_TO. */
function replyToFor(config, sender) {
    return (sender !== null && Object.hasOwn(config.senderReplyTo, sender) ? config.senderReplyTo[sender] : undefined) ?? config.replyTo;
}
//# sourceMappingURL=email.js.map