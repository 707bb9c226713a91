// What the server's timers do, as the page shows it, against a server with short
// timers of its own: a search that times out (--search-timeout 3s) says so and offers
// to search again; a room without messages (--inactivity-timeout 5s) ends, and both
// pages, one in each language, show the ended screen with the reason.
//
// The accounts are made over the API (lib/accounts.js; the wizard is covered in
// duet.test.js).

import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';

import { makeUser as makeUserAt, matchedPair, signedInPage as signedInPageAt } from '../lib/accounts.js';
import { DESKTOP, launch, PHONE } from '../lib/browser.js';
import { startServer } from '../lib/server.js';

const WAIT = 15_000;

let server;
let browser;

before(async () => {
  server = await startServer(['--search-timeout=3s', '--inactivity-timeout=5s']);
  browser = await launch();
});

after(async () => {
  await browser?.close();
  await server?.stop();
});

const makeUser = (username, profile) => makeUserAt(server.base, username, profile);
const signedInPage = (options, tokens, lang) => signedInPageAt(browser, server.base, options, tokens, lang);

test('a search that times out says so, and searches again from there', async () => {
  const tokens = await makeUser('tam_alone', { gender: 'male', preferred: 'male' });
  const page = await signedInPage(PHONE, tokens, 'vi');
  // A search that times out while the user edits the profile leaves them there and
  // says so in a banner.
  await page.locator('.hero-card button.btn-primary').click();
  await page.locator('.radar').waitFor({ timeout: WAIT });
  await page.locator('#nav-profile').click();
  await page.locator('input[name=nickname]').fill('Tâm');
  await page.locator('.banner-info', { hasText: 'Chưa tìm thấy ai phù hợp' }).waitFor({ timeout: WAIT });
  assert.equal(await page.inputValue('input[name=nickname]'), 'Tâm', 'still on the profile page, the edit kept');

  await page.locator('.brand').click();
  await page.locator('.hero-card button.btn-primary').click();
  await page.locator('.radar').waitFor({ timeout: WAIT });

  // Nobody else searches: after 3 s the ticket expires and the page says so.
  const notice = page.locator('.home-notice');
  await notice.waitFor({ timeout: WAIT });
  assert.match(await notice.textContent(), /Chưa tìm thấy ai phù hợp/);
  const again = page.locator('.hero-card button.btn-primary');
  assert.equal((await again.textContent()).trim(), 'Tìm lại');
  await page.waitForFunction(() => document.activeElement?.matches('.hero-card button.btn-primary'));
  // The message follows a language switch.
  await page.locator('#lang-toggle').click();
  await page.locator('.home-notice', { hasText: 'Nobody suitable was found' }).waitFor({ timeout: WAIT });
  assert.equal((await again.textContent()).trim(), 'Search again');

  await again.click();
  await page.locator('.radar').waitFor({ timeout: WAIT });
  assert.equal(await page.locator('.home-notice').count(), 0);
  await page.locator('.hero-card button.btn-secondary').click();
  await page.locator('.hero-card button.btn-primary', { hasText: 'Start searching' }).waitFor({ timeout: WAIT });
  // A search the user cancels is no time-out: no notice.
  assert.equal(await page.locator('.home-notice').count(), 0);
  assert.deepEqual(page.problems, []);
});

test('a room without messages ends as inactive, with the reason in each language', async () => {
  const vi = await signedInPage(PHONE, await makeUser('hoa_quiet', { gender: 'female', preferred: 'male' }), 'vi');
  const en = await signedInPage(DESKTOP, await makeUser('duc_quiet', { gender: 'male', preferred: 'female' }), 'en');
  await matchedPair(browser, server.base, [vi, en]);
  // Nobody writes: the room ends 5 s after it started.
  for (const page of [vi, en]) await page.locator('.ended-card[data-reason=inactive]').waitFor({ timeout: WAIT });
  assert.equal(await vi.locator('.ended-reason').textContent(), 'Phòng đã đóng vì không có tin nhắn trong một thời gian.');
  assert.equal(await en.locator('.ended-reason').textContent(), 'The room closed after a while without messages.');
  for (const page of [vi, en]) {
    // The room's socket is closed for good: no "connection lost" banner, now or later.
    assert.equal(await page.locator('.banner-warn').count(), 0);
    assert.equal(await page.evaluate(() => Object.keys(sessionStorage).filter((k) => k.startsWith('duet.match.')).length), 0);
    assert.deepEqual(page.problems, []);
  }
});
