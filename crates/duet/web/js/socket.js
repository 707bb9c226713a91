// A WebSocket that reconnects: the token goes in Sec-WebSocket-Protocol as
// ['bearer', token] (never in the URL, so never in logs), a heartbeat every 25 s keeps
// proxies and the server's keepalive happy, and a dropped connection is retried with
// backoff (0.5 s doubling to 10 s, with jitter). The close codes of the protocol decide
// what happens next; see `onClose` below.

import { getAccessToken, refresh } from './api.js';

const HEARTBEAT_MS = 25_000;

export class ReconnectingSocket {
  /**
   * `path()`: the URL path (with query) to open now. `handlers`: `frame(obj)`,
   * `open()`, `down()` (connection lost, will retry), `fatal(code, reason)` (a close
   * that must not be retried: 4002 banned, 4003/4004/4005 room gone, 4007 replaced,
   * 1000 normal end, or a session that cannot be refreshed).
   */
  constructor(path, handlers) {
    this.path = path;
    this.handlers = handlers;
    this.ws = null;
    this.stopped = false;
    this.attempt = 0;
    this.timer = null;
    this.heartbeat = null;
    this.connecting = false; // between connect() and the WebSocket's creation
    this.onOnline = () => this.retryNow();
    window.addEventListener('online', this.onOnline);
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
    ws.onopen = () => {
      this.attempt = 0;
      clearInterval(this.heartbeat);
      this.heartbeat = setInterval(() => this.send({ type: 'heartbeat' }), HEARTBEAT_MS);
      this.handlers.open?.();
    };
    ws.onmessage = (event) => {
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
      clearInterval(this.heartbeat);
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
          this.handlers.down?.();
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
        this.handlers.down?.();
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
    clearInterval(this.heartbeat);
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
    clearInterval(this.heartbeat);
    window.removeEventListener('online', this.onOnline);
    const ws = this.ws;
    this.ws = null;
    if (ws && ws.readyState <= WebSocket.OPEN) ws.close(1000);
  }
}
