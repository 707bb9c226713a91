// Accounts made over the API, for tests that are not about signing up: a user with a
// complete profile, and a page that starts signed in as that user (its refresh token in
// localStorage, as after a log-in).

import assert from 'node:assert/strict';

import { newPage } from './browser.js';

export const PASSWORD = 'correct horse battery';
const WAIT = 15_000;

async function call(base, method, path, body, token) {
  const headers = { 'Content-Type': 'application/json' };
  if (token) headers.Authorization = `Bearer ${token}`;
  const res = await fetch(`${base}${path}`, { method, headers, body: JSON.stringify(body) });
  const text = await res.text();
  assert.ok(res.ok, `${method} ${path}: ${res.status} ${text}`);
  return JSON.parse(text);
}

/** A user with a complete profile; returns the sign-up's tokens. */
export async function makeUser(base, username, { gender, preferred }) {
  const tokens = await call(base, 'POST', '/auth/signup', { username, password: PASSWORD });
  await call(base, 'PUT', '/user/profile', {
    nickname: username,
    dob: '1995-04-12',
    gender,
    preferred_gender: [preferred],
    needs: ['friends'],
    interests: ['coffee'],
  }, tokens.access_token);
  return tokens;
}

/** A page signed in with `tokens`, in `lang`, on the home screen. */
export async function signedInPage(browser, base, options, tokens, lang) {
  const { page } = await newPage(browser, options);
  await page.goto(`${base}/app/icon.svg`);
  await page.evaluate(([refresh, language]) => {
    localStorage.setItem('duet.refresh', refresh);
    localStorage.setItem('duet.lang', language);
  }, [tokens.refresh_token, lang]);
  await page.goto(`${base}/`);
  await page.locator('.hero-card button.btn-primary').waitFor({ timeout: WAIT });
  return page;
}

/** Two signed-in pages that search and match: both land in their room. */
export async function matchedPair(browser, base, [first, second]) {
  for (const page of [first, second]) {
    await page.locator('.hero-card button.btn-primary').click();
    await page.locator('.radar, .screen-room').first().waitFor({ timeout: WAIT });
  }
  for (const page of [first, second]) await page.locator('.composer textarea').waitFor({ timeout: WAIT });
}
