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

/**
 * A draft's preview shown in a frame of the console's campaign form: the same policy, but framed
 * by the console's own pages only, and no pop-ups: a link in it leads nowhere but into the frame,
 * where the form page's frame-src ('self') stops any other site.
 */
export const framedMailPageCsp = [
  `default-src 'none'`,
  `style-src 'unsafe-inline'`,
  `img-src data:`,
  `form-action 'none'`,
  `frame-ancestors 'self'`,
  `base-uri 'none'`,
  `sandbox`,
].join('; ');

/** The mail's HTML with a bar naming its subject and linking back; the bar goes right after <body>. */
/** Without `back` (a framed preview), the bar names the subject only. */
export function mailPage(html: string, bar: { subject: string; back?: string; backLabel?: string; note?: string }): string {
  const back = bar.back
    ? `<a href="${Handlebars.escapeExpression(bar.back)}" style="color:#fff">&larr; ${Handlebars.escapeExpression(bar.backLabel ?? '')}</a> `
    : '';
  const strip = `<div role="banner" style="font:15px/1.4 system-ui,sans-serif;background:#111827;color:#fff;padding:8px 12px">${back}<strong>${Handlebars.escapeExpression(bar.subject)}</strong>${bar.note ? ` · ${Handlebars.escapeExpression(bar.note)}` : ''}</div>`;
  const at = html.search(/<body[^>]*>/i);
  if (at < 0) return strip + html;
  const end = html.indexOf('>', at) + 1;
  return html.slice(0, end) + strip + html.slice(end);
}

/** A short note in a preview's frame (the draft has no version in that language, or its body does not read). */
export function framedNote(locale: string, heading: string, lines: string[]): string {
  const esc = Handlebars.escapeExpression;
  return `<!doctype html><html lang="${esc(locale)}"><head><meta charset="utf-8"><title>${esc(heading)}</title></head><body style="font:15px/1.5 system-ui,sans-serif;color:#1f2937;margin:12px"><main><h1 style="font-size:17px">${esc(heading)}</h1>${lines.map((l) => `<p>${esc(l)}</p>`).join('')}</main></body></html>`;
}
