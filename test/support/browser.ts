// Debian's Chromium driven by playwright-core (no browser download). When no Chromium can be had,
// browser tests are skipped — loudly.
import { existsSync, mkdirSync } from 'node:fs';
import { resolve } from 'node:path';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { checkBrowserResponse } from './contract';

export const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
export const hasChromium = existsSync(CHROMIUM);
export const ARTIFACTS = resolve(__dirname, '../../test-artifacts');

if (!hasChromium) {
  // eslint-disable-next-line no-console
  console.warn(
    `\n!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!\n` +
      `!!! No Chromium at ${CHROMIUM}: the BROWSER TESTS ARE SKIPPED.\n` +
      `!!! Install it with: apt-get install -y chromium  (or set CHROMIUM_PATH)\n` +
      `!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!\n`,
  );
}

/** Chromium; every response its pages receive from a test app is checked against the OpenAPI document (contract.ts). */
export async function launchBrowser(): Promise<Browser> {
  const { chromium } = await import('playwright-core');
  mkdirSync(ARTIFACTS, { recursive: true });
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--no-first-run', '--disable-sync'],
  });
  // Every page lives in a context (newPage makes one); each context is watched once.
  const watched = new WeakSet<BrowserContext>();
  const watch = (context: BrowserContext): BrowserContext => {
    if (!watched.has(context)) context.on('response', checkBrowserResponse);
    watched.add(context);
    return context;
  };
  const newPage = browser.newPage.bind(browser);
  const newContext = browser.newContext.bind(browser);
  browser.newContext = async (...args) => watch(await newContext(...args));
  browser.newPage = async (...args): Promise<Page> => {
    const page = await newPage(...args);
    watch(page.context());
    return page;
  };
  return browser;
}
