// The relaxed body canonicalization of DKIM (src/delivery/dkim.ts) is written as a few passes over
// the whole body for speed; it must say exactly what RFC 6376 §3.4.4 says line by line, for every
// body: here the definition, written the plain way, against it.
import fc from 'fast-check';
import { relaxedBody } from '../../src/delivery/dkim';

/** RFC 6376 §3.4.4, line by line: WSP runs as one SP, none at line ends, no empty lines at the end, CRLF line ends. */
function byDefinition(body: string): string {
  const lines = body.split(/\r?\n/).map((line) => line.replace(/[ \t]+/g, ' ').replace(/ $/, ''));
  while (lines.length > 0 && lines[lines.length - 1] === '') lines.pop();
  return lines.length === 0 ? '' : lines.join('\r\n') + '\r\n';
}

describe('DKIM relaxed body canonicalization', () => {
  it('is the line-by-line definition for bodies made of line ends, white space and text', () => {
    const piece = fc.constantFrom('\r\n', '\n', '\r', ' ', '\t', '  \t ', 'a', 'Köln', '=C3=B6', '.', '=\r\n');
    fc.assert(
      fc.property(fc.array(piece, { maxLength: 40 }), (pieces) => {
        const body = pieces.join('');
        expect(relaxedBody(body)).toBe(byDefinition(body));
      }),
      { numRuns: 5000 },
    );
  });

  it('is the definition for arbitrary strings', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 200 }), (body) => {
        expect(relaxedBody(body)).toBe(byDefinition(body));
      }),
      { numRuns: 2000 },
    );
  });

  it('handles the edges: empty, only blank lines, no final line end', () => {
    for (const body of ['', '\r\n', '\r\n\r\n', ' \r\n\t\r\n', 'a', 'a ', 'a \t b  \r\nc ', 'x\r\n\r\n', '\r', ' \r']) {
      expect(relaxedBody(body)).toBe(byDefinition(body));
    }
    expect(relaxedBody('a \t b  \r\nc \r\n\r\n')).toBe('a b\r\nc\r\n');
  });
});
