// The web client's weight and load time on an emulated slow 3G network, as
// BENCHMARKS.md reports them: `node weight.mjs [duet binary]` (default: DUET_BIN, else
// target/debug/duet). Starts the server, opens the first screen twice in one browser
// profile (a first visit, then a return visit with what the browser kept) under
// Chrome DevTools' "Slow 3G" profile (2000 ms round trip, 500 kbit/s each way), and
// prints, for each visit: the requests, the bytes on the wire and uncompressed, and
// the time until the first screen is shown. Not a test: numbers to read, not to assert.

import { launch } from './lib/browser.js';

const SLOW_3G = { offline: false, latency: 2000, downloadThroughput: (500 * 1024) / 8, uploadThroughput: (500 * 1024) / 8 };

// lib/server.js reads DUET_BIN when it loads: set it first.
if (process.argv[2]) process.env.DUET_BIN = process.argv[2];
const { BIN, startServer } = await import('./lib/server.js');
console.log(`server: ${BIN}`);

async function visit(page, cdp, base) {
  const requests = new Map();
  const onRequest = ({ requestId, request }) => requests.set(requestId, { url: request.url, wire: 0, body: 0, cached: false });
  const onCache = ({ requestId }) => {
    const r = requests.get(requestId);
    if (r) r.cached = true;
  };
  const onResponse = ({ requestId, response }) => {
    const r = requests.get(requestId);
    if (!r) return;
    r.status = response.status;
    // Answered by the service worker or the disk cache: nothing went over the network.
    if (response.fromServiceWorker || response.fromDiskCache) r.cached = true;
  };
  const onData = ({ requestId, dataLength }) => {
    const r = requests.get(requestId);
    if (r) r.body += dataLength;
  };
  const onFinished = ({ requestId, encodedDataLength }) => {
    const r = requests.get(requestId);
    if (r) r.wire = encodedDataLength;
  };
  cdp.on('Network.requestWillBeSent', onRequest);
  cdp.on('Network.requestServedFromCache', onCache);
  cdp.on('Network.responseReceived', onResponse);
  cdp.on('Network.dataReceived', onData);
  cdp.on('Network.loadingFinished', onFinished);
  const start = Date.now();
  await page.goto(`${base}/`, { waitUntil: 'commit' });
  await page.locator('.screen-welcome').waitFor({ timeout: 120_000 });
  const shown = Date.now() - start;
  await page.waitForLoadState('networkidle');
  for (const [event, fn] of [['Network.requestWillBeSent', onRequest], ['Network.requestServedFromCache', onCache], ['Network.responseReceived', onResponse], ['Network.dataReceived', onData], ['Network.loadingFinished', onFinished]]) cdp.off(event, fn);
  const all = [...requests.values()];
  const network = all.filter((r) => !r.cached);
  return {
    requests: all.length,
    fromNetwork: network.length,
    notModified: network.filter((r) => r.status === 304).length,
    wireBytes: network.reduce((n, r) => n + r.wire, 0),
    bodyBytes: all.reduce((n, r) => n + r.body, 0),
    shownMs: shown,
  };
}

const server = await startServer();
const browser = await launch();
try {
  const context = await browser.newContext({ locale: 'vi-VN', viewport: { width: 390, height: 844 } });
  const page = await context.newPage();
  const cdp = await context.newCDPSession(page);
  await cdp.send('Network.enable');
  await cdp.send('Network.emulateNetworkConditions', SLOW_3G);
  const first = await visit(page, cdp, server.base);
  const again = await visit(page, cdp, server.base);
  const kib = (n) => `${(n / 1024).toFixed(1)} KiB`;
  for (const [name, v] of [['first visit', first], ['return visit', again]]) {
    console.log(`${name}: ${v.requests} requests (${v.fromNetwork} over the network, ${v.notModified} of them answered 304), ${kib(v.wireBytes)} on the wire, ${kib(v.bodyBytes)} uncompressed, first screen shown after ${(v.shownMs / 1000).toFixed(1)} s`);
  }
} finally {
  await browser.close();
  await server.stop();
}
