// The moderation console (#/admin): an administrator logs in, watches the dashboard's
// numbers move while two people chat, dismisses one report and bans from another (the
// banned user's page shows the ban), ends a room, bans a user permanently from their
// page (their page says so) and lifts it, and finds every action in the audit list.
// A user who is not an administrator sees "administrators only". Screenshots:
// docs/screenshots/admin-dashboard.png (desktop) and admin-phone.png.

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
let server;

after(async () => {
  await (await browserReady).close();
  await server?.stop();
});

async function shot(page, name) {
  await page.evaluate(() => document.activeElement?.blur?.());
  await page.screenshot({ path: join(SHOTS, `${name}.png`) });
}

/** An API call made by the page, with its own access token. */
function apiIn(page, method, path, body) {
  return page.evaluate(async ([m, p, b]) => {
    const headers = { Authorization: `Bearer ${sessionStorage.getItem('duet.access')}` };
    if (b !== undefined) headers['Content-Type'] = 'application/json';
    const res = await fetch(p, { method: m, headers, body: b === undefined ? undefined : JSON.stringify(b) });
    return { status: res.status, body: await res.json().catch(() => null) };
  }, [method, path, body]);
}

/** Fails when anything on the page is wider than the `width` px screen, naming it. */
async function fitsWidth(page, width, what) {
  const wide = await page.evaluate((w) => {
    if (document.documentElement.scrollWidth <= w) return null;
    const el = [...document.querySelectorAll('body *')].find((e) => e.getBoundingClientRect().right > w + 0.5 && !e.closest('.table-scroll'));
    return el ? `${el.tagName}.${el.className} (${Math.round(el.getBoundingClientRect().right)} px)` : `scrollWidth ${document.documentElement.scrollWidth}`;
  }, width);
  assert.equal(wide, null, `${what}: wider than ${width} px`);
}

/** The number a dashboard stat shows (`NaN` for "—"). */
async function stat(page, key) {
  const text = await page.locator(`[data-stat="${key}"] .stat-value`).textContent();
  return Number(text.replace(/[^\d.]/g, '') || NaN);
}

/** Waits until the dashboard stat `key` passes `check`. */
async function waitForStat(page, key, check, what) {
  const deadline = Date.now() + 20_000;
  for (;;) {
    const value = await stat(page, key);
    if (check(value)) return value;
    if (Date.now() > deadline) assert.fail(`${what}: ${key} is ${value}`);
    await page.waitForTimeout(250);
  }
}

async function send(page, text) {
  await page.locator('.composer textarea').fill(text);
  await page.locator('.composer textarea').press('Enter');
  await page.locator('.messages .msg-mine .bubble', { hasText: text }).waitFor({ timeout: WAIT });
}

test('the moderation console: live dashboard, reports, bans, rooms and the audit list', async () => {
  server = await startServer();
  const { base } = server;
  const browser = await browserReady;
  const made = spawnSync(BIN, ['admin', 'create', '--username', 'boss', `--data-dir=${server.dataDir}`], { input: `${PASSWORD}\n` });
  assert.equal(made.status, 0, String(made.stderr));

  const lan = await signedInPage(browser, base, PHONE, await makeUser(base, 'lan_mod', { gender: 'female', preferred: 'male' }), 'vi');
  const minh = await signedInPage(browser, base, DESKTOP, await makeUser(base, 'minh_mod', { gender: 'male', preferred: 'female' }), 'en');

  // Someone who is not an administrator: no link to the console, and the console
  // itself says it is for administrators only (the server answered 403).
  assert.equal(await lan.locator('#nav-admin').count(), 0);
  await lan.evaluate(() => (location.hash = '#/admin'));
  await lan.locator('.admin-forbidden', { hasText: 'Chỉ dành cho quản trị viên' }).waitFor({ timeout: WAIT });
  assert.equal(await lan.locator('.admin-tabs').count(), 0);
  assert.equal((await apiIn(lan, 'GET', '/admin/dashboard')).status, 403);
  await lan.evaluate(() => (location.hash = '#/'));
  await lan.locator('.hero-card button.btn-primary').waitFor({ timeout: WAIT });

  // The administrator logs in like anyone else and finds the link to the console.
  const { page: admin } = await newPage(browser, DESKTOP);
  await admin.goto(`${base}/app/icon.svg`);
  await admin.evaluate(() => localStorage.setItem('duet.lang', 'en'));
  await admin.goto(`${base}/#/login`);
  await admin.locator('input[name=username]').fill('boss');
  await admin.locator('input[name=password]').fill(PASSWORD);
  await admin.locator('button[type=submit]').click();
  await admin.locator('#nav-admin').click();
  await admin.locator('.admin-dashboard').waitFor({ timeout: WAIT });
  await admin.locator('.admin-updated', { hasText: 'Updated at' }).waitFor({ timeout: WAIT });
  assert.equal(await stat(admin, 'in_rooms'), 0);
  assert.equal(await stat(admin, 'rooms_active'), 0);
  assert.equal(await stat(admin, 'reports_open'), 0);

  // Two people match and chat: the dashboard (polling every 3 s) follows.
  await matchedPair(browser, base, [lan, minh]);
  await waitForStat(admin, 'online', (n) => n >= 2, 'both chatting users are online');
  for (let i = 1; i <= 3; i += 1) {
    await send(lan, `xin chào ${i}`);
    await send(minh, `hello ${i}`);
  }
  await waitForStat(admin, 'in_rooms', (n) => n === 2, 'two people in a room');
  await waitForStat(admin, 'rooms_active', (n) => n === 1, 'one active room');
  await waitForStat(admin, 'matches', (n) => n >= 1, 'a match in the last minute');
  await waitForStat(admin, 'messages', (n) => n > 0, 'messages per second');
  // The charts drew the minute in progress.
  await admin.locator('[data-chart="messages"] .chart-bar-now').waitFor({ timeout: WAIT });
  assert.ok(Number(await admin.locator('[data-chart="messages"] .chart-bar-now').getAttribute('height')) > 0);
  assert.match(await admin.locator('[data-chart="matches"]').getAttribute('aria-label'), /Matches per minute/);
  await admin.locator('[data-loop="matching"]', { hasText: 'Running' }).waitFor({ timeout: WAIT });

  // Each reports the other; the dashboard counts them.
  const roomId = Number(/#\/room\/(\d+)/.exec(lan.url())[1]);
  const byLan = await apiIn(lan, 'POST', `/chat/report/${roomId}`, { reason: 'harassment', details: 'rude after hello' });
  const byMinh = await apiIn(minh, 'POST', `/chat/report/${roomId}`, { reason: 'spam' });
  assert.equal(byLan.status, 201);
  assert.equal(byMinh.status, 201);
  await waitForStat(admin, 'reports_open', (n) => n === 2, 'two reports waiting');
  await admin.locator('.admin-tab[data-tab="reports"] .admin-tab-count', { hasText: '2' }).waitFor({ timeout: WAIT });
  await shot(admin, 'admin-dashboard');

  // The queue: newest first, with the reason, the note and the evidence.
  await admin.locator('.admin-tab[data-tab="reports"]').click();
  const cards = admin.locator('.report-card');
  await cards.first().waitFor({ timeout: WAIT });
  assert.deepEqual(await cards.evaluateAll((els) => els.map((el) => Number(el.dataset.reportId))), [byMinh.body.report_id, byLan.body.report_id]);
  const lanCard = admin.locator(`.report-card[data-report-id="${byLan.body.report_id}"]`);
  const minhCard = admin.locator(`.report-card[data-report-id="${byMinh.body.report_id}"]`);
  assert.match(await lanCard.textContent(), /Harassment/);
  assert.match(await lanCard.locator('.report-details').textContent(), /rude after hello/);
  assert.equal(await lanCard.locator('.evidence-msg').count(), 6);
  assert.match(await lanCard.locator('.evidence').textContent(), /xin chào 1.*hello 3/s);
  assert.match(await minhCard.textContent(), /No note/);

  // Dismiss minh's report against lan.
  await minhCard.locator('[data-action="dismiss"]').click();
  await admin.locator(`.report-card[data-report-id="${byMinh.body.report_id}"][data-state="dismissed"]`).waitFor({ timeout: WAIT });
  await minhCard.locator('.report-result', { hasText: 'Report dismissed' }).waitFor({ timeout: WAIT });

  // Ban minh for 3 days from lan's report: the dialog asks for the length and a reason.
  await lanCard.locator('[data-action="ban"]').click();
  const dialog = admin.locator('dialog[open]');
  await dialog.locator('input[name=days]').fill('3');
  await dialog.locator('button[type=submit]').click();
  await dialog.locator('.form-error', { hasText: 'Give a reason' }).waitFor({ timeout: WAIT });
  await dialog.locator('textarea[name=reason]').fill('harassment, see report');
  await dialog.locator('button[type=submit]').click();
  await admin.locator(`.report-card[data-report-id="${byLan.body.report_id}"][data-state="actioned"]`).waitFor({ timeout: WAIT });
  // minh's page shows the ban and its end; lan's room ended because of it.
  await minh.locator('.banned-card', { hasText: 'Banned until' }).waitFor({ timeout: WAIT });
  await lan.locator('.ended-card[data-reason="banned"]').waitFor({ timeout: WAIT });

  // The state filter: the open queue is empty now, the actioned one has lan's report.
  await admin.locator('#reports-state').selectOption('open');
  await admin.locator('.admin-reports .empty').waitFor({ timeout: WAIT });
  await admin.locator('#reports-state').selectOption('actioned');
  await admin.locator(`.report-card[data-report-id="${byLan.body.report_id}"]`).waitFor({ timeout: WAIT });
  assert.equal(await admin.locator('.report-card').count(), 1);

  // Two more people in a room; the administrator ends it.
  const chi = await signedInPage(browser, base, PHONE, await makeUser(base, 'chi_mod', { gender: 'female', preferred: 'male' }), 'vi');
  const duc = await signedInPage(browser, base, PHONE, await makeUser(base, 'duc_mod', { gender: 'male', preferred: 'female' }), 'en');
  await matchedPair(browser, base, [chi, duc]);
  const otherRoom = Number(/#\/room\/(\d+)/.exec(chi.url())[1]);
  await admin.locator('.admin-tab[data-tab="rooms"]').click();
  const row = admin.locator(`.rooms-table tr[data-room-id="${otherRoom}"]`);
  await row.waitFor({ timeout: WAIT });
  assert.match(await row.textContent(), /chi_mod.*duc_mod|#\d+.*#\d+/s);
  await row.locator('td', { hasText: '2/2' }).waitFor({ timeout: WAIT });
  await row.locator('[data-action="end"]').click();
  await admin.locator('dialog[open] .btn-danger').click();
  await chi.locator('.ended-card[data-reason="admin"]').waitFor({ timeout: WAIT });
  await duc.locator('.ended-card[data-reason="admin"]', { hasText: 'A moderator closed the room' }).waitFor({ timeout: WAIT });
  await admin.locator('.admin-rooms .report-result', { hasText: `Room #${otherRoom} ended` }).waitFor({ timeout: WAIT });
  await row.waitFor({ state: 'detached', timeout: WAIT });

  // Users: find lan by name, her page shows her history; ban her permanently.
  await admin.locator('.admin-tab[data-tab="users"]').click();
  await admin.locator('#users-q').fill('lan_m');
  await admin.locator('.admin-search button[type=submit]').click();
  // The full list shown before the search is replaced by the one match.
  await admin.waitForFunction(
    () => document.querySelectorAll('.users-table tbody tr[data-user-id]').length === 1,
    null,
    { timeout: WAIT },
  );
  await admin.locator('.users-table a', { hasText: 'lan_mod' }).click();
  const card = admin.locator('.user-card');
  await card.locator('h2', { hasText: 'lan_mod' }).waitFor({ timeout: WAIT });
  // The report against her (dismissed) is in her history.
  await admin.locator(`.admin-user .report-card[data-report-id="${byMinh.body.report_id}"]`).waitFor({ timeout: WAIT });
  await card.locator('[data-action="ban"]').click();
  await dialog.locator('input[value="permanent"]').check();
  await dialog.locator('textarea[name=reason]').fill('repeated abuse');
  await dialog.locator('button[type=submit]').click();
  await card.locator('.user-ban', { hasText: 'Banned permanently' }).waitFor({ timeout: WAIT });
  await lan.locator('.banned-card', { hasText: 'Tài khoản bị khóa vĩnh viễn' }).waitFor({ timeout: WAIT });
  // Logging in again says the same.
  await lan.reload();
  // Signed out by the ban: the first screen, and from there the log-in form.
  await lan.locator('#welcome-login').click({ timeout: WAIT });
  await lan.locator('.screen-auth').waitFor({ timeout: WAIT });
  await lan.locator('input[name=username]').fill('lan_mod');
  await lan.locator('input[name=password]').fill(PASSWORD);
  await lan.locator('button[type=submit]').click();
  await lan.locator('.banned-card', { hasText: 'vĩnh viễn' }).waitFor({ timeout: WAIT });
  // Lifted again.
  await card.locator('[data-action="unban"]').click();
  await card.locator('.user-ban', { hasText: 'Not banned' }).waitFor({ timeout: WAIT });
  await admin.locator('.admin-user .audit-table tr[data-action="unban"]').waitFor({ timeout: WAIT });

  // The audit list: who did what, newest first.
  await admin.locator('.admin-tab[data-tab="audit"]').click();
  await admin.locator('.admin-audit .audit-table tbody tr').first().waitFor({ timeout: WAIT });
  const actions = await admin.locator('.admin-audit .audit-table tbody tr').evaluateAll((els) => els.map((el) => el.dataset.action));
  for (const action of ['report_dismissed', 'room_ended', 'unban']) assert.ok(actions.includes(action), `${action} in ${actions}`);
  assert.ok(actions.includes('ban') || actions.includes('report_actioned'), `a ban in ${actions}`);
  assert.equal(actions[0], 'unban', 'newest first');
  assert.match(await admin.locator('.admin-audit .audit-table tbody tr').first().textContent(), /boss/);

  // The console in Vietnamese, on a phone-sized screen: nothing wider than the screen.
  await admin.locator('.admin-tab[data-tab="dashboard"]').click();
  await admin.locator('#lang-toggle').click();
  await admin.locator('.admin-header h1', { hasText: 'Bảng điều khiển kiểm duyệt' }).waitFor({ timeout: WAIT });
  await admin.setViewportSize({ width: 360, height: 780 });
  await admin.locator('.admin-updated', { hasText: 'Cập nhật lúc' }).waitFor({ timeout: WAIT });
  await fitsWidth(admin, 360, 'the dashboard');
  await admin.setViewportSize(PHONE.viewport);
  await shot(admin, 'admin-phone');
  await admin.locator('.admin-tab[data-tab="rooms"]').click();
  await admin.locator('.rooms-table').waitFor({ timeout: WAIT });
  await admin.setViewportSize({ width: 360, height: 780 });
  await fitsWidth(admin, 360, 'the rooms');

  for (const page of [admin, lan, minh, chi, duc]) assert.deepEqual(page.problems, []);
});
