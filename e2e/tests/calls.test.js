// Voice calls between two pages in one headless Chromium with fake media devices: a
// call rings, is accepted, connects (RTCPeerConnection "connected", audio bytes
// received on both sides), mutes and hangs up; a declined call and a missed one (the
// server rings for 4 s here) say so on both pages, one page in each language; a chat
// socket that reconnects mid-call leaves the call up; a blocked microphone says so. Media goes page to page over loopback; the server only
// relays the signalling.

import assert from 'node:assert/strict';
import { join, resolve } from 'node:path';
import { after, before, test } from 'node:test';

import { makeUser as makeUserAt, matchedPair, signedInPage as signedInPageAt } from '../lib/accounts.js';
import { DESKTOP, launch } from '../lib/browser.js';
import { startServer } from '../lib/server.js';

const WAIT = 20_000;
const SHOTS = resolve(import.meta.dirname, '..', '..', 'docs', 'screenshots');

let server;
let browser;

before(async () => {
  server = await startServer(['--call-ring-timeout=4s']);
  browser = await launch([
    '--use-fake-device-for-media-stream',
    '--use-fake-ui-for-media-stream',
    '--allow-loopback-in-peer-connection',
    '--autoplay-policy=no-user-gesture-required',
  ]);
});

after(async () => {
  await browser?.close();
  await server?.stop();
});

/** A signed-in page whose RTCPeerConnections the test can see (`window.__pcs`). */
async function watchedPage(username, gender, preferred, lang) {
  const tokens = await makeUserAt(server.base, username, { gender, preferred });
  const page = await signedInPageAt(browser, server.base, DESKTOP, tokens, lang);
  await page.context().addInitScript(() => {
    window.__pcs = [];
    window.__sockets = [];
    const NativeSocket = window.WebSocket;
    window.WebSocket = class extends NativeSocket {
      constructor(...args) {
        super(...args);
        window.__sockets.push(this);
      }
    };
    const Native = window.RTCPeerConnection;
    window.RTCPeerConnection = class extends Native {
      constructor(...args) {
        super(...args);
        window.__pcs.push(this);
      }
    };
  });
  await page.reload();
  await page.locator('.hero-card button.btn-primary').waitFor({ timeout: WAIT });
  return page;
}

/** Audio bytes received on the page's newest peer connection. */
function bytesReceived(page) {
  return page.evaluate(async () => {
    const pc = window.__pcs.at(-1);
    if (!pc) return 0;
    let bytes = 0;
    (await pc.getStats()).forEach((s) => {
      if (s.type === 'inbound-rtp' && s.kind === 'audio') bytes += s.bytesReceived || 0;
    });
    return bytes;
  });
}

async function waitUntil(what, fn) {
  const deadline = Date.now() + WAIT;
  for (;;) {
    if (await fn()) return;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

const phase = (page, value) => page.locator(`.call-panel[data-phase="${value}"]`).waitFor({ timeout: WAIT });
const note = (page, text) => page.locator('.call-note', { hasText: text }).waitFor({ timeout: WAIT });

test('a call connects with audio both ways, mutes, hangs up, and is declined, missed or blocked', async () => {
  const an = await watchedPage('an_caller', 'male', 'female', 'en');
  const binh = await watchedPage('binh_callee', 'female', 'male', 'vi');
  await matchedPair(browser, server.base, [an, binh]);

  // Ringing on both sides; Binh accepts.
  await an.locator('.call-button').click();
  await phase(an, 'outgoing');
  await phase(binh, 'incoming');
  assert.match(await binh.locator('.call-title').textContent(), /đang gọi cho bạn/);
  assert.ok(await binh.locator('.call-privacy').isVisible(), 'without TURN the page says the address may be seen');
  await binh.locator('.call-accept').click();
  await an.locator('.call-panel[data-phase="active"][data-link="connected"]').waitFor({ timeout: WAIT });
  await binh.locator('.call-panel[data-phase="active"][data-link="connected"]').waitFor({ timeout: WAIT });
  for (const page of [an, binh]) {
    assert.equal(await page.evaluate(() => window.__pcs.at(-1).connectionState), 'connected');
    await waitUntil('audio bytes', async () => (await bytesReceived(page)) > 0);
  }
  assert.ok(await an.locator('.call-button').isDisabled(), 'one call at a time');
  await an.evaluate(() => document.activeElement?.blur?.());
  await an.screenshot({ path: join(SHOTS, 'call-desktop.png') });

  // Mute shows on the partner's page.
  await an.locator('.call-mute').click();
  await binh.locator('.call-partner-muted').waitFor({ timeout: WAIT });
  assert.equal(await an.locator('.call-mute').getAttribute('aria-pressed'), 'true');
  await an.locator('.call-mute').click();
  await binh.locator('.call-partner-muted').waitFor({ state: 'detached', timeout: WAIT });

  // An's chat socket drops and reconnects: the call goes on (the audio never used it).
  const before = await bytesReceived(an);
  const chatSockets = () => an.evaluate(() => window.__sockets.filter((ws) => ws.url.includes('/ws/chat/')).length);
  const opened = await chatSockets();
  await an.evaluate(() => window.__sockets.filter((ws) => ws.url.includes('/ws/chat/')).at(-1).close(4000));
  await waitUntil('a new chat socket', async () => (await chatSockets()) > opened
    && an.evaluate(() => window.__sockets.at(-1).readyState === WebSocket.OPEN));
  await an.waitForTimeout(1000);
  for (const page of [an, binh]) {
    assert.equal(await page.locator('.call-panel').getAttribute('data-phase'), 'active');
  }
  await waitUntil('more audio after the reconnect', async () => (await bytesReceived(an)) > before);

  // Binh hangs up: both pages end the call and close their connections.
  await binh.locator('.call-hangup').click();
  await note(an, 'The call ended.');
  await note(binh, 'Cuộc gọi đã kết thúc.');
  for (const page of [an, binh]) {
    assert.equal(await page.evaluate(() => window.__pcs.at(-1).connectionState), 'closed');
  }

  // Declined.
  await an.locator('.call-button').click();
  await phase(binh, 'incoming');
  await binh.locator('.call-decline').click();
  await note(an, 'declined the call');
  await note(binh, 'Bạn đã từ chối cuộc gọi.');

  // Missed: nobody answers for 4 s.
  await an.locator('.call-button').click();
  await phase(binh, 'incoming');
  await note(an, 'did not answer');
  await note(binh, 'Bạn đã lỡ một cuộc gọi');

  // A blocked microphone: no call starts, and the page says why.
  await an.evaluate(() => {
    navigator.mediaDevices.getUserMedia = () => Promise.reject(new DOMException('denied', 'NotAllowedError'));
  });
  await an.locator('.call-button').click();
  await note(an, 'Microphone blocked');
  assert.equal(await binh.locator('.call-panel').getAttribute('data-phase'), 'idle');

  // The chat goes on beside calls.
  await an.locator('.composer textarea').fill('still here');
  await an.locator('.composer button[type=submit]').click();
  await binh.locator('.msg', { hasText: 'still here' }).waitFor({ timeout: WAIT });
  for (const page of [an, binh]) assert.deepEqual(page.problems, []);
});
