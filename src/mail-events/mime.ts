// Just enough MIME (RFC 2045/2046) to read reports: headers, multipart bodies, transfer
// encodings, and the message/rfc822 and text/rfc822-headers parts that carry a returned mail.
// mailparser flattens message/delivery-status and message/feedback-report into the text body, so
// the report parts are read here. Bounded: depth, part count and size are capped, so a hostile
// mail costs little.

export interface MimePart {
  /** Header values by lower-case name, unfolded, in order. */
  headers: Map<string, string[]>;
  /** Lower-case `type/subtype`; text/plain when absent (RFC 2045 §5.2). */
  contentType: string;
  /** Content-Type parameters, lower-case names. */
  params: Record<string, string>;
  /** The decoded body (for multipart: the raw body). */
  body: Buffer;
  parts: MimePart[];
}

const MAX_DEPTH = 8;
const MAX_PARTS = 64;

/** The header block and the body, split at the first empty line (CRLF or LF). */
function splitHead(raw: Buffer): { head: string; body: Buffer } {
  const text = raw.toString('latin1');
  const match = /\r?\n\r?\n/.exec(text);
  if (!match) return { head: text, body: Buffer.alloc(0) };
  return { head: text.slice(0, match.index), body: raw.subarray(match.index + match[0].length) };
}

/** `Name: value` fields with folded lines joined (RFC 5322 §2.2.3). Also reads report field groups. */
export function parseFields(block: string): Map<string, string[]> {
  const fields = new Map<string, string[]>();
  let name: string | null = null;
  let value = '';
  const flush = () => {
    if (name === null) return;
    const list = fields.get(name) ?? [];
    list.push(Buffer.from(value.trim(), 'latin1').toString('utf8'));
    fields.set(name, list);
    name = null;
  };
  for (const line of block.split(/\r?\n/)) {
    if (/^[ \t]/.test(line) && name !== null) {
      value += ' ' + line.trim();
      continue;
    }
    flush();
    const colon = line.indexOf(':');
    if (colon <= 0) continue;
    name = line.slice(0, colon).trim().toLowerCase();
    value = line.slice(colon + 1);
  }
  flush();
  return fields;
}

/** `type/subtype; a=b; c="d"` into the type and its parameters. */
export function parseContentType(value: string | undefined): { type: string; params: Record<string, string> } {
  const [type, ...rest] = (value ?? 'text/plain').split(';');
  const params: Record<string, string> = {};
  for (const match of rest.join(';').matchAll(/([A-Za-z0-9_*-]+)\s*=\s*("(?:[^"\\]|\\.)*"|[^;\s]+)/g)) {
    params[match[1].toLowerCase()] = match[2].startsWith('"') ? match[2].slice(1, -1).replace(/\\(.)/g, '$1') : match[2];
  }
  return { type: type.trim().toLowerCase() || 'text/plain', params };
}

function decode(body: Buffer, encoding: string | undefined): Buffer {
  switch ((encoding ?? '').trim().toLowerCase()) {
    case 'base64':
      return Buffer.from(body.toString('latin1').replace(/[^A-Za-z0-9+/=]/g, ''), 'base64');
    case 'quoted-printable':
      return Buffer.from(
        body
          .toString('latin1')
          .replace(/=\r?\n/g, '')
          .replace(/=([0-9A-Fa-f]{2})/g, (_, hex: string) => String.fromCharCode(parseInt(hex, 16))),
        'latin1',
      );
    default:
      return body;
  }
}

/** The parts between `--boundary` lines (the preamble and epilogue dropped). */
function splitMultipart(body: Buffer, boundary: string): Buffer[] {
  const text = body.toString('latin1');
  const delimiter = `--${boundary}`;
  const parts: Buffer[] = [];
  let start = -1;
  let offset = 0;
  while (parts.length < MAX_PARTS) {
    const at = text.indexOf(delimiter, offset);
    if (at < 0) break;
    const lineStart = at === 0 || text[at - 1] === '\n';
    offset = at + delimiter.length;
    if (!lineStart) continue;
    if (start >= 0) parts.push(body.subarray(start, at > 0 && text[at - 1] === '\n' ? (text[at - 2] === '\r' ? at - 2 : at - 1) : at));
    if (text.startsWith('--', offset)) return parts;
    const lineEnd = text.indexOf('\n', offset);
    if (lineEnd < 0) break;
    start = lineEnd + 1;
  }
  if (start >= 0 && parts.length < MAX_PARTS) parts.push(body.subarray(start));
  return parts;
}

export function parseMime(raw: Buffer, depth = 0): MimePart {
  const { head, body } = splitHead(raw);
  const headers = parseFields(head);
  const { type, params } = parseContentType(headers.get('content-type')?.[0]);
  const part: MimePart = { headers, contentType: type, params, body, parts: [] };
  if (depth >= MAX_DEPTH) return part;
  if (type.startsWith('multipart/') && params.boundary) {
    part.parts = splitMultipart(body, params.boundary).map((p) => parseMime(p, depth + 1));
    return part;
  }
  part.body = decode(body, headers.get('content-transfer-encoding')?.[0]);
  if (type === 'message/rfc822' || type === 'message/global') part.parts = [parseMime(part.body, depth + 1)];
  return part;
}

/** Every part, depth first (the part itself included). */
export function* walk(part: MimePart): Generator<MimePart> {
  yield part;
  for (const child of part.parts) yield* walk(child);
}

export const header = (fields: Map<string, string[]>, name: string): string | undefined => fields.get(name.toLowerCase())?.[0];

/** RFC 3464 / 5965 report bodies: groups of fields separated by empty lines. */
export function fieldGroups(body: Buffer): Map<string, string[]>[] {
  return body
    .toString('latin1')
    .split(/\r?\n[ \t]*\r?\n/)
    .map((group) => parseFields(group))
    .filter((group) => group.size > 0);
}
