// DKIM signing (RFC 6376) with RSA-SHA256 or Ed25519-SHA256 (RFC 8463), relaxed/relaxed, over a
// whole message as it goes on the wire. nodemailer's own `dkim` option signs RSA only, and it adds
// a stream stage that buffers the message ahead of our "was the message handed over?" tracker
// (mail-transport.ts); the transport buffers the message anyway, so it signs the buffer here.
// Pure apart from the clock passed in: message bytes in, one DKIM-Signature header out.
import { createHash, createPrivateKey, createPublicKey, KeyObject, sign } from 'node:crypto';
import type { DkimSettings } from '../config/config';

/**
 * Signed when present, in this order. From, Subject and the List-Unsubscribe pair are signed once
 * more than they occur ("over-signing", RFC 6376 §8.15): a header of those names added on the way
 * breaks the signature instead of being shown in place of ours.
 */
const SIGNED_HEADERS = [
  'from',
  'reply-to',
  'subject',
  'date',
  'to',
  'message-id',
  'mime-version',
  'content-type',
  'list-unsubscribe',
  'list-unsubscribe-post',
  'list-id',
  'feedback-id',
];
const OVERSIGNED = ['from', 'subject', 'list-unsubscribe', 'list-unsubscribe-post'];

interface HeaderField {
  /** Lower-cased name. */
  name: string;
  /** The whole field as written, folds included, without the final CRLF. */
  raw: string;
}

export class DkimSigner {
  private readonly key: KeyObject;

  constructor(private readonly settings: Pick<DkimSettings, 'domain' | 'selector' | 'privateKeyPem' | 'algorithm'>) {
    this.key = createPrivateKey(settings.privateKeyPem);
  }

  /** The `DKIM-Signature: …` field for `message` (header block, blank line, body), ending in CRLF. */
  signature(message: Buffer, now: Date): string {
    const text = message.toString('latin1'); // byte for byte: hashing sees exactly the wire octets
    const split = /\r?\n\r?\n/.exec(text);
    const headerBlock = split ? text.slice(0, split.index) : text;
    const body = split ? text.slice(split.index + split[0].length) : '';
    const fields = parseHeaderFields(headerBlock);

    const bodyHash = createHash('sha256').update(relaxedBody(body), 'latin1').digest('base64');
    const signed: string[] = [];
    const hashed: string[] = [];
    const used = new Set<HeaderField>();
    for (const name of [...SIGNED_HEADERS, ...OVERSIGNED]) {
      // Bottom-up: the last unused instance of the name (RFC 6376 §5.4.2).
      const field = [...fields].reverse().find((candidate) => candidate.name === name && !used.has(candidate));
      const present = fields.some((candidate) => candidate.name === name);
      if (!present) continue;
      signed.push(name);
      if (field) {
        used.add(field);
        hashed.push(relaxedHeader(field.raw) + '\r\n');
      }
    }
    const tags =
      `v=1; a=${this.settings.algorithm}; c=relaxed/relaxed; d=${this.settings.domain}; s=${this.settings.selector};\r\n` +
      ` t=${Math.floor(now.getTime() / 1000)}; h=${foldList(signed)};\r\n bh=${bodyHash};\r\n b=`;
    const field = `DKIM-Signature: ${tags}`;
    const data = Buffer.from(hashed.join('') + relaxedHeader(field), 'latin1');
    const value =
      this.settings.algorithm === 'ed25519-sha256' ? sign(null, createHash('sha256').update(data).digest(), this.key) : sign('sha256', data, this.key);
    return `${field}${foldBase64(value.toString('base64'))}\r\n`;
  }
}

function parseHeaderFields(block: string): HeaderField[] {
  const fields: HeaderField[] = [];
  for (const line of block.split(/\r?\n/)) {
    if ((line.startsWith(' ') || line.startsWith('\t')) && fields.length > 0) {
      fields[fields.length - 1].raw += `\r\n${line}`;
    } else if (line.includes(':')) {
      fields.push({ name: line.slice(0, line.indexOf(':')).trim().toLowerCase(), raw: line });
    }
  }
  return fields;
}

/** RFC 6376 §3.4.2: lower-case name, unfolded, runs of WSP as one SP, none around the colon or at the end. */
export function relaxedHeader(raw: string): string {
  const colon = raw.indexOf(':');
  const name = raw.slice(0, colon).trim().toLowerCase();
  const value = raw
    .slice(colon + 1)
    .replace(/\r?\n/g, '')
    .replace(/[ \t]+/g, ' ')
    .trim();
  return `${name}:${value}`;
}

/**
 * RFC 6376 §3.4.4: WSP runs as one SP, none at line ends, no empty lines at the end, CRLF line
 * ends. Three passes over the whole body instead of an array of lines (a split, a map with two
 * replaces per line and a join): on a campaign mail that was most of what signing cost besides
 * the signature. test/unit/dkim-canonical.spec.ts holds it to the line-by-line definition.
 */
export function relaxedBody(body: string): string {
  // Runs of WSP as one SP; then the SP (at most one now) before each line end goes, and the line
  // end becomes CRLF; a bare CR is not a line end and stays as it is.
  let out = body.replace(/[ \t]+/g, ' ').replace(/ ?\r?\n/g, '\r\n');
  if (out.endsWith(' ')) out = out.slice(0, -1);
  // No empty lines at the end, and the last line ends in CRLF; an empty body stays empty.
  let end = out.length;
  while (end >= 2 && out.charCodeAt(end - 1) === 10 && out.charCodeAt(end - 2) === 13) end -= 2;
  return end === 0 ? '' : out.slice(0, end) + '\r\n';
}

function foldList(names: string[]): string {
  const lines: string[] = [];
  let line = '';
  for (const name of names) {
    const next = line === '' ? name : `${line}:${name}`;
    if (next.length > 60 && line !== '') {
      lines.push(line);
      line = name;
    } else {
      line = next;
    }
  }
  lines.push(line);
  return lines.join(':\r\n ');
}

function foldBase64(value: string): string {
  return (value.match(/.{1,72}/g) ?? ['']).join('\r\n ');
}

/**
 * The TXT record to publish at `<selector>._domainkey.<domain>` for this private key: the
 * public key as DER SubjectPublicKeyInfo for RSA (RFC 6376 §3.6.1), the bare 32-byte key for
 * Ed25519 (RFC 8463 §4.2).
 */
export function dkimDnsRecord(privateKeyPem: string): string {
  const publicKey = createPublicKey(createPrivateKey(privateKeyPem));
  if (publicKey.asymmetricKeyType === 'ed25519') {
    const raw = Buffer.from(publicKey.export({ format: 'jwk' }).x as string, 'base64url');
    return `v=DKIM1; k=ed25519; p=${raw.toString('base64')}`;
  }
  return `v=DKIM1; k=rsa; p=${publicKey.export({ format: 'der', type: 'spki' }).toString('base64')}`;
}
