// The whole product in two browsers: sign up, profile wizard, search, match, chat both
// ways with typing, a reload in the middle of the chat, a like round, keep, report and
// end; plus the language switch, the dark theme, HTML shown as text, emoji, and a
// server validation error under its field. Screenshots of the main screens go to
// docs/screenshots/.

import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { after, before, test } from 'node:test';

import { DESKTOP, launch, newPage, PHONE } from '../lib/browser.js';
import { portrait } from '../lib/png.js';
import { startServer } from '../lib/server.js';

const SHOTS = resolve(import.meta.dirname, '..', '..', 'docs', 'screenshots');
const TMP = resolve(import.meta.dirname, '..', 'output');
const WAIT = 15_000;

let server;
let browser;
let a; // Linh, on a phone, in Vietnamese
let b; // Minh, on a desktop, switches to English

async function shot(page, name) {
  await page.evaluate(() => document.activeElement?.blur?.());
  await page.screenshot({ path: join(SHOTS, `${name}.png`) });
}

/** Messages in the page as `[seq, text, state]`. */
function messages(page) {
  return page.$$eval('.messages .msg', (els) => els.map((el) => [el.dataset.seq, el.querySelector('.bubble').textContent, el.dataset.state]));
}

async function waitForMessage(page, text) {
  await page.locator('.messages .msg .bubble', { hasText: text }).last().waitFor({ timeout: WAIT });
}

/** How much detail the partner's photo shows: mean difference between neighbouring pixels. */
function sharpness(page) {
  return page.evaluate(async () => {
    const img = document.querySelector('.room-header .avatar img');
    if (!img || img.hidden || !img.src) return null;
    await img.decode();
    const canvas = document.createElement('canvas');
    canvas.width = 128;
    canvas.height = 128;
    const ctx = canvas.getContext('2d');
    ctx.drawImage(img, 0, 0, 128, 128);
    const { data } = ctx.getImageData(0, 0, 128, 128);
    let sum = 0;
    for (let y = 0; y < 128; y += 1) for (let x = 1; x < 128; x += 1) {
      const i = (y * 128 + x) * 4;
      sum += Math.abs(data[i] - data[i - 4]) + Math.abs(data[i + 1] - data[i - 3]) + Math.abs(data[i + 2] - data[i - 2]);
    }
    return sum / (128 * 127);
  });
}

before(async () => {
  mkdirSync(SHOTS, { recursive: true });
  mkdirSync(TMP, { recursive: true });
  writeFileSync(join(TMP, 'linh.png'), portrait(0));
  writeFileSync(join(TMP, 'minh.png'), portrait(90));
  writeFileSync(join(TMP, 'not-an-image.png'), 'this is not a picture');
  // Over the server's default avatar limit (5 MB).
  writeFileSync(join(TMP, 'too-big.png'), Buffer.alloc(6 * 1024 * 1024));
  // Round 1 opens 12 s after the match; each answer window is 10 s.
  server = await startServer(['--like-after=12s', '--like-answer-window=10s']);
  browser = await launch();
  a = await newPage(browser, PHONE);
  b = await newPage(browser, DESKTOP);
});

after(async () => {
  await browser?.close();
  await server?.stop();
});

async function signup(page, username) {
  await page.goto(`${server.base}/`);
  await page.locator('#lang-toggle').waitFor();
  await page.locator('#welcome-signup').click();
  // The address changes before the sign-up form replaces the login form: fill the
  // form only once it is the sign-up one (it alone has the email field).
  await page.locator('input[name=email]').waitFor();
  await page.locator('input[name=username]').fill(username);
  await page.locator('input[name=password]').fill('correct horse battery');
  await page.locator('button[type=submit]').click();
  await page.locator('.screen-profile').waitFor({ timeout: WAIT });
}

async function completeWizard(page, { nickname, dob, gender, preferred, needs, interests, photo }) {
  await page.locator('input[name=nickname]').fill(nickname);
  await page.locator('input[name=dob]').fill(dob);
  await page.locator(`input[name=gender][value=${gender}]`).check({ force: true });
  await page.locator('form button[type=submit]').click();
  for (const id of preferred) await page.locator(`input[name=preferred_gender][value=${id}]`).check({ force: true });
  for (const id of needs) await page.locator(`input[name=needs][value=${id}]`).check({ force: true });
  await page.locator('form button[type=submit]').click();
  for (const id of interests) await page.locator(`input[name=interests][value=${id}]`).check({ force: true });
  await page.locator('form button[type=submit]').click();
  await page.locator('input[name=file]').setInputFiles(photo);
  await page.locator('.avatar-preview-img:not([hidden])').waitFor({ timeout: WAIT });
  await page.locator('[data-field=file] .field-hint[aria-live]').filter({ hasText: /./ }).waitFor();
}

test('the first screen of a Vietnamese browser is Vietnamese, leads to sign-up first and passes the policy', async () => {
  await a.page.goto(`${server.base}/`);
  await a.page.locator('.screen-welcome').waitFor();
  assert.equal(await a.page.getAttribute('html', 'lang'), 'vi');
  assert.equal((await a.page.locator('#welcome-signup').textContent()).trim(), 'Đăng ký miễn phí');
  await shot(a.page, 'welcome-phone');
  await a.page.locator('#welcome-login').click();
  await a.page.locator('.screen-auth').waitFor();
  assert.equal((await a.page.locator('a.tab[aria-current=page]').textContent()).trim(), 'Đăng nhập');
  await shot(a.page, 'login-phone');
});

test('sign-up errors and the profile wizard, with a server validation error under its field', async () => {
  const { page } = a;
  await page.locator('a.tab[href="#/signup"]').click();
  await page.locator('input[name=email]').waitFor();
  // The server refuses a short password and a bad username, each under its field.
  await page.locator('input[name=username]').fill('x!');
  await page.locator('input[name=password]').fill('short');
  await page.locator('button[type=submit]').click();
  await page.locator('[data-field=username].has-error').waitFor({ timeout: WAIT });
  await page.locator('[data-field=password].has-error').waitFor();
  assert.equal(await page.locator('[data-field=password] .field-error').textContent(), 'Mật khẩu cần từ 8 đến 128 ký tự.');
  await page.locator('input[name=username]').fill('linh_e2e');
  await page.locator('input[name=password]').fill('correct horse battery');
  await page.locator('button[type=submit]').click();
  await page.locator('.screen-profile').waitFor({ timeout: WAIT });

  // Too young: the server's validation error appears under the birth date.
  await page.locator('input[name=nickname]').fill('Linh 🌸');
  await page.locator('input[name=dob]').fill('2015-03-01');
  await page.locator('input[name=gender][value=female]').check({ force: true });
  await page.locator('form button[type=submit]').click();
  const dobError = page.locator('[data-field=dob] .field-error');
  await dobError.filter({ hasText: /./ }).waitFor({ timeout: WAIT });
  assert.match(await dobError.textContent(), /Ngày sinh không hợp lệ.*18 tuổi/);
  assert.equal(await page.getAttribute('input[name=dob]', 'aria-invalid'), 'true');

  await page.locator('input[name=dob]').fill('1998-05-17');
  await page.locator('form button[type=submit]').click();
  await page.locator('input[name=preferred_gender][value=male]').check({ force: true });
  await page.locator('input[name=needs][value=friends]').check({ force: true });
  await page.locator('form button[type=submit]').click();
  for (const id of ['coffee', 'travel', 'film', 'music', 'food']) await page.locator(`input[name=interests][value=${id}]`).check({ force: true });
  // Five chosen: the others are disabled.
  assert.equal(await page.locator('input[name=interests][value=gym]').isDisabled(), true);
  await shot(page, 'profile-wizard-phone');
  await page.locator('form button[type=submit]').click();

  // A file over the limit the server gives in /meta/limits: said before any upload.
  const uploads = [];
  const onRequest = (request) => request.url().endsWith('/user/avatar') && uploads.push(request.method());
  page.on('request', onRequest);
  await page.locator('input[name=file]').setInputFiles(join(TMP, 'too-big.png'));
  await page.locator('[data-field=file].has-error', { hasText: 'tối đa 5 MB' }).waitFor({ timeout: WAIT });
  page.off('request', onRequest);
  assert.deepEqual(uploads, [], 'the oversize photo was not sent');
  // A file that is not an image: the server's error under the photo field.
  await page.locator('input[name=file]').setInputFiles(join(TMP, 'not-an-image.png'));
  await page.locator('[data-field=file].has-error').waitFor({ timeout: WAIT });
  await page.locator('input[name=file]').setInputFiles(join(TMP, 'linh.png'));
  await page.locator('[data-field=file]:not(.has-error) .avatar-preview-img:not([hidden])').waitFor({ timeout: WAIT });
  await page.locator('[data-field=file] .field-hint[aria-live]').filter({ hasText: /Đã lưu/ }).waitFor({ timeout: WAIT });
  await page.locator('form button[type=submit]').click();
  await page.locator('.hero-card button.btn-primary').waitFor({ timeout: WAIT });
});

test('the second user works in English', async () => {
  const { page } = b;
  await page.goto(`${server.base}/`);
  await page.locator('#lang-toggle').click();
  assert.equal(await page.getAttribute('html', 'lang'), 'en');
  assert.equal((await page.locator('#welcome-signup').textContent()).trim(), 'Sign up free');
  await signup(page, 'minh_e2e');
  assert.match(await page.locator('.screen-profile h1').textContent(), /Set up your profile/);
  await completeWizard(page, {
    nickname: 'Minh',
    dob: '1996-02-10',
    gender: 'male',
    preferred: ['female'],
    needs: ['friends', 'casual'],
    interests: ['coffee', 'music', 'hiking'],
    photo: join(TMP, 'minh.png'),
  });
  await page.locator('form button[type=submit]').click();
  await page.locator('.hero-card button.btn-primary', { hasText: 'Start searching' }).waitFor({ timeout: WAIT });
});

test('search, waiting state, a match that opens the room on both sides with the partner and the icebreaker', async () => {
  await a.page.locator('.hero-card button.btn-primary').click();
  await a.page.locator('.radar').waitFor({ timeout: WAIT });
  await a.page.locator('.waited', { hasText: /00:0[1-9]/ }).waitFor({ timeout: WAIT });
  // The waiting card and its Cancel button are not hidden from screen readers as busy.
  assert.equal(await a.page.locator('[aria-busy=true]').count(), 0);
  await shot(a.page, 'searching-phone');

  await b.page.locator('.hero-card button.btn-primary').click();
  // No match card to sit on: both are in the room, and each sees the other online.
  for (const { page } of [a, b]) {
    await page.locator('.screen-room .match-intro').waitFor({ timeout: WAIT });
    await page.locator('.presence[data-online=true]').waitFor({ timeout: WAIT });
  }
  assert.equal((await b.page.locator('.match-intro .match-intro-name').textContent()).trim(), 'Linh 🌸');
  assert.equal((await a.page.locator('.match-intro .match-intro-name').textContent()).trim(), 'Minh');
  assert.ok((await b.page.locator('.match-intro .icebreaker-text').textContent()).length > 5);
  // What both put in their profile is marked as shared (Linh: friends, coffee, travel,
  // film, music, food; Minh: friends, casual, coffee, music, hiking).
  const shared = (page) => page.$$eval('.match-intro .tag-shared', (els) => els.map((el) => el.dataset.id).sort());
  assert.deepEqual(await shared(a.page), ['coffee', 'friends', 'music']);
  assert.deepEqual(await shared(b.page), ['coffee', 'friends', 'music']);
  await b.page.locator('.room-header .avatar img:not([hidden])').waitFor({ timeout: WAIT });
  await shot(b.page, 'match-desktop');
  await a.page.locator('.room-header .avatar img:not([hidden])').waitFor({ timeout: WAIT });
  await shot(a.page, 'match-phone');
  assert.ok(await b.page.locator('.icebreaker-send').isVisible());
});

test('chat both ways: delivery states, typing, emoji, HTML shown as text', async () => {
  const send = async (page, text) => {
    await page.locator('.composer textarea').fill(text);
    await page.locator('.composer textarea').press('Enter');
  };
  // A sent message turns from pending into stored in place: the log (an aria-live
  // region) would read it twice if its element were replaced.
  await a.page.evaluate(() => {
    window.removedMessages = 0;
    new MutationObserver((records) => {
      for (const r of records) window.removedMessages += [...r.removedNodes].filter((n) => n.classList?.contains('msg')).length;
    }).observe(document.querySelector('.messages'), { childList: true });
  });
  await send(a.page, 'Chào bạn! ☕ Rất vui được gặp 👋🏽');
  await waitForMessage(b.page, 'Chào bạn! ☕ Rất vui được gặp 👋🏽');
  // B's page is visible, so it reads the message and A sees it as read.
  await a.page.locator('.msg-mine[data-state=read]').first().waitFor({ timeout: WAIT });
  assert.equal(await a.page.locator('.msg-mine').first().getAttribute('data-seq'), '1');
  assert.equal(await a.page.evaluate(() => window.removedMessages), 0);

  // Typing shows on the other side, then goes away with the message.
  await b.page.locator('.composer textarea').pressSequentially('Hi Linh', { delay: 30 });
  await a.page.locator('.typing.visible').waitFor({ timeout: WAIT });
  assert.match(await a.page.locator('.typing').textContent(), /Minh/);
  await b.page.locator('.composer textarea').press('Enter');
  await waitForMessage(a.page, 'Hi Linh');
  await a.page.locator('.typing:not(.visible)').waitFor({ timeout: WAIT });

  const html = '<img src=x onerror="window.pwned=1"><b>bold</b> & <script>window.pwned=2</script>';
  await send(b.page, html);
  await waitForMessage(a.page, '<b>bold</b>');
  const bubble = a.page.locator('.msg-theirs .bubble').last();
  assert.equal(await bubble.textContent(), html);
  assert.equal(await a.page.locator('.messages img, .messages b, .messages script').count(), 0);
  assert.equal(await a.page.evaluate(() => window.pwned), undefined);

  const family = '👨‍👩‍👧‍👦 đường phố Sài Gòn 🇻🇳';
  await send(b.page, family);
  await waitForMessage(a.page, family);
  assert.equal(await a.page.locator('.msg-theirs .bubble').last().textContent(), family);
  await b.page.locator('.msg-mine[data-state=sent], .msg-mine[data-state=read]').last().waitFor();
});

test('a reload in the middle of the chat loses and doubles nothing', async () => {
  const before = await messages(a.page);
  assert.equal(before.length, 4);
  // B writes while A's page is reloading; A gets it on resume.
  const reloading = a.page.reload();
  await b.page.locator('.composer textarea').fill('Sent while you were away');
  await b.page.locator('.composer textarea').press('Enter');
  await reloading;
  await waitForMessage(a.page, 'Sent while you were away');
  // Still signed in (the refresh token survived the reload), in the same room.
  const afterReload = await messages(a.page);
  assert.equal(afterReload.length, 5, JSON.stringify(afterReload));
  assert.deepEqual(afterReload.slice(0, 4).map((m) => m[1]), before.map((m) => m[1]));
  const seqs = afterReload.map((m) => m[0]);
  assert.equal(new Set(seqs).size, seqs.length, 'no message twice');
  assert.deepEqual(seqs.map(Number), [1, 2, 3, 4, 5]);

  await a.page.locator('.composer textarea').fill('Mình đã quay lại 😄');
  await a.page.locator('.composer textarea').press('Enter');
  await waitForMessage(b.page, 'Mình đã quay lại 😄');
  assert.equal((await messages(b.page)).length, 6);
  await a.page.locator('.msg-mine[data-seq="6"]').waitFor({ timeout: WAIT });
  assert.equal((await messages(a.page)).length, 6);
  // Each shows the other as online after the reload.
  await b.page.locator('.presence[data-online=true]').waitFor({ timeout: WAIT });
  await a.page.locator('.presence[data-online=true]').waitFor({ timeout: WAIT });
  await shot(a.page, 'chat-phone');
  await shot(b.page, 'chat-desktop');
});

test('dark theme', async () => {
  await b.page.locator('#theme-toggle').click();
  assert.equal(await b.page.getAttribute('html', 'data-theme'), 'dark');
  const bg = await b.page.evaluate(() => getComputedStyle(document.body).backgroundColor);
  assert.equal(bg, 'rgb(18, 17, 24)');
  await shot(b.page, 'chat-desktop-dark');
  // The choice is kept across a reload.
  await b.page.reload();
  await b.page.locator('.composer textarea').waitFor({ timeout: WAIT });
  assert.equal(await b.page.getAttribute('html', 'data-theme'), 'dark');
  // The composer shows before the socket's replay has brought every message back.
  await b.page.locator('.msg[data-seq="6"]').waitFor({ timeout: WAIT });
  assert.equal((await messages(b.page)).length, 6);
});

test('a like round answered yes by both sharpens the photo', async () => {
  for (const { page } of [a, b]) await page.locator('.like-panel:not([hidden])').waitFor({ timeout: 30_000 });
  assert.equal(await a.page.getAttribute('.screen-room', 'data-reveal'), '0');
  const blurred = await sharpness(a.page);
  assert.ok(blurred !== null, 'the partner photo is shown');
  assert.match(await a.page.locator('.like-panel .countdown').textContent(), /Còn 00:0\d/);
  await shot(a.page, 'like-phone');
  await a.page.locator('.like-panel .like-yes').click();
  await a.page.locator('.like-panel[data-answered=true]').waitFor({ timeout: WAIT });
  await b.page.locator('.like-panel .like-partner').waitFor({ timeout: WAIT });
  // B's answer closes the round; its HTTP answer is held back until the round's result
  // has come over the socket, the order a slow network can give.
  await b.page.evaluate(() => {
    window.likeAnswerHeld = true;
    const fetch = window.fetch;
    window.fetch = async (...args) => {
      const res = await fetch(...args);
      if (String(args[0]).includes('/chat/like/')) {
        await new Promise((resolve) => {
          const check = () => (document.querySelector('.like-panel[hidden]') ? resolve() : setTimeout(check, 20));
          check();
        });
        window.fetch = fetch;
        window.likeAnswerHeld = false;
      }
      return res;
    };
  });
  await b.page.locator('.like-panel .like-yes').click();
  for (const { page } of [a, b]) {
    await page.locator('.screen-room[data-reveal="1"]').waitFor({ timeout: WAIT });
    await page.locator('.screen-room[data-avatar-url$="-1"]').waitFor({ timeout: WAIT });
    await page.locator('.like-panel[hidden]').waitFor({ state: 'attached' });
  }
  // Nothing went wrong on B's page once the answer arrived.
  await b.page.waitForFunction(() => window.likeAnswerHeld === false);
  assert.equal(await b.page.locator('.banner-error').count(), 0);
  assert.deepEqual(b.page.problems, []);
  const sharper = await sharpness(a.page);
  assert.ok(sharper > blurred * 1.2, `level 1 is sharper than level 0 (${blurred} -> ${sharper})`);
});

test('keep, report with a reason, end, and search again', async () => {
  await a.page.locator('.room-actions button[aria-pressed]').click();
  await a.page.locator('.screen-room[data-kept=false] .room-actions button[aria-pressed=true]').waitFor({ timeout: WAIT });
  await b.page.locator('.room-actions button[aria-pressed]').click();
  for (const { page } of [a, b]) await page.locator('.screen-room[data-kept=true]').waitFor({ timeout: WAIT });

  await a.page.locator('.room-actions button', { hasText: 'Báo cáo' }).click();
  await a.page.locator('dialog input[value=harassment]').check();
  await a.page.locator('dialog textarea').fill('Thử báo cáo từ kiểm thử');
  await a.page.locator('dialog button[type=submit]').click();
  await a.page.locator('.banner-info', { hasText: 'Đã gửi báo cáo' }).waitFor({ timeout: WAIT });
  // With a banner shown, the composer is still on the phone's screen.
  const composer = await a.page.locator('.composer').boundingBox();
  assert.ok(composer.y + composer.height <= PHONE.viewport.height + 0.5, `composer bottom at ${composer.y + composer.height}`);
  // A second report of the same room is refused, and says so.
  await a.page.locator('.room-actions button', { hasText: 'Báo cáo' }).click();
  await a.page.locator('dialog button[type=submit]').click();
  await a.page.locator('dialog .form-error', { hasText: /đã báo cáo/ }).waitFor({ timeout: WAIT });
  await a.page.keyboard.press('Escape');
  await a.page.locator('dialog').waitFor({ state: 'detached' });

  // A has the End dialog open when B ends the room: the dialog goes with the room.
  await a.page.locator('.room-actions button', { hasText: 'Kết thúc' }).click();
  await a.page.locator('dialog[open]').waitFor({ timeout: WAIT });
  await b.page.locator('.room-actions button', { hasText: 'End' }).click();
  await b.page.locator('dialog button.btn-danger').click();
  for (const { page } of [a, b]) await page.locator('.ended-card[data-reason=ended_by_user]').waitFor({ timeout: WAIT });
  await a.page.locator('dialog').waitFor({ state: 'detached', timeout: WAIT });
  // Each side is told who ended it: B did.
  await a.page.locator('.ended-card[data-ended-by=partner]').waitFor({ timeout: WAIT });
  await b.page.locator('.ended-card[data-ended-by=me]').waitFor({ timeout: WAIT });
  assert.equal(await a.page.locator('.ended-reason').textContent(), 'Minh đã kết thúc cuộc trò chuyện.');
  assert.equal(await b.page.locator('.ended-reason').textContent(), 'You ended the conversation.');
  // Reports are still taken after the end: B reports from the ended screen (A already
  // reported this room, so A's second would be refused, as above).
  await b.page.locator('.ended-report-button', { hasText: 'Report Linh' }).click();
  await b.page.locator('dialog input[value=spam]').check();
  await b.page.locator('dialog button[type=submit]').click();
  await b.page.locator('.ended-reported').waitFor({ timeout: WAIT });
  await shot(a.page, 'ended-phone');

  await a.page.locator('.ended-card button.btn-primary').click();
  await a.page.locator('.radar').waitFor({ timeout: WAIT });
  await a.page.locator('.hero-card button.btn-secondary').click();
  await a.page.locator('.hero-card button.btn-primary').waitFor({ timeout: WAIT });
});

test('log out, log in by keyboard, edit the profile, and the pages ran cleanly under the policy', async () => {
  const { page } = a;
  await page.locator('#nav-logout').click();
  await page.locator('.screen-auth').waitFor({ timeout: WAIT });
  assert.equal(await page.evaluate(() => localStorage.getItem('duet.refresh')), null);
  await page.locator('input[name=username]').fill('linh_e2e');
  await page.locator('input[name=password]').fill('wrong password!');
  await page.locator('button[type=submit]').click();
  await page.locator('.form-error', { hasText: /Sai tên đăng nhập/ }).waitFor({ timeout: WAIT });
  // By keyboard: Enter in the password field submits.
  await page.locator('input[name=password]').fill('correct horse battery');
  await page.locator('input[name=password]').press('Enter');
  await page.locator('.hero-card button.btn-primary').waitFor({ timeout: WAIT });

  // The edit page: every section on one page, saved at once.
  await page.locator('#nav-profile').click();
  await page.locator('.profile-section').first().waitFor({ timeout: WAIT });
  assert.equal(await page.locator('.profile-section').count(), 4);
  assert.equal(await page.inputValue('input[name=nickname]'), 'Linh 🌸');
  assert.equal(await page.locator('input[name=interests]:checked').count(), 5);
  await page.locator('.avatar-preview-img:not([hidden])').waitFor({ timeout: WAIT });
  await page.locator('input[name=nickname]').fill('Linh ✨');
  await page.locator('form button[type=submit]').click();
  await page.locator('.banner-info', { hasText: 'Đã lưu hồ sơ' }).waitFor({ timeout: WAIT });
  const saved = await page.evaluate(async () => {
    const res = await fetch('/user/profile', { headers: { Authorization: `Bearer ${sessionStorage.getItem('duet.access')}` } });
    return (await res.json()).nickname;
  });
  assert.equal(saved, 'Linh ✨');
  assert.deepEqual(a.page.problems, []);
  assert.deepEqual(b.page.problems, []);
});

test('account deletion: a wrong password is refused in the dialog, the right one erases the account', async () => {
  const { page } = a;
  await page.locator('#delete-account').click();
  const dialog = page.locator('dialog');
  await page.waitForFunction(() => document.activeElement?.matches('dialog input[name=password]'));
  await dialog.locator('input[name=password]').fill('not my password');
  await dialog.locator('button[type=submit]').click();
  await dialog.locator('[data-field=password] .field-error', { hasText: 'Mật khẩu không đúng.' }).waitFor({ timeout: WAIT });
  assert.equal(await dialog.locator('input[name=password]').getAttribute('aria-invalid'), 'true');
  // Still signed in, still here: the refusal changed nothing.
  assert.equal(await page.locator('.screen-profile').count(), 1);

  await dialog.locator('input[name=password]').fill('correct horse battery');
  await dialog.locator('button[type=submit]').click();
  await page.locator('.screen-auth').waitFor({ timeout: WAIT });
  await page.locator('.banner-info', { hasText: 'Tài khoản của bạn đã được xóa.' }).waitFor({ timeout: WAIT });
  // The status socket's close (4001) after the deletion is not taken for an expired session.
  assert.equal(await page.locator('.banner-warn').count(), 0);
  assert.equal(await page.evaluate(() => localStorage.getItem('duet.refresh')), null);

  // The account is gone: its username and password no longer log in.
  await page.locator('input[name=username]').fill('linh_e2e');
  await page.locator('input[name=password]').fill('correct horse battery');
  await page.locator('button[type=submit]').click();
  await page.locator('.form-error', { hasText: /Sai tên đăng nhập/ }).waitFor({ timeout: WAIT });
  assert.equal(await page.locator('.banner-warn').count(), 0);
  assert.deepEqual(page.problems, []);
});
