// Debian's Chromium driven by playwright-core (no browser download). Without a Chromium the
// browser tests fail, saying how to get one: a missing browser must not pass for a passing run.
import { existsSync, mkdirSync } from 'node:fs';
import { resolve } from 'node:path';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { checkBrowserResponse } from './contract';

export const ARTIFACTS = resolve(__dirname, '../../test-artifacts');

/** Where the Chromium is: CHROMIUM_PATH, else Debian's. */
export const chromiumPath = (env: NodeJS.ProcessEnv = process.env): string => env.CHROMIUM_PATH ?? '/usr/bin/chromium';

/** Chromium; every response its pages receive from a test app is checked against the OpenAPI document (contract.ts). */
export async function launchBrowser(executablePath = chromiumPath()): Promise<Browser> {
  if (!existsSync(executablePath)) {
    throw new Error(
      `No Chromium at ${executablePath}: the browser tests need one. Install it (apt-get install -y chromium) or set CHROMIUM_PATH to a Chromium or Chrome binary.`,
    );
  }
  const { chromium } = await import('playwright-core');
  mkdirSync(ARTIFACTS, { recursive: true });
  const browser = await chromium.launch({
    executablePath,
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
