// A WebSocket that reconnects: the token goes in Sec-WebSocket-Protocol as
// ['bearer', token] (never in the URL, so never in logs), and a dropped connection is
// retried with backoff (0.5 s doubling to 10 s, with jitter). The close codes of the
// protocol decide what happens next; see `onClose` below.
//
// A dead connection is noticed, not waited out: a network that stalls sends no close
// and TCP can take minutes to give up. The page sends a heartbeat every 5 s, which the
// server answers; a heartbeat with no frame at all after it for 6 s, a connection that
// does not open within 10 s, or the browser's `offline` event drop the socket and
// reconnect. So a dead connection shows within about 12 s. The heartbeats also keep
// proxies and the server's keepalive content. Each socket reports its link to
// connection.js, which shows the one "connection lost" banner.

import { getAccessToken, refresh } from './api.js';
import { dropLink, setLink } from './connection.js';

const HEARTBEAT_MS = 5_000;
// How long a heartbeat may go without any frame after it before the link is dead.
const ANSWER_MS = 6_000;
const CONNECT_TIMEOUT_MS = 10_000;
const TICK_MS = 1_000;

export class ReconnectingSocket {
  /**
   * `path()`: the URL path (with query) to open now. `handlers`: `frame(obj)`,
   * `open()`, `down()` (connection lost, will retry), `fatal(code, reason)` (a close
   * that must not be retried: 4002 banned, 4003/4004/4005 room gone, 4007 replaced,
   * 1000 normal end, or a session that cannot be refreshed).
   */
  constructor(path, handlers, name = 'socket') {
    this.path = path;
    this.handlers = handlers;
    this.name = name; // its link in connection.js
    this.ws = null;
    this.stopped = false;
    this.attempt = 0;
    this.timer = null;
    this.ticker = null;
    this.openTimer = null;
    this.heard = 0; // when the last frame arrived
    this.probeAt = 0; // when the oldest heartbeat still unanswered went
    this.beatAt = 0; // when the last heartbeat went
    this.connecting = false; // between connect() and the WebSocket's creation
    this.onOnline = () => this.retryNow();
    this.onOffline = () => this.ws && this.dead();
    window.addEventListener('online', this.onOnline);
    window.addEventListener('offline', this.onOffline);
  }

  /** Down: tells the handler and connection.js. */
  wentDown() {
    setLink(this.name, false);
    this.handlers.down?.();
  }

  /** Every second while open: a heartbeat when due, and the verdict on the last one. */
  tick() {
    const now = Date.now();
    if (this.probeAt && this.heard < this.probeAt && now - this.probeAt > ANSWER_MS) {
      this.dead();
      return;
    }
    if (now - this.beatAt >= HEARTBEAT_MS && this.send({ type: 'heartbeat' })) {
      this.beatAt = now;
      // A late tick (a throttled background tab) only starts a new probe: the silence
      // is judged from a heartbeat that really went.
      if (!this.probeAt || this.heard >= this.probeAt) this.probeAt = now;
    }
  }

  /** The connection is taken for dead: dropped at once, and opened again. */
  dead() {
    const ws = this.ws;
    this.ws = null;
    clearInterval(this.ticker);
    clearTimeout(this.openTimer);
    if (ws) {
      ws.onclose = null;
      ws.onmessage = null;
      ws.onopen = null;
      if (ws.readyState <= WebSocket.OPEN) ws.close(4000);
    }
    if (this.stopped) return;
    this.wentDown();
    this.attempt = 0;
    this.scheduleRetry();
  }

  async connect() {
    if (this.stopped || this.connecting) return;
    clearTimeout(this.timer);
    let token;
    this.connecting = true;
    try {
      token = await getAccessToken();
    } catch {
      this.scheduleRetry();
      return;
    } finally {
      this.connecting = false;
    }
    if (this.stopped) return;
    if (!token) {
      this.stop();
      this.handlers.fatal?.(4001, 'session ended');
      return;
    }
    const scheme = location.protocol === 'https:' ? 'wss' : 'ws';
    const ws = new WebSocket(`${scheme}://${location.host}${this.path()}`, ['bearer', token]);
    this.ws = ws;
    clearTimeout(this.openTimer);
    this.openTimer = setTimeout(() => this.ws === ws && ws.readyState === WebSocket.CONNECTING && this.dead(), CONNECT_TIMEOUT_MS);
    ws.onopen = () => {
      clearTimeout(this.openTimer);
      this.attempt = 0;
      this.heard = Date.now();
      this.probeAt = 0;
      this.beatAt = Date.now();
      clearInterval(this.ticker);
      this.ticker = setInterval(() => this.tick(), TICK_MS);
      setLink(this.name, true);
      this.handlers.open?.();
    };
    ws.onmessage = (event) => {
      this.heard = Date.now();
      let frame;
      try {
        frame = JSON.parse(event.data);
      } catch {
        return;
      }
      if (frame && typeof frame.type === 'string') this.handlers.frame(frame);
    };
    ws.onclose = (event) => {
      if (this.ws !== ws) return;
      this.ws = null;
      clearInterval(this.ticker);
      clearTimeout(this.openTimer);
      this.onClose(event.code, event.reason);
    };
  }

  async onClose(code, reason) {
    if (this.stopped) return;
    switch (code) {
      case 4001: {
        // The token expired or was revoked: refresh once, then try again.
        let ok = false;
        try {
          ok = await refresh();
        } catch {
          if (this.stopped) return;
          this.wentDown();
          this.scheduleRetry();
          return;
        }
        // Stopped meanwhile (the page left the screen, or signed out): say nothing.
        if (this.stopped) return;
        if (ok) this.connect();
        else {
          this.stop();
          this.handlers.fatal?.(code, reason);
        }
        return;
      }
      case 1000:
      case 4002:
      case 4003:
      case 4004:
      case 4005:
      case 4007:
        this.stop();
        this.handlers.fatal?.(code, reason);
        return;
      default:
        // 1001 (server going away, fell behind, silent), 1006 (network), 1009, 1011,
        // 4008: reconnect; the chat socket resumes from the last seq it holds.
        this.wentDown();
        this.scheduleRetry();
    }
  }

  scheduleRetry() {
    if (this.stopped) return;
    const base = Math.min(10_000, 500 * 2 ** this.attempt);
    this.attempt += 1;
    clearTimeout(this.timer);
    this.timer = setTimeout(() => this.connect(), base / 2 + Math.random() * (base / 2));
  }

  retryNow() {
    if (this.stopped || this.ws || this.connecting) return;
    this.attempt = 0;
    this.connect();
  }

  /** Drops the current connection and opens a new one at once (the stream had a gap). */
  reconnectNow() {
    if (this.stopped) return;
    const ws = this.ws;
    this.ws = null;
    clearInterval(this.ticker);
    clearTimeout(this.openTimer);
    if (ws && ws.readyState <= WebSocket.OPEN) ws.close(4000);
    this.handlers.down?.();
    this.attempt = 0;
    this.connect();
  }

  get isOpen() {
    return this.ws?.readyState === WebSocket.OPEN;
  }

  /** Sends a frame if the socket is open; returns whether it was sent. */
  send(frame) {
    if (!this.isOpen) return false;
    this.ws.send(JSON.stringify(frame));
    return true;
  }

  stop() {
    this.stopped = true;
    clearTimeout(this.timer);
    clearInterval(this.ticker);
    clearTimeout(this.openTimer);
    dropLink(this.name);
    window.removeEventListener('online', this.onOnline);
    window.removeEventListener('offline', this.onOffline);
    const ws = this.ws;
    this.ws = null;
    if (ws && ws.readyState <= WebSocket.OPEN) ws.close(1000);
  }
}
