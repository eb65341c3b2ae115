// nodemailer's compiled MIME tree written out in one synchronous pass, with nodemailer's own
// header builder and encoders, instead of its stream per node (pipelines, a PassThrough and an
// encoder stream per part, a setImmediate between parts: ≈ 0.3 ms of CPU per 13 kB mail). The
// bytes are the ones nodemailer's stream writes for the same tree (test/unit/mime-tree.spec.ts
// holds them to it); a tree this pass cannot write exactly is left to nodemailer.
import { Encoder as Base64Encoder } from 'nodemailer/lib/base64';
import { Encoder as QpEncoder } from 'nodemailer/lib/qp';
import type { Transform } from 'node:stream';

/** What this pass reads of nodemailer's MimeNode (lib/mime-node), as its stream() reads it. */
export interface MimeTreeNode {
  content?: unknown;
  contentType?: string;
  multipart?: string | false;
  boundary?: string;
  childNodes: MimeTreeNode[];
  _raw?: unknown;
  getTransferEncoding(): string | false;
  buildHeaders(): string;
  setRaw(raw: Buffer): unknown;
}

/**
 * Replaces the tree below `root` by its bytes (setRaw): nodemailer then streams those as they are,
 * through the same transforms and process functions (the last newline, DKIM, the tracker) as the
 * tree. Envelope, Message-ID and headers stay as the tree has them. Returns false, and leaves the
 * tree as it was, when a node holds anything but a string or a Buffer (a stream, a file, a URL, a
 * raw part), which nodemailer reads asynchronously.
 */
export function writeTreeAtOnce(root: MimeTreeNode): boolean {
  if (!writable(root)) return false;
  const chunks: Buffer[] = [];
  write(root, chunks);
  root.setRaw(Buffer.concat(chunks));
  // A raw node still streams its children after the raw bytes when it is multipart: they are in them already.
  root.multipart = false;
  return true;
}

function writable(node: MimeTreeNode): boolean {
  if (node._raw) return false;
  if (node.content && typeof node.content !== 'string' && !Buffer.isBuffer(node.content)) return false;
  return node.childNodes.every(writable);
}

/** MimeNode.stream(), in order: headers, blank line, the encoded content, then each child between boundaries. */
function write(node: MimeTreeNode, out: Buffer[]): void {
  const transferEncoding = node.getTransferEncoding();
  out.push(Buffer.from(node.buildHeaders() + '\r\n\r\n'));
  if (node.content) {
    // stream() ends a PassThrough with the content: a string becomes its UTF-8 bytes.
    const content = Buffer.isBuffer(node.content) ? node.content : Buffer.from(node.content as string);
    if (transferEncoding === 'quoted-printable') {
      // Outside of text a lone CR or LF is data (stream()'s own reasoning, same option).
      encodeInto(new QpEncoder({ binary: !/^text\//i.test(node.contentType || '') }), content, out);
    } else if (transferEncoding === 'base64') {
      encodeInto(new Base64Encoder({}), content, out);
    } else {
      out.push(content);
    }
  }
  if (node.multipart) {
    node.childNodes.forEach((child, i) => {
      out.push(Buffer.from((i > 0 ? '\r\n' : '') + '--' + node.boundary + '\r\n'));
      write(child, out);
    });
    out.push(Buffer.from('\r\n--' + node.boundary + '--\r\n'));
  }
}

/**
 * The encoder's own transform and flush on the whole content at once, its output collected as it
 * pushes it: what the encoder stream emits when stream() writes it the content as one chunk.
 */
function encodeInto(encoder: Transform, content: Buffer, out: Buffer[]): void {
  let failure: Error | null | undefined;
  encoder.push = (chunk: Buffer | string | null, encoding?: BufferEncoding) => {
    if (chunk !== null) out.push(typeof chunk === 'string' ? Buffer.from(chunk, encoding) : chunk);
    return true;
  };
  encoder._transform(content, 'buffer' as BufferEncoding, (error) => (failure ??= error));
  encoder._flush((error) => (failure ??= error));
  if (failure) throw failure;
}
