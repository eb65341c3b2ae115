// Browser tests fail without a Chromium instead of being skipped: a run that could not look at the
// pages must not pass for one that did.
import { chromiumPath, launchBrowser } from '../support/browser';

describe('launching the browser for the browser tests', () => {
  it('fails, naming the path and how to install one, when there is no Chromium there', async () => {
    await expect(launchBrowser('/nonexistent/chromium')).rejects.toThrow(
      'No Chromium at /nonexistent/chromium: the browser tests need one. Install it (apt-get install -y chromium) or set CHROMIUM_PATH',
    );
  });

  it("looks for Debian's Chromium unless CHROMIUM_PATH names another", () => {
    expect(chromiumPath({})).toBe('/usr/bin/chromium');
    expect(chromiumPath({ CHROMIUM_PATH: '/opt/chrome/chrome' })).toBe('/opt/chrome/chrome');
  });
});
