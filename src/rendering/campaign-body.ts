// What a campaign body may contain: an allow-list of e-mail HTML (and of MJML elements with the
// attributes MJML itself defines for them), enforced by sanitize-html, a maintained sanitiser that
// parses the body as a browser would. The same policy refuses a body when it is stored (naming
// what it would remove) and cleans every body when it is rendered, so a stored body from before
// this policy, or one that slipped past it, never reaches a mail or a preview as it was.
import { components as mjmlComponents } from 'mjml-core';
import sanitizeHtml from 'sanitize-html';
import type { CampaignBodyError } from './template-renderer';

// Ensures MJML's components are registered (the renderer imports mjml too; this file may be alone).
import 'mjml';

const HTML_TAGS = [
  'a',
  'abbr',
  'b',
  'blockquote',
  'br',
  'caption',
  'center',
  'cite',
  'code',
  'col',
  'colgroup',
  'dd',
  'del',
  'div',
  'dl',
  'dt',
  'em',
  'font',
  'h1',
  'h2',
  'h3',
  'h4',
  'h5',
  'h6',
  'hr',
  'i',
  'img',
  'ins',
  'kbd',
  'li',
  'mark',
  'ol',
  'p',
  'pre',
  'q',
  's',
  'small',
  'span',
  'strike',
  'strong',
  'sub',
  'sup',
  'table',
  'tbody',
  'td',
  'tfoot',
  'th',
  'thead',
  'tr',
  'u',
  'ul',
  'wbr',
];

/** Presentation attributes every HTML element may carry (mail clients still read them). */
const HTML_GLOBAL_ATTRIBUTES = ['style', 'class', 'title', 'lang', 'dir', 'align', 'valign', 'width', 'height', 'bgcolor'];

const HTML_ATTRIBUTES: Record<string, string[]> = {
  a: ['href', 'name', 'target', 'rel'],
  img: ['src', 'srcset', 'alt', 'border'],
  font: ['color', 'face', 'size'],
  table: ['border', 'cellpadding', 'cellspacing', 'role'],
  td: ['colspan', 'rowspan', 'nowrap'],
  th: ['colspan', 'rowspan', 'nowrap', 'scope'],
  col: ['span'],
  colgroup: ['span'],
  ol: ['start', 'type'],
  ul: ['type'],
  blockquote: ['cite'],
  q: ['cite'],
};

// The MJML elements a body may use: layout and content. Not mj-include (reads server files),
// mj-raw (raw HTML past MJML), mj-style, mj-font, mj-attributes and mj-html-attributes (CSS,
// external style sheets and arbitrary attributes on the output), nor the interactive ones.
const MJML_TAGS = [
  'mj-body',
  'mj-section',
  'mj-wrapper',
  'mj-group',
  'mj-column',
  'mj-hero',
  'mj-text',
  'mj-image',
  'mj-button',
  'mj-divider',
  'mj-spacer',
  'mj-table',
  'mj-social',
  'mj-social-element',
  'mj-navbar',
  'mj-navbar-link',
  'mj-head',
  'mj-title',
  'mj-preview',
];
const MJML_GLOBAL_ATTRIBUTES = ['css-class', 'mj-class'];

/** Each MJML element takes the attributes MJML defines for it (mjml-core's registry), nothing else. */
function mjmlAttributes(): Record<string, string[]> {
  const registry = mjmlComponents as Record<string, { allowedAttributes?: Record<string, unknown> } | undefined>;
  const out: Record<string, string[]> = { mjml: ['lang', 'dir', 'owa'] };
  for (const tag of MJML_TAGS) out[tag] = [...Object.keys(registry[tag]?.allowedAttributes ?? {}), ...MJML_GLOBAL_ATTRIBUTES];
  return out;
}

const ALLOWED_SCHEMES = ['http', 'https', 'mailto', 'tel'];
const URL_ATTRIBUTES = ['href', 'src', 'srcset', 'cite', 'background', 'background-url', 'base-url', 'usemap'];

// A CSS value may hold colours, lengths, keywords, quoted font names and the functions rgb(a),
// hsl(a) and calc(): no url(), expression(), image-set() or escapes, which is how CSS loads or runs
// anything.
const CSS_VALUE = /^(?:[^\\()<>{}@;]|\b(?:rgba?|hsla?|calc)\([^\\()<>{}@;]*\))*$/i;
const CSS_PROPERTIES = [
  'color',
  'background',
  'background-color',
  'border',
  'border-top',
  'border-right',
  'border-bottom',
  'border-left',
  'border-color',
  'border-style',
  'border-width',
  'border-radius',
  'border-collapse',
  'border-spacing',
  'font',
  'font-family',
  'font-size',
  'font-style',
  'font-variant',
  'font-weight',
  'line-height',
  'letter-spacing',
  'word-spacing',
  'text-align',
  'text-decoration',
  'text-indent',
  'text-transform',
  'vertical-align',
  'white-space',
  'word-break',
  'word-wrap',
  'overflow-wrap',
  'width',
  'min-width',
  'max-width',
  'height',
  'min-height',
  'max-height',
  'margin',
  'margin-top',
  'margin-right',
  'margin-bottom',
  'margin-left',
  'padding',
  'padding-top',
  'padding-right',
  'padding-bottom',
  'padding-left',
  'display',
  'direction',
  'float',
  'clear',
  'table-layout',
  'list-style',
  'list-style-type',
  'opacity',
  'mso-line-height-rule',
  'mso-table-lspace',
  'mso-table-rspace',
  '-webkit-text-size-adjust',
  '-ms-text-size-adjust',
];

const allowedAttributes: Record<string, string[]> = { '*': HTML_GLOBAL_ATTRIBUTES, ...HTML_ATTRIBUTES, ...mjmlAttributes() };
const allowedTags = [...HTML_TAGS, 'mjml', ...MJML_TAGS];

/** The allow-list: what a campaign body may contain. */
export const CAMPAIGN_BODY_POLICY: sanitizeHtml.IOptions = {
  allowedTags,
  allowedAttributes,
  allowedSchemes: ALLOWED_SCHEMES,
  allowedSchemesByTag: {},
  allowedSchemesAppliedToAttributes: URL_ATTRIBUTES,
  allowProtocolRelative: false,
  allowedStyles: { '*': Object.fromEntries(CSS_PROPERTIES.map((property) => [property, [CSS_VALUE]])) },
  disallowedTagsMode: 'discard',
  // Removed with everything in them: their content is code or raw markup, not text to keep.
  nonTextTags: ['script', 'style', 'textarea', 'option', 'noscript', 'xmp', 'mj-style', 'mj-raw', 'mj-html-attributes'],
};

// The same parse and serialisation without the allow-list: what the body is once normalised.
// A body is accepted when the allow-list takes nothing away from it.
const NORMALISED: sanitizeHtml.IOptions = {
  allowedTags: false,
  allowedAttributes: false,
  allowVulnerableTags: true,
  allowedSchemesAppliedToAttributes: [],
  disallowedTagsMode: 'discard',
};

/** The body as it may go into a mail: everything outside the allow-list removed. */
export function sanitizeCampaignBody(html: string): string {
  return sanitizeHtml(html, CAMPAIGN_BODY_POLICY);
}

/** One thing the allow-list would remove from a body; `tag` lets a caller merge it with MJML's own report. */
export interface CampaignBodyProblem extends CampaignBodyError {
  tag: string;
}

const escapeRegExp = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

function lineOf(source: string, pattern: RegExp, from = 0): number {
  const at = source.slice(from).search(pattern);
  return at < 0 ? 1 : source.slice(0, from + at).split('\n').length;
}

/** The scheme a browser would see in a URL (entities are decoded by the parser; it ignores control characters and spaces). */
function schemeOf(url: string): string | null {
  // eslint-disable-next-line no-control-regex -- control characters are what browsers strip from a scheme
  const bare = url.replace(/[\u0000-\u0020\u007f-\u009f]+/g, '');
  if (/^[/\\]{2}/.test(bare)) return '//';
  return /^([a-z][a-z0-9+.-]*):/i.exec(bare)?.[1].toLowerCase() ?? null;
}

/** The URLs of an attribute: one, or each candidate of a srcset. */
const urlsOf = (name: string, value: string): string[] =>
  name === 'srcset' ? value.split(',').map((candidate) => candidate.trim().split(/\s+/)[0] ?? '') : [value];

/** Why a style attribute loses something, by property (a rough split is enough for a message). */
function styleProblems(style: string): string[] {
  return style
    .split(';')
    .map((declaration) => declaration.split(':'))
    .filter(([property]) => property.trim() !== '')
    .flatMap(([property, ...rest]) => {
      const name = property.trim().toLowerCase();
      const value = rest
        .join(':')
        .replace(/!important\s*$/i, '')
        .trim();
      if (!CSS_PROPERTIES.includes(name)) return [`the CSS property ${name} is not allowed in a campaign body`];
      if (!CSS_VALUE.test(value)) return [`the CSS value of ${name} may not use url(), expression() or other functions but rgb(), hsl() and calc()`];
      return [];
    });
}

/**
 * What the allow-list would remove from this body, each at its line; empty when nothing. A body is
 * refused when sanitize-html would change it beyond normalising its markup, or when a tag,
 * attribute or link scheme outside the allow-list is found on the way (the normalising pass drops
 * bad srcset candidates itself, so only this check sees them). The messages say what would go.
 */
export function campaignBodyProblems(html: string): CampaignBodyProblem[] {
  const found: CampaignBodyProblem[] = [];
  const styles: CampaignBodyProblem[] = [];
  const seen = new Set<string>();
  let searchFrom = 0;
  const report = (into: CampaignBodyProblem[], tag: string, message: string, pattern: RegExp) => {
    if (seen.has(message)) return;
    seen.add(message);
    into.push({ tag, message, line: lineOf(html, pattern, searchFrom) });
  };
  const cleaned = sanitizeHtml(html, {
    ...CAMPAIGN_BODY_POLICY,
    onOpenTag: (tag, attributes) => {
      const tagPattern = new RegExp(`<\\s*${escapeRegExp(tag)}(?=[\\s/>])`, 'i');
      const at = html.slice(searchFrom).search(tagPattern);
      if (at >= 0) searchFrom += at;
      if (!allowedTags.includes(tag)) {
        report(found, tag, `<${tag}> is not allowed in a campaign body`, tagPattern);
        return;
      }
      const allowed = [...(allowedAttributes[tag] ?? []), ...HTML_GLOBAL_ATTRIBUTES];
      for (const [name, value] of Object.entries(attributes)) {
        const attributePattern = new RegExp(`(?<=\\s)${escapeRegExp(name)}\\s*(=|[\\s/>])`, 'i');
        const schemes = URL_ATTRIBUTES.includes(name) ? urlsOf(name, value).map(schemeOf) : [];
        const scheme = schemes.find((s) => s !== null && !ALLOWED_SCHEMES.includes(s));
        if (!allowed.includes(name)) {
          report(found, tag, `the ${name} attribute of <${tag}> is not allowed in a campaign body`, attributePattern);
        } else if (scheme !== undefined && scheme !== null) {
          const what = scheme === '//' ? 'protocol-relative' : `${scheme}:`;
          report(found, tag, `the ${name} of <${tag}> must be an http(s), mailto or tel link, not ${what}`, attributePattern);
        } else if (name === 'style') {
          for (const message of styleProblems(value)) report(styles, tag, message, attributePattern);
        }
      }
    },
  });
  if (found.length > 0) return found;
  if (cleaned === sanitizeHtml(html, NORMALISED)) return [];
  // The sanitiser removes something the checks above do not name: a style, most likely.
  return styles.length > 0 ? styles : [{ tag: '', line: 1, message: 'contains markup outside what a campaign body may contain' }];
}
