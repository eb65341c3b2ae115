// A mail shown in the console as the customer got it (or as a preview): the mail's own HTML with
// a thin bar above it, under a policy of its own: no scripts, no forms, no requests anywhere,
// nothing in frames; only the mail's inline styles and inline images.
import Handlebars from 'handlebars';

export const mailPageCsp = [
  `default-src 'none'`,
  `style-src 'unsafe-inline'`,
  `img-src data:`,
  `form-action 'none'`,
  `frame-ancestors 'none'`,
  `base-uri 'none'`,
  `sandbox allow-popups`,
].join('; ');

/** The mail's HTML with a bar naming its subject and linking back; the bar goes right after <body>. */
export function mailPage(html: string, bar: { subject: string; back: string; backLabel: string; note?: string }): string {
  const strip = `<div role="banner" style="font:15px/1.4 system-ui,sans-serif;background:#111827;color:#fff;padding:8px 12px"><a href="${Handlebars.escapeExpression(bar.back)}" style="color:#fff">&larr; ${Handlebars.escapeExpression(bar.backLabel)}</a> <strong>${Handlebars.escapeExpression(bar.subject)}</strong>${bar.note ? ` · ${Handlebars.escapeExpression(bar.note)}` : ''}</div>`;
  const at = html.search(/<body[^>]*>/i);
  if (at < 0) return strip + html;
  const end = html.indexOf('>', at) + 1;
  return html.slice(0, end) + strip + html.slice(end);
}
