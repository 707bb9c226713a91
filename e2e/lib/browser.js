// Headless Chromium through playwright-core, with the Debian build of Chromium and the
// flags that keep it quiet on a machine without outside network.

import { chromium } from 'playwright-core';

export const CHROMIUM = process.env.CHROMIUM_PATH || '/usr/bin/chromium';

/** `extraArgs`: more Chromium flags (fake media devices for the call tests). */
export function launch(extraArgs = []) {
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--disable-dev-shm-usage',
      ...extraArgs,
    ],
  });
}

export const PHONE = { viewport: { width: 390, height: 844 }, deviceScaleFactor: 1, isMobile: true, hasTouch: true };
export const DESKTOP = { viewport: { width: 1280, height: 800 }, deviceScaleFactor: 1 };

/**
 * A page that records console errors and Content-Security-Policy violations, so a test
 * can assert the client runs cleanly under the server's policy.
 */
export async function newPage(browser, options) {
  // Reduced motion: no transitions half-way through in the screenshots. A Vietnamese
  // browser unless the test says otherwise (the page follows the browser's language).
  const context = await browser.newContext({ locale: 'vi-VN', ...options, colorScheme: 'light', reducedMotion: 'reduce' });
  const page = await context.newPage();
  page.problems = [];
  page.on('pageerror', (err) => page.problems.push(`pageerror: ${err.message}`));
  page.on('console', (msg) => {
    if (msg.type() === 'error' && /Content Security Policy|Refused to/i.test(msg.text())) page.problems.push(`csp: ${msg.text()}`);
  });
  return { context, page };
}
