// The web client as a product (issue #19): a first screen that says what Duet is, in the
// browser's language, with the count of people online; a language switch that keeps what was typed,
// a match that opens the room on both sides (Back stays in it), the icebreaker sent
// with one tap, and a stalled network noticed on both sides (one banner, unsent
// messages marked, presence unknown; the partner sees "away" within 30 s).

import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';

import { makeUser, matchedPair, PASSWORD, signedInPage } from '../lib/accounts.js';
import { DESKTOP, launch, newPage, PHONE } from '../lib/browser.js';
import { startProxy } from '../lib/proxy.js';
import { startServer } from '../lib/server.js';

const WAIT = 15_000;

let server;
let browser;

before(async () => {
  server = await startServer();
  browser = await launch();
});

after(async () => {
  await browser?.close();
  await server?.stop();
});

async function signupOverApi(username) {
  const res = await fetch(`${server.base}/auth/signup`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ username, password: PASSWORD }),
  });
  const text = await res.text();
  assert.ok(res.ok, `${res.status} ${text}`);
  return JSON.parse(text);
}

test('switching the language keeps the wizard\'s step and what was typed and chosen', async () => {
  const tokens = await signupOverApi('lang_wizard');
  const { page } = await newPage(browser, PHONE);
  await page.goto(`${server.base}/app/icon.svg`);
  await page.evaluate((refresh) => localStorage.setItem('duet.refresh', refresh), tokens.refresh_token);
  await page.goto(`${server.base}/`);
  await page.locator('.screen-profile').waitFor({ timeout: WAIT });
  assert.equal(await page.getAttribute('html', 'lang'), 'vi');

  await page.locator('input[name=nickname]').fill('Thảo');
  await page.locator('input[name=dob]').fill('1997-08-09');
  await page.locator('input[name=gender][value=female]').check({ force: true });
  await page.locator('#lang-toggle').click();
  assert.equal(await page.getAttribute('html', 'lang'), 'en');
  await page.locator('.screen-profile h1', { hasText: 'Set up your profile' }).waitFor();
  assert.equal(await page.inputValue('input[name=nickname]'), 'Thảo');
  assert.equal(await page.inputValue('input[name=dob]'), '1997-08-09');
  assert.equal(await page.locator('input[name=gender][value=female]').isChecked(), true);

  // Step 2, half filled in: the switch back keeps the step and the choices.
  await page.locator('form button[type=submit]').click();
  await page.locator('input[name=needs]').first().waitFor({ timeout: WAIT });
  await page.locator('input[name=preferred_gender][value=male]').check({ force: true });
  await page.locator('input[name=needs][value=casual]').check({ force: true });
  const stepLabel = await page.locator('.step-label').textContent();
  await page.locator('#lang-toggle').click();
  assert.equal(await page.getAttribute('html', 'lang'), 'vi');
  await page.locator('.step-label', { hasText: /2/ }).waitFor();
  assert.notEqual(await page.locator('.step-label').textContent(), stepLabel, 'the step label is in Vietnamese now');
  assert.equal(await page.locator('input[name=preferred_gender][value=male]').isChecked(), true);
  assert.equal(await page.locator('input[name=needs][value=casual]').isChecked(), true);
  assert.deepEqual(page.problems, []);
  await page.context().close();
});

test('the log-in form keeps what was typed across a language switch', async () => {
  const { page } = await newPage(browser, DESKTOP);
  await page.goto(`${server.base}/#/login`);
  await page.locator('input[name=username]').fill('someone');
  await page.locator('input[name=password]').fill('a password');
  await page.locator('#lang-toggle').click();
  await page.locator('a.tab[aria-current=page]', { hasText: 'Log in' }).waitFor();
  assert.equal(await page.inputValue('input[name=username]'), 'someone');
  assert.equal(await page.inputValue('input[name=password]'), 'a password');
  await page.context().close();
});

test('in a room: the icebreaker goes with one tap, Back keeps the room and its socket, a half-typed message survives a language switch', async () => {
  const an = await makeUser(server.base, 'room_an', { gender: 'female', preferred: 'male' });
  const binh = await makeUser(server.base, 'room_binh', { gender: 'male', preferred: 'female' });
  const a = await signedInPage(browser, server.base, PHONE, an, 'vi');
  const b = await signedInPage(browser, server.base, DESKTOP, binh, 'en');
  const sockets = { opened: 0, closed: 0 };
  a.on('websocket', (ws) => {
    if (!ws.url().includes('/ws/chat/')) return;
    sockets.opened += 1;
    ws.on('close', () => (sockets.closed += 1));
  });
  await matchedPair(browser, server.base, [a, b]);
  await b.locator('.presence[data-online=true]').waitFor({ timeout: WAIT });
  assert.equal(sockets.opened, 1);

  // The icebreaker, one tap: sent as B's first message; the tap goes on both sides.
  const icebreaker = (await b.locator('.match-intro .icebreaker-text').textContent()).trim();
  assert.ok(icebreaker.length > 5);
  await b.locator('.icebreaker-send').click();
  await a.locator('.msg-theirs .bubble', { hasText: icebreaker }).waitFor({ timeout: WAIT });
  await b.locator('.msg-mine[data-seq="1"]').waitFor({ timeout: WAIT });
  for (const page of [a, b]) assert.equal(await page.locator('.icebreaker-send').isVisible(), false);

  // Back from the room leads back to it: the same screen, the same socket.
  await a.evaluate(() => (window.roomScreen = document.querySelector('.screen-room')));
  await a.goBack();
  await a.waitForFunction(() => /^#\/room\/\d+$/.test(location.hash));
  await a.waitForTimeout(500);
  assert.equal(await a.evaluate(() => document.querySelector('.screen-room') === window.roomScreen), true, 'the room was not rebuilt');
  assert.deepEqual(sockets, { opened: 1, closed: 0 });
  assert.equal(await b.locator('.presence').getAttribute('data-online'), 'true');

  // A half-typed message, then the language: the draft stays, the words change.
  await a.locator('.composer textarea').fill('Chào bạn, mình là An và');
  await a.locator('#lang-toggle').click();
  await a.locator('.composer textarea[placeholder="Type a message…"]').waitFor({ timeout: WAIT });
  assert.equal(await a.inputValue('.composer textarea'), 'Chào bạn, mình là An và');
  await a.locator('.composer textarea').press('Enter');
  await b.locator('.msg-theirs .bubble', { hasText: 'mình là An và' }).waitFor({ timeout: WAIT });
  assert.equal(await a.inputValue('.composer textarea'), '');
  assert.deepEqual(a.problems, []);
  assert.deepEqual(b.problems, []);
  await a.context().close();
  await b.context().close();
});

test('a stalled network: one banner within 15 s, the message marked unsent and the partner unknown; the partner sees away within 30 s; all sent once back', async () => {
  // A reaches the server through a proxy that can stall; B directly. The server runs
  // its default keepalive.
  const proxy = await startProxy(server.port);
  try {
    const cam = await makeUser(server.base, 'stall_cam', { gender: 'female', preferred: 'male' });
    const duc = await makeUser(server.base, 'stall_duc', { gender: 'male', preferred: 'female' });
    const a = await signedInPage(browser, proxy.base, PHONE, cam, 'en');
    const b = await signedInPage(browser, server.base, DESKTOP, duc, 'en');
    await matchedPair(browser, server.base, [a, b]);
    for (const page of [a, b]) await page.locator('.presence[data-online=true]').waitFor({ timeout: WAIT });
    const headerY = async () => (await a.locator('.room-header').boundingBox()).y;
    const before = await headerY();

    const stalledAt = Date.now();
    proxy.stall();
    await a.locator('.composer textarea').fill('Are you still there?');
    await a.locator('.composer textarea').press('Enter');
    // One banner (the status socket and the chat socket both lost the link), in time.
    await a.locator('.banner', { hasText: 'Connection lost' }).waitFor({ timeout: 15_000 - (Date.now() - stalledAt) });
    const noticedAfter = Date.now() - stalledAt;
    await a.waitForTimeout(1500); // the other socket's verdict, a moment later
    assert.equal(await a.locator('.banners .banner').count(), 1, 'one banner');
    await a.locator('.msg-mine[data-state=unsent]', { hasText: 'Are you still there?' }).waitFor({ timeout: WAIT });
    assert.equal(await a.locator('.presence').getAttribute('data-online'), 'unknown');
    // The banner floats: the room did not move down.
    assert.equal(await headerY(), before, 'the banner floats over the room');

    // The partner sees A away once the server gave up on the silent socket.
    await b.locator('.presence[data-online=false]').waitFor({ timeout: 30_000 - (Date.now() - stalledAt) });
    const awayAfter = Date.now() - stalledAt;

    proxy.restore();
    await b.locator('.msg-theirs .bubble', { hasText: 'Are you still there?' }).waitFor({ timeout: WAIT });
    await a.locator('.banners .banner').waitFor({ state: 'detached', timeout: WAIT });
    await a.locator('.msg-mine[data-state=sent], .msg-mine[data-state=read]').waitFor({ timeout: WAIT });
    for (const page of [a, b]) await page.locator('.presence[data-online=true]').waitFor({ timeout: WAIT });
    assert.equal(await b.locator('.msg-theirs').count(), 1, 'stored and shown once');

    // The browser's own offline event is believed at once.
    await a.context().setOffline(true);
    await a.locator('.banner', { hasText: 'Connection lost' }).waitFor({ timeout: 3000 });
    await a.context().setOffline(false);
    await a.locator('.banners .banner').waitFor({ state: 'detached', timeout: WAIT });
    await a.locator('.presence[data-online=true]').waitFor({ timeout: WAIT });
    assert.deepEqual(a.problems, []);
    assert.deepEqual(b.problems, []);
    console.log(`stall noticed by the page after ${noticedAfter} ms; partner shown away after ${awayAfter} ms`);
    await a.context().close();
    await b.context().close();
  } finally {
    await proxy.close();
  }
});

/** Elements under `selector` whose content is wider than their box, and the page's overflow. */
function overflow(page, selector) {
  return page.evaluate((sel) => ({
    clipped: [...document.querySelectorAll(sel)].filter((el) => el.offsetParent && el.scrollWidth > el.clientWidth + 1).map((el) => el.textContent.trim()),
    // A page wider than the phone makes a mobile browser zoom out (innerWidth grows).
    pageWider: document.documentElement.scrollWidth > window.innerWidth || window.innerWidth !== screen.width,
  }), selector);
}

test('phones: the room header fits 360 px after Keep, the top bar fits 320 px, Keep says what it did, the details drawer closes', async () => {
  const em = await makeUser(server.base, 'phone_em', { gender: 'female', preferred: 'male' });
  const phuc = await makeUser(server.base, 'phone_phuc', { gender: 'male', preferred: 'female' });
  const narrow = { ...PHONE, viewport: { width: 360, height: 740 } };
  const a = await signedInPage(browser, server.base, narrow, em, 'vi');
  const b = await signedInPage(browser, server.base, { ...PHONE, viewport: { width: 320, height: 640 } }, phuc, 'vi');
  assert.deepEqual(await overflow(b, '.topbar .btn'), { clipped: [], pageWider: false }, 'the top bar at 320 px');
  await matchedPair(browser, server.base, [a, b]);

  // Keep, on a phone: the button and a banner say so (the side panel is hidden there).
  await a.locator('.room-actions button[aria-pressed]').click();
  await a.locator('.room-actions button[aria-pressed=true]').waitFor({ timeout: WAIT });
  await a.locator('.banner', { hasText: 'Bạn muốn giữ phòng' }).waitFor({ timeout: WAIT });
  await b.locator('.room-actions button[aria-pressed]').click();
  for (const page of [a, b]) await page.locator('.banner', { hasText: 'Cả hai đã giữ phòng' }).waitFor({ timeout: WAIT });
  assert.deepEqual(await overflow(a, '.room-header .btn'), { clipped: [], pageWider: false }, 'the room header at 360 px');
  assert.deepEqual(await overflow(b, '.room-header .btn, .topbar .btn'), { clipped: [], pageWider: false }, 'the room at 320 px');

  // The details drawer: opened by its button, closed by its own close button, by the
  // backdrop and by Escape; focus goes back to the button.
  const toggle = a.locator('.details-toggle');
  await toggle.click();
  const aside = a.locator('.room-aside');
  await aside.locator('.aside-close').waitFor({ timeout: WAIT });
  assert.equal(await toggle.getAttribute('aria-expanded'), 'true');
  await aside.locator('.aside-close').click();
  await a.locator('.screen-room:not(.show-details)').waitFor();
  assert.equal(await a.evaluate(() => document.activeElement?.classList.contains('details-toggle')), true);
  await toggle.click();
  await a.keyboard.press('Escape');
  await a.locator('.screen-room:not(.show-details)').waitFor();
  await toggle.click();
  await a.locator('.details-backdrop').click({ position: { x: 10, y: 300 } });
  await a.locator('.screen-room:not(.show-details)').waitFor();
  assert.equal(await toggle.getAttribute('aria-expanded'), 'false');
  assert.deepEqual(a.problems, []);
  await a.context().close();
  await b.context().close();
});

test('sign-ups: 30 browsers behind one address all sign up; a sixth from one browser in an hour is refused, said once', async () => {
  // The server's own sign-up limits (5 an hour per device, 60 per address), not the
  // generous ones the other tests run with.
  const limited = await startServer(['--rate-signup=5/h', '--rate-signup-address=60/h']);
  try {
    const signUp = async (page, username) => {
      await page.goto(`${limited.base}/#/signup`);
      await page.locator('input[name=email]').waitFor({ timeout: WAIT });
      await page.locator('input[name=username]').fill(username);
      await page.locator('input[name=password]').fill(PASSWORD);
      await page.locator('button[type=submit]').click();
    };
    // 30 people in one café: each browser (its own storage, so its own device id)
    // signs up once, all from 127.0.0.1.
    for (let n = 0; n < 30; n += 1) {
      const { context, page } = await newPage(browser, PHONE);
      await signUp(page, `cafe_${n}`);
      await page.locator('.screen-profile').waitFor({ timeout: WAIT });
      await context.close();
    }
    // One browser: five sign-ups, then the sixth is refused, with one message.
    const { context, page } = await newPage(browser, DESKTOP);
    await page.goto(`${limited.base}/app/icon.svg`);
    await page.evaluate(() => localStorage.setItem('duet.lang', 'en'));
    for (let n = 0; n < 5; n += 1) {
      await signUp(page, `one_browser_${n}`);
      await page.locator('.screen-profile').waitFor({ timeout: WAIT });
      await page.locator('#nav-logout').click();
      await page.locator('.screen-auth').waitFor({ timeout: WAIT });
    }
    await signUp(page, 'one_browser_5');
    await page.locator('.banner', { hasText: 'Too many requests' }).waitFor({ timeout: WAIT });
    await page.waitForTimeout(300);
    const said = await page.locator('body').evaluate((body) => (body.innerText.match(/Too many requests/g) || []).length);
    assert.equal(said, 1, 'the rate limit is said once');
    assert.equal(await page.locator('.screen-auth').count(), 1, 'still on the sign-up page');
    assert.deepEqual(page.problems, []);
    await context.close();
  } finally {
    await limited.stop();
  }
});

test('attention while the tab is hidden: unread count in the title, a dot on the icon, opt-in notifications for the match and messages', async () => {
  const gia = await makeUser(server.base, 'attn_gia', { gender: 'female', preferred: 'male' });
  const hung = await makeUser(server.base, 'attn_hung', { gender: 'male', preferred: 'female' });
  const a = await signedInPage(browser, server.base, DESKTOP, gia, 'en');
  const b = await signedInPage(browser, server.base, PHONE, hung, 'en');
  // A browser that grants notifications, recorded instead of shown; vibrations too.
  await a.context().addInitScript(() => {
    window.notes = [];
    window.vibrations = 0;
    window.Notification = class {
      static permission = 'default';
      static requestPermission() {
        window.Notification.permission = 'granted';
        return Promise.resolve('granted');
      }
      constructor(title, options) {
        window.notes.push([title, options.body, options.tag]);
      }
      close() {}
    };
    navigator.vibrate = () => {
      window.vibrations += 1;
      return true;
    };
  });
  await a.reload();
  await a.locator('.notify-toggle').click();
  await a.locator('.notify-toggle[aria-pressed=true]').waitFor({ timeout: WAIT });

  await a.locator('.hero-card button.btn-primary').click();
  await a.locator('.radar').waitFor({ timeout: WAIT });
  // A switches to another tab while waiting.
  const setHidden = (page, isHidden) => page.evaluate((value) => {
    Object.defineProperty(document, 'visibilityState', { configurable: true, get: () => (value ? 'hidden' : 'visible') });
    document.dispatchEvent(new Event('visibilitychange'));
  }, isHidden);
  await setHidden(a, true);
  await b.locator('.hero-card button.btn-primary').click();
  await a.locator('.composer textarea').waitFor({ timeout: WAIT });
  await b.locator('.composer textarea').waitFor({ timeout: WAIT });
  await a.waitForFunction(() => window.notes.some((n) => n[2] === 'duet-match'));

  for (const text of ['Hello Gia!', 'Are you there?']) {
    await b.locator('.composer textarea').fill(text);
    await b.locator('.composer textarea').press('Enter');
    await a.locator('.msg-theirs .bubble', { hasText: text }).waitFor({ timeout: WAIT });
  }
  assert.equal(await a.title(), '(2) Duet');
  await a.waitForFunction(() => document.querySelector('link[rel=icon]').getAttribute('href').startsWith('data:image/svg+xml'));
  const notes = await a.evaluate(() => window.notes);
  assert.deepEqual(notes.filter((n) => n[2] === 'duet-message').map((n) => n[1]), ['attn_hung: Hello Gia!', 'attn_hung: Are you there?']);
  assert.ok(await a.evaluate(() => window.vibrations) >= 3, 'vibrated for the match and each message');
  // Not read while hidden: B's messages stay "sent".
  assert.equal(await b.locator('.msg-mine[data-state=read]').count(), 0);

  // Back to the tab: the count and the dot go, the messages are read.
  await setHidden(a, false);
  await a.waitForFunction(() => document.title === 'Duet' && /^\/app\/icon\.[0-9a-f]{10}\.svg$/.test(document.querySelector('link[rel=icon]').getAttribute('href')));
  await b.locator('.msg-mine[data-state=read]').first().waitFor({ timeout: WAIT });
  // While visible, nothing is notified.
  await b.locator('.composer textarea').fill('Now you see me');
  await b.locator('.composer textarea').press('Enter');
  await a.locator('.msg-theirs .bubble', { hasText: 'Now you see me' }).waitFor({ timeout: WAIT });
  assert.equal(await a.title(), 'Duet');
  assert.equal((await a.evaluate(() => window.notes)).length, notes.length);
  assert.deepEqual(a.problems, []);
  await a.context().close();
  await b.context().close();
});

test('one tap to the next stranger: End and meet someone new ends the room and searches at once', async () => {
  const lan = await makeUser(server.base, 'next_lan', { gender: 'female', preferred: 'male' });
  const kha = await makeUser(server.base, 'next_kha', { gender: 'male', preferred: 'female' });
  const a = await signedInPage(browser, server.base, PHONE, lan, 'en');
  const b = await signedInPage(browser, server.base, DESKTOP, kha, 'en');
  await matchedPair(browser, server.base, [a, b]);
  await a.locator('.room-actions button', { hasText: 'End' }).click();
  await a.locator('dialog .end-next').click();
  // A is searching again, and never saw the ended screen; B is told A ended it.
  await a.locator('.radar').waitFor({ timeout: WAIT });
  assert.equal(await a.locator('.ended-card').count(), 0);
  await a.waitForTimeout(500);
  assert.equal(await a.locator('.radar').count(), 1, 'still searching');
  await b.locator('.ended-card[data-ended-by=partner]').waitFor({ timeout: WAIT });
  // Cancelled, so the tests after this one do not meet a searching Lan.
  await a.locator('.hero-card button.btn-secondary').click();
  await a.locator('.hero-card button.btn-primary').waitFor({ timeout: WAIT });
  assert.deepEqual(a.problems, []);
  await a.context().close();
  await b.context().close();
});

test('the like round explained: what it is the first time, the time to the next round, and a warning on the round that can end the room', async () => {
  const quick = await startServer(['--like-after=5s', '--like-answer-window=4s']);
  try {
    const mai = await makeUser(quick.base, 'like_mai', { gender: 'female', preferred: 'male' });
    const son = await makeUser(quick.base, 'like_son', { gender: 'male', preferred: 'female' });
    const a = await signedInPage(browser, quick.base, PHONE, mai, 'en');
    const b = await signedInPage(browser, quick.base, DESKTOP, son, 'en');
    await matchedPair(browser, quick.base, [a, b]);
    // Before the first round: when it opens.
    await a.locator('.like-next', { hasText: /Next .* round in 00:0\d/ }).waitFor({ timeout: WAIT });
    // The first round explains itself once; it is not yet decisive.
    await a.locator('.like-panel:not([hidden]) .like-explain').waitFor({ timeout: WAIT });
    assert.match(await a.locator('.like-explain').textContent(), /Two rounds in a row/);
    assert.equal(await a.locator('.like-panel').getAttribute('data-decisive'), 'false');
    await a.locator('.like-explained').click();
    await a.locator('.like-explain').waitFor({ state: 'detached' });
    await a.locator('.like-no').click();
    await b.locator('.like-no').click();
    // Between rounds: the time to the next one; then the second round warns.
    await a.locator('.like-next:not([hidden])').waitFor({ timeout: WAIT });
    await a.locator('.like-panel:not([hidden])[data-decisive=true] .like-warning').waitFor({ timeout: WAIT });
    assert.equal(await a.locator('.like-explain').count(), 0, 'explained once');
    await b.locator('.like-panel:not([hidden])[data-decisive=true]').waitFor({ timeout: WAIT });
    await a.locator('.like-no').click();
    await b.locator('.like-no').click();
    for (const page of [a, b]) await page.locator('.ended-card[data-reason=no_mutual_like]').waitFor({ timeout: WAIT });
    assert.deepEqual(a.problems, []);
    await a.context().close();
    await b.context().close();
  } finally {
    await quick.stop();
  }
});

test('the reveal as a moment: the level on the photo, a tap enlarges it; an emoji picker in the composer', async () => {
  const yen = await makeUser(server.base, 'reveal_yen', { gender: 'female', preferred: 'male' });
  const tam = await makeUser(server.base, 'reveal_tam', { gender: 'male', preferred: 'female' });
  const a = await signedInPage(browser, server.base, { ...PHONE, viewport: { width: 320, height: 640 } }, yen, 'en');
  const b = await signedInPage(browser, server.base, DESKTOP, tam, 'en');
  await matchedPair(browser, server.base, [a, b]);
  assert.equal(await a.locator('.room-header .reveal-pill').textContent(), '0/2');
  await a.locator('.photo-button').click();
  await a.locator('dialog .photo-dialog .reveal-badge', { hasText: 'Photo reveal 0/2' }).waitFor({ timeout: WAIT });
  await a.keyboard.press('Escape');
  await a.locator('dialog').waitFor({ state: 'detached' });

  await a.locator('.composer textarea').fill('Party ');
  await a.locator('.emoji-toggle').click();
  await a.locator('.emoji-picker:not([hidden]) .emoji', { hasText: '🎉' }).click();
  assert.equal(await a.inputValue('.composer textarea'), 'Party 🎉');
  assert.deepEqual(await a.evaluate(() => ({ wider: document.documentElement.scrollWidth > innerWidth, w: innerWidth })), { wider: false, w: 320 });
  await a.locator('.composer textarea').press('Enter');
  await b.locator('.msg-theirs .bubble', { hasText: 'Party 🎉' }).waitFor({ timeout: WAIT });
  assert.equal(await a.locator('.emoji-picker').isHidden(), true, 'the picker closes with the message sent');
  assert.deepEqual(a.problems, []);
  await a.context().close();
  await b.context().close();
});

test('the first screen follows the browser\'s language, says how Duet works, its rules and privacy, and counts who is online', async () => {
  const fresh = await startServer();
  try {
    // Someone is here: a signed-in page keeps its status socket open.
    const tokens = await makeUser(fresh.base, 'here_now', { gender: 'female', preferred: 'any' });
    const present = await signedInPage(browser, fresh.base, DESKTOP, tokens, 'vi');
    // Its socket may register a moment after the page shows; the server counts every
    // 10 s at most, so wait until the count has it before the first screen asks.
    for (const deadline = Date.now() + WAIT; ;) {
      const { online } = await (await fetch(`${fresh.base}/meta/online`)).json();
      if (online === 1) break;
      assert.ok(Date.now() < deadline, `the count never reached 1 (${online})`);
      await new Promise((resolve) => setTimeout(resolve, 500));
    }

    // A browser in English gets English, without a choice made before.
    const english = await newPage(browser, { ...PHONE, locale: 'en-US' });
    await english.page.goto(`${fresh.base}/`);
    await english.page.locator('.screen-welcome').waitFor({ timeout: WAIT });
    assert.equal(await english.page.getAttribute('html', 'lang'), 'en');
    assert.deepEqual(await english.page.locator('.welcome-step h3').allTextContents(), ['Tell us a little', 'Get matched', 'Like, reveal, keep']);
    assert.match(await english.page.locator('.welcome-rules h2').textContent(), /^18\+/);
    assert.match(await english.page.locator('.welcome-rules').textContent(), /aged 18 and over/);
    assert.match(await english.page.locator('.welcome-privacy').textContent(), /messages are erased when the room ends/);
    await english.page.locator('.welcome-online', { hasText: 'Online now: 1' }).waitFor({ timeout: WAIT });
    // Sign up comes first, on screen and for the keyboard (it has the focus).
    assert.deepEqual(await english.page.$$eval('.welcome-actions .btn', (els) => els.map((el) => el.id)), ['welcome-signup', 'welcome-login']);
    assert.equal(await english.page.evaluate(() => document.activeElement?.id), 'welcome-signup');
    await english.page.locator('#welcome-signup').click();
    await english.page.locator('.screen-auth input[name=email]').waitFor();
    assert.deepEqual(english.page.problems, []);
    await english.context.close();

    // A browser in a language Duet does not speak gets Vietnamese.
    const french = await newPage(browser, { ...PHONE, locale: 'fr-FR' });
    await french.page.goto(`${fresh.base}/#/room/12`);
    await french.page.locator('.screen-welcome').waitFor({ timeout: WAIT });
    assert.equal(await french.page.getAttribute('html', 'lang'), 'vi');
    assert.equal(await french.page.evaluate(() => location.hash), '#/', 'a signed-out deep link leads to the first screen');
    await french.context.close();
    await present.context().close();
  } finally {
    await fresh.stop();
  }
});

test('installable: a manifest the browser reads, a service worker that keeps the shell, and the offline page when the server cannot be reached', async () => {
  let fresh = await startServer();
  const { context, page } = await newPage(browser, { ...PHONE, locale: 'en-US' });
  try {
    await page.goto(`${fresh.base}/`);
    await page.locator('.screen-welcome').waitFor({ timeout: WAIT });
    // The manifest, as the browser reads it for "Add to home screen".
    const cdp = await context.newCDPSession(page);
    const { url, errors, data } = await cdp.send('Page.getAppManifest');
    assert.match(url, /\/app\/manifest\.[0-9a-f]{10}\.webmanifest$/);
    assert.deepEqual(errors, []);
    const manifest = JSON.parse(data);
    assert.equal(manifest.display, 'standalone');
    assert.ok(manifest.icons.some((i) => i.sizes === '512x512' && i.purpose === 'maskable'));
    // The worker takes over the page and keeps the shell, and no API answer.
    await page.evaluate(() => navigator.serviceWorker.ready);
    await page.waitForFunction(() => navigator.serviceWorker.controller !== null, null, { timeout: WAIT }).catch(async () => {
      await page.reload();
      await page.waitForFunction(() => navigator.serviceWorker.controller !== null, null, { timeout: WAIT });
    });
    const kept = await page.evaluate(async () => {
      const urls = [];
      for (const name of await caches.keys()) for (const r of await (await caches.open(name)).keys()) urls.push(new URL(r.url).pathname);
      return urls;
    });
    assert.ok(kept.some((u) => /^\/app\/js\/main\.[0-9a-f]{10}\.js$/.test(u)), `the modules are kept: ${kept}`);
    assert.ok(kept.some((u) => u.startsWith('/app/offline.')), 'the offline page is kept');
    assert.ok(kept.every((u) => u.startsWith('/app/')), `nothing but the client's files: ${kept}`);

    // The server goes away: a reload shows the offline page, in the page's language.
    await fresh.stop({ keepData: true });
    await page.reload();
    await page.locator('.screen-offline #offline-title', { hasText: 'You are offline' }).waitFor({ timeout: WAIT });
    assert.equal(await page.locator('#offline-retry').textContent(), 'Try again');
    // Back: "Try again" brings Duet back.
    fresh = await startServer([], { port: fresh.port, dataDir: fresh.dataDir });
    await page.locator('#offline-retry').click();
    await page.locator('.screen-welcome').waitFor({ timeout: WAIT });
    assert.deepEqual(page.problems, []);
  } finally {
    await context.close();
    await fresh.stop();
  }
});

test('a screen whose module is gone (the server was updated since the page loaded) reloads the page as the new version', async () => {
  const tokens = await makeUser(server.base, 'after_update', { gender: 'male', preferred: 'any' });
  // No service worker here, so the page's requests meet the route below.
  const page = await signedInPage(browser, server.base, { ...DESKTOP, serviceWorkers: 'block' }, tokens, 'en');
  let refused = 0;
  await page.route(/\/app\/js\/views\/profile\.[0-9a-f]{10}\.js$/, (route) => {
    if (refused++ === 0) return route.fulfill({ status: 404, body: 'gone' });
    return route.continue();
  });
  const loads = [];
  page.on('load', () => loads.push(Date.now()));
  await page.locator('#nav-profile').click();
  await page.locator('.screen-profile').waitFor({ timeout: WAIT });
  assert.equal(refused >= 2, true, 'asked again after the reload');
  assert.equal(loads.length, 1, 'reloaded once');
  assert.equal(await page.evaluate(() => location.hash), '#/profile');
  await page.context().close();
});
