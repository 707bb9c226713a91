// Clear messages for rate limits, lost connections and bans, each against a server of
// its own.

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { join, resolve } from 'node:path';
import { after, test } from 'node:test';

import { launch, newPage, PHONE } from '../lib/browser.js';
import { BIN, startServer } from '../lib/server.js';

const SHOTS = resolve(import.meta.dirname, '..', '..', 'docs', 'screenshots');
const WAIT = 15_000;
const PASSWORD = 'correct horse battery';

const browserReady = launch();
const servers = [];

after(async () => {
  await (await browserReady).close();
  for (const s of servers) await s.stop();
});

async function signup(page, base, username) {
  await page.goto(`${base}/#/signup`);
  await page.locator('input[name=username]').fill(username);
  await page.locator('input[name=password]').fill(PASSWORD);
  await page.locator('button[type=submit]').click();
  await page.locator('.screen-profile').waitFor({ timeout: WAIT });
}

test('a rate-limited login says how long to wait', async () => {
  const server = await startServer(['--rate-login=3/min']);
  servers.push(server);
  const { page } = await newPage(await browserReady, PHONE);
  await signup(page, server.base, 'lan_limits');
  await page.locator('#nav-logout').click();
  await page.locator('.screen-auth').waitFor({ timeout: WAIT });
  await page.locator('input[name=username]').fill('lan_limits');
  await page.locator('input[name=password]').fill('not the password');
  for (let i = 0; i < 3; i += 1) {
    await page.locator('button[type=submit]').click();
    await page.locator('.form-error', { hasText: /Sai tên đăng nhập/ }).waitFor({ timeout: WAIT });
  }
  await page.locator('button[type=submit]').click();
  await page.locator('.banner-warn', { hasText: /Thử lại sau \d+ giây/ }).waitFor({ timeout: WAIT });
  assert.match(await page.locator('.form-error').textContent(), /Thử lại sau \d+ giây/);
  assert.deepEqual(page.problems, []);
});

test('a lost connection is announced, the page reconnects by itself, and a ban is explained', async () => {
  let server = await startServer();
  const { page } = await newPage(await browserReady, PHONE);
  await signup(page, server.base, 'an_banned');
  await page.locator('#banners .banner').waitFor({ state: 'detached' });

  // The server goes away: the page says so; it comes back: the page reconnects alone.
  await server.stop({ keepData: true });
  await page.locator('.banner-warn', { hasText: 'Mất kết nối' }).waitFor({ timeout: WAIT });
  server = await startServer([], { port: server.port, dataDir: server.dataDir });
  servers.push(server);
  await page.locator('.banner-warn', { hasText: 'Mất kết nối' }).waitFor({ state: 'detached', timeout: 20_000 });
  assert.equal(await page.locator('.screen-profile').count(), 1, 'still signed in, on the same screen');

  // An administrator (made with `duet admin create`) bans the user.
  const made = spawnSync(BIN, ['admin', 'create', '--username', 'boss', `--data-dir=${server.dataDir}`], { input: `${PASSWORD}\n` });
  assert.equal(made.status, 0, String(made.stderr));
  const admin = await (await fetch(`${server.base}/auth/login`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ username: 'boss', password: PASSWORD }),
  })).json();
  const id = await page.evaluate(async () => {
    const res = await fetch('/user/profile', { headers: { Authorization: `Bearer ${sessionStorage.getItem('duet.access')}` } });
    return (await res.json()).id;
  });
  const ban = await fetch(`${server.base}/admin/users/${id}/ban`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${admin.access_token}` },
    body: JSON.stringify({ days: 2, reason: 'e2e' }),
  });
  assert.equal(ban.status, 200);

  // The open page learns it from its status socket.
  await page.locator('.banned-card').waitFor({ timeout: WAIT });
  assert.match(await page.locator('.banned-card').textContent(), /bị khóa.*Khóa đến/s);
  await shot(page, 'banned-phone');

  // After a reload, logging in again says the same.
  await page.reload();
  await page.locator('.screen-auth').waitFor({ timeout: WAIT });
  await page.locator('input[name=username]').fill('an_banned');
  await page.locator('input[name=password]').fill(PASSWORD);
  await page.locator('button[type=submit]').click();
  await page.locator('.banned-card').waitFor({ timeout: WAIT });
  assert.deepEqual(page.problems, []);
});

async function shot(page, name) {
  await page.screenshot({ path: join(SHOTS, `${name}.png`) });
}
