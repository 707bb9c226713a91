// Clear messages for rate limits, lost connections and bans, each against a server of
// its own.

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { join, resolve } from 'node:path';
import { after, test } from 'node:test';

import { makeUser, matchedPair, PASSWORD, signedInPage } from '../lib/accounts.js';
import { DESKTOP, launch, newPage, PHONE } from '../lib/browser.js';
import { BIN, startServer } from '../lib/server.js';

const SHOTS = resolve(import.meta.dirname, '..', '..', 'docs', 'screenshots');
const WAIT = 15_000;

const browserReady = launch();
const servers = [];

after(async () => {
  await (await browserReady).close();
  for (const s of servers) await s.stop();
});

async function signup(page, base, username) {
  await page.goto(`${base}/#/signup`);
  await page.locator('input[name=email]').waitFor();
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
  // Said once, in the banner with the wait (the form's error line does not repeat it).
  assert.equal(await page.locator('.form-error').textContent(), '');
  assert.equal((await page.locator('body').innerText()).match(/Thử lại sau \d+ giây/g).length, 1);
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
  // The language switch still works on that screen.
  await page.locator('#lang-toggle').click();
  await page.locator('.banned-card', { hasText: 'Your account is banned' }).waitFor({ timeout: WAIT });
  await page.locator('#lang-toggle').click();
  await page.locator('.banned-card', { hasText: 'bị khóa' }).waitFor({ timeout: WAIT });

  // After a reload, logging in again says the same.
  await page.reload();
  // Signed out by the ban: the first screen, and from there the log-in form.
  await page.locator('#welcome-login').click({ timeout: WAIT });
  await page.locator('.screen-auth').waitFor({ timeout: WAIT });
  await page.locator('input[name=username]').fill('an_banned');
  await page.locator('input[name=password]').fill(PASSWORD);
  await page.locator('button[type=submit]').click();
  await page.locator('.banned-card').waitFor({ timeout: WAIT });
  assert.deepEqual(page.problems, []);
});

test('two tabs refreshing at once stay signed in; the older tab steps aside', async () => {
  const server = await startServer();
  servers.push(server);
  const browser = await browserReady;
  const first = await newPage(browser, PHONE);
  await signup(first.page, server.base, 'mai_tabs');
  const second = await first.context.newPage();
  second.problems = [];
  second.on('pageerror', (err) => second.problems.push(`pageerror: ${err.message}`));
  await second.goto(`${server.base}/`);
  await second.locator('.screen-profile').waitFor({ timeout: WAIT });
  // The newer tab's status socket replaced the older's (4007): the older says so.
  await first.page.locator('.hero-card', { hasText: 'Duet đang mở ở nơi khác' }).waitFor({ timeout: WAIT });

  // Both tabs lose their access token and reload at the same moment: both refresh with
  // the one refresh token in localStorage. Refreshes under the lock run one after the
  // other, each with the newest token; two at once would revoke the family.
  for (const page of [first.page, second]) await page.evaluate(() => sessionStorage.setItem('duet.access', 'expired'));
  await Promise.all([first.page.reload(), second.reload()]);
  for (const page of [first.page, second]) {
    await page.locator('.screen-profile, .hero-card').first().waitFor({ timeout: WAIT });
    assert.equal(await page.locator('.screen-auth').count(), 0, 'still signed in');
    assert.notEqual(await page.evaluate(() => sessionStorage.getItem('duet.access')), 'expired');
  }
  // The refresh token left in localStorage is the newest of the family, and works.
  const token = await first.page.evaluate(() => localStorage.getItem('duet.refresh'));
  const res = await fetch(`${server.base}/auth/refresh`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ refresh_token: token }),
  });
  assert.equal(res.status, 200);
  assert.deepEqual([...first.page.problems, ...second.problems], []);
});

test('a quick burst of messages is paced to the chat rate: each stored once, none refused, the socket kept', async () => {
  // Four frames at once, then two a second, and three refused frames a minute close the
  // socket (4008): typing frames count too, so unpaced, this burst would be refused and
  // the socket closed.
  const server = await startServer(['--msg-burst=4', '--msg-rate=2', '--max-invalid-frames=3']);
  servers.push(server);
  const browser = await browserReady;
  const fast = await signedInPage(browser, server.base, PHONE, await makeUser(server.base, 'kim_fast', { gender: 'female', preferred: 'male' }), 'vi');
  const calm = await signedInPage(browser, server.base, DESKTOP, await makeUser(server.base, 'bao_calm', { gender: 'male', preferred: 'female' }), 'en');
  let sockets = 0;
  const refused = [];
  await fast.routeWebSocket(/\/ws\/chat\//, (ws) => {
    sockets++;
    const upstream = ws.connectToServer();
    upstream.onMessage((message) => {
      if (typeof message === 'string' && JSON.parse(message).type === 'error') refused.push(message);
      ws.send(message);
    });
  });
  await matchedPair(browser, server.base, [fast, calm]);

  const texts = Array.from({ length: 8 }, (_, i) => `tin nhắn ${i + 1}`);
  const box = fast.locator('.composer textarea');
  for (const text of texts) {
    await box.fill(text);
    await box.press('Enter');
  }
  // Every message arrives, once, in order; none stays "sending" on the sender's page.
  await calm.locator('.msg-theirs').nth(texts.length - 1).waitFor({ timeout: WAIT });
  await fast.locator('.msg-mine[data-state=sending]').waitFor({ state: 'detached', timeout: WAIT });
  const received = await calm.$$eval('.msg-theirs .bubble', (els) => els.map((el) => el.textContent));
  assert.deepEqual(received, texts);
  const sent = await fast.$$eval('.msg-mine', (els) => els.map((el) => el.dataset.seq));
  assert.equal(new Set(sent).size, texts.length, 'each message stored once');
  assert.deepEqual(refused, [], 'the server refused nothing');
  assert.equal(sockets, 1, 'the chat socket was never closed');
  assert.equal(await fast.locator('.banner-warn', { hasText: 'quá nhanh' }).count(), 0);
  assert.deepEqual([...fast.problems, ...calm.problems], []);
});

test('a message lost on the way makes the page resume before it: every message shows once, in order', async () => {
  const server = await startServer([]);
  servers.push(server);
  const browser = await browserReady;
  const sender = await signedInPage(browser, server.base, DESKTOP, await makeUser(server.base, 'lan_gap', { gender: 'female', preferred: 'male' }), 'en');
  const reader = await signedInPage(browser, server.base, PHONE, await makeUser(server.base, 'minh_gap', { gender: 'male', preferred: 'female' }), 'en');
  // The reader's first chat socket loses the message with seq 2 on its way, as a
  // socket that fell behind would; later sockets pass everything.
  let sockets = 0;
  await reader.routeWebSocket(/\/ws\/chat\//, (ws) => {
    const lossy = sockets++ === 0;
    const upstream = ws.connectToServer();
    upstream.onMessage((message) => {
      if (lossy && typeof message === 'string' && JSON.parse(message).seq === 2) return;
      ws.send(message);
    });
  });
  await matchedPair(browser, server.base, [sender, reader]);
  const texts = ['one', 'two', 'three', 'four'];
  const box = sender.locator('.composer textarea');
  for (const text of texts) {
    await box.fill(text);
    await box.press('Enter');
    await sender.locator('.msg-mine:not([data-state=sending])', { hasText: text }).waitFor({ timeout: WAIT });
  }
  await reader.locator('.msg-theirs').nth(texts.length - 1).waitFor({ timeout: WAIT });
  const shown = await reader.$$eval('.msg-theirs .bubble', (els) => els.map((el) => el.textContent));
  assert.deepEqual(shown, texts, 'each message once, in order, the lost one included');
  assert.ok(sockets >= 2, 'the gap made the page reconnect');
  assert.deepEqual([...sender.problems, ...reader.problems], []);
});

test('an account deleted in the middle of a room: the partner sees why the room ended', async () => {
  const server = await startServer();
  servers.push(server);
  const browser = await browserReady;
  const leaving = await signedInPage(browser, server.base, PHONE, await makeUser(server.base, 'vy_leaving', { gender: 'female', preferred: 'male' }), 'vi');
  const staying = await signedInPage(browser, server.base, DESKTOP, await makeUser(server.base, 'long_staying', { gender: 'male', preferred: 'female' }), 'en');
  await matchedPair(browser, server.base, [leaving, staying]);

  // From the room to the profile page (the room stays), and the account goes.
  await leaving.locator('#nav-profile').click();
  await leaving.locator('#delete-account').click();
  await leaving.locator('dialog input[name=password]').fill(PASSWORD);
  await leaving.locator('dialog button[type=submit]').click();
  await leaving.locator('.screen-auth').waitFor({ timeout: WAIT });
  await leaving.locator('.banner-info', { hasText: 'Tài khoản của bạn đã được xóa.' }).waitFor({ timeout: WAIT });

  await staying.locator('.ended-card[data-reason=account_deleted]').waitFor({ timeout: WAIT });
  assert.equal(await staying.locator('.ended-reason').textContent(), 'Your partner deleted their account.');
  assert.deepEqual([...leaving.problems, ...staying.problems], []);
});

async function shot(page, name) {
  await page.screenshot({ path: join(SHOTS, `${name}.png`) });
}
