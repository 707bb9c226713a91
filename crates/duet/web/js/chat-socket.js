// The chat socket of one room (WS /ws/chat/{room_id}) and the room's message state.
//
// Resume: the socket always opens with `after_seq` = the highest `seq` up to which this
// page holds every message, so a reconnect replays exactly what was missed; a message
// past a gap is not taken but makes the socket reconnect from before the gap. Messages are kept by `seq`, so a
// replayed one is never shown twice. Each message sent gets a random `client_id` and
// waits in an outbox (kept in sessionStorage, so it survives a reload) until its `ack`;
// after a reconnect the outbox is sent again, and the server stores a repeated
// `client_id` once. Read receipts and typing go only to the partner.
//
// Pacing: the server allows `chat_rate_per_sec` frames a second with a burst of
// `chat_burst` (from /meta/limits) and closes a socket that keeps sending past them
// (4008). Every frame this page sends goes through a token bucket set a little inside
// those numbers, so resending a long outbox after a reconnect trickles out at the
// served rate instead of tripping the limit.

import { randomId } from './dom.js';
import { ReconnectingSocket } from './socket.js';

const TYPING_IDLE_MS = 3000;
const TYPING_REPEAT_MS = 4000;
// After `error rate_limited` (the frame was dropped, unsaid which), the outbox goes again.
const RESEND_AFTER_MS = 1000;

/**
 * Frames sent in order through a pacer, each as soon as its bucket allows; they wait
 * while the socket is down and go when it is back (call frames and signals, which must
 * not be dropped like a typing mark).
 */
class PacedQueue {
  constructor(pacer, socket) {
    this.pacer = pacer;
    this.socket = socket;
    this.items = [];
    this.timer = null;
  }

  push(frame) {
    this.items.push(frame);
    this.drain();
  }

  drain() {
    clearTimeout(this.timer);
    this.timer = null;
    while (this.items.length && this.socket.isOpen) {
      if (!this.pacer.take()) {
        this.timer = setTimeout(() => this.drain(), this.pacer.waitMs() + 10);
        return;
      }
      this.socket.send(this.items.shift());
    }
  }

  clear() {
    clearTimeout(this.timer);
    this.items = [];
  }
}

/** A token bucket: `rate` tokens a second, holding at most `burst`. */
export class Pacer {
  constructor(rate, burst) {
    // A margin inside the server's numbers: frames can bunch up on the way.
    this.rate = Math.max(0.5, (rate || 5) * 0.8);
    this.burst = Math.max(1, (burst || 20) - 2);
    this.tokens = this.burst;
    this.at = Date.now();
  }

  refill() {
    const now = Date.now();
    this.tokens = Math.min(this.burst, this.tokens + ((now - this.at) / 1000) * this.rate);
    this.at = now;
  }

  /** Takes a token if there is one. */
  take() {
    this.refill();
    if (this.tokens < 1) return false;
    this.tokens -= 1;
    return true;
  }

  /** Milliseconds until the next token. */
  waitMs() {
    this.refill();
    return Math.max(0, Math.ceil(((1 - this.tokens) / this.rate) * 1000));
  }
}

export class ChatRoom {
  /**
   * `events`: `connected(frame)`, `message(msg, {replay})`, `updated(msg)` (state of
   * an own message changed), `typing(on)`, `presence(online)`, `read(upToSeq)`,
   * `frame(frame)` (like rounds, reveals, keep, errors), `ended(reason|null)`,
   * `banned({until, permanent})`, `replaced()`, `sessionEnded()`, `connection(up)`, `call(frame)`
   * (`call_state`, `rtc_signal`, `call_mute`).
   */
  constructor(roomId, myId, events, limits = {}) {
    this.roomId = roomId;
    this.pacer = new Pacer(limits.chat_rate_per_sec, limits.chat_burst);
    this.unsent = []; // client_ids of the outbox still to go on this connection, in order
    this.drainTimer = null;
    this.myId = myId;
    this.events = events;
    this.messages = new Map(); // seq -> message
    this.lastSeq = 0;
    this.partnerRead = 0;
    this.outboxKey = `duet.outbox.${roomId}`;
    this.outbox = this.loadOutbox(); // [{client_id, content, created}]
    this.typingSent = false;
    this.typingAt = 0;
    this.typingTimer = null;
    this.ban = { until: null, permanent: false };
    this.connectedLastSeq = 0;
    this.readSent = 0;
    this.resendTimer = null;
    this.socket = new ReconnectingSocket(() => `/ws/chat/${this.roomId}?after_seq=${this.lastSeq}`, {
      open: () => events.connection(true),
      down: () => events.connection(false),
      frame: (frame) => this.onFrame(frame),
      fatal: (code) => {
        events.connection(true);
        if (code === 4002) events.banned(this.ban);
        else if (code === 4007) events.replaced();
        else if (code === 4001) events.sessionEnded();
        else events.ended(null); // 1000 after room_ended, 4003/4004/4005
      },
    }, 'chat');
    // Call frames share the chat budget; signals have a budget of their own.
    this.calls = new PacedQueue(this.pacer, this.socket);
    this.signals = new PacedQueue(new Pacer(limits.signal_rate_per_sec || 20, limits.signal_burst || 60), this.socket);
  }

  /** A call frame (`call_start`, `call_answer`, `call_end`, `call_mute`). */
  sendCall(frame) {
    this.calls.push(frame);
  }

  /** A frame now, unpaced (the last one before the page leaves the room). */
  sendNow(frame) {
    return this.socket.send(frame);
  }

  /** A WebRTC signal for the partner. */
  sendSignal(payload) {
    this.signals.push({ type: 'rtc_signal', payload });
  }

  start() {
    this.socket.connect();
  }

  stop() {
    this.stopTyping();
    clearTimeout(this.resendTimer);
    clearTimeout(this.drainTimer);
    this.calls.clear();
    this.signals.clear();
    this.socket.stop();
  }

  loadOutbox() {
    try {
      const items = JSON.parse(sessionStorage.getItem(this.outboxKey) || '[]');
      return Array.isArray(items) ? items : [];
    } catch {
      return [];
    }
  }

  saveOutbox() {
    if (this.outbox.length) sessionStorage.setItem(this.outboxKey, JSON.stringify(this.outbox));
    else sessionStorage.removeItem(this.outboxKey);
  }

  /** Own messages not yet acknowledged, oldest first. */
  pending() {
    return this.outbox.map((m) => ({ ...m, state: 'sending', mine: true }));
  }

  onFrame(frame) {
    switch (frame.type) {
      case 'connection':
        this.myId = frame.user_id;
        this.connectedLastSeq = frame.last_seq;
        this.events.connected(frame);
        this.events.presence(frame.partner_online);
        // Whatever was not acknowledged goes again; the server drops repeats.
        this.sendOutbox();
        this.calls.drain();
        this.signals.drain();
        break;
      case 'call_state':
      case 'rtc_signal':
      case 'call_mute':
        this.events.call(frame);
        break;
      case 'message': {
        if (this.messages.has(frame.seq) || frame.seq <= this.lastSeq) return;
        if (frame.seq > this.lastSeq + 1) {
          // Something in between never arrived: resume from what this page has, never
          // past what it missed (the replay brings this one again, in order).
          this.socket.reconnectNow();
          return;
        }
        const mine = frame.user_id === this.myId;
        const msg = { ...frame, mine, state: mine ? (frame.seq <= this.partnerRead ? 'read' : 'sent') : null };
        this.messages.set(frame.seq, msg);
        const replay = frame.seq <= this.connectedLastSeq;
        this.lastSeq = frame.seq;
        if (mine && frame.client_id) this.dropFromOutbox(frame.client_id);
        this.events.message(msg, { replay });
        break;
      }
      case 'ack':
        this.dropFromOutbox(frame.client_id);
        break;
      case 'typing':
        this.events.typing(frame.is_typing);
        break;
      case 'presence':
        // A partner who just (re)connected has lost our read receipt: send it again.
        if (frame.online) this.readSent = 0;
        this.events.presence(frame.online);
        break;
      case 'read':
        this.partnerRead = Math.max(this.partnerRead, frame.up_to_seq);
        for (const msg of this.messages.values()) {
          if (msg.mine && msg.state !== 'read' && msg.seq <= this.partnerRead) {
            msg.state = 'read';
            this.events.updated(msg);
          }
        }
        break;
      case 'room_ended':
        // The close (1000) that follows needs no second look-up of the reason.
        this.stop();
        this.events.ended(frame.reason);
        break;
      case 'banned':
        this.ban = { until: frame.until ?? null, permanent: Boolean(frame.permanent) };
        break;
      case 'heartbeat':
        break;
      case 'error':
        // A rate-limited frame is dropped and the error does not say which it was: if a
        // message may have been, send what is unacknowledged again (repeats are dropped).
        if (frame.code === 'rate_limited' && this.outbox.length) this.resendSoon();
        this.events.frame(frame);
        break;
      default:
        this.events.frame(frame);
    }
  }

  /** A frame through the pacer: false (not sent) when the socket is down or the bucket is empty. */
  paced(frame) {
    if (!this.socket.isOpen || !this.pacer.take()) return false;
    return this.socket.send(frame);
  }

  /** Sends the whole outbox again, paced. */
  sendOutbox() {
    this.unsent = this.outbox.map((m) => m.client_id);
    this.drain();
  }

  /** Sends what is unsent while the bucket allows; the rest when it refills. */
  drain() {
    clearTimeout(this.drainTimer);
    this.drainTimer = null;
    while (this.unsent.length) {
      const item = this.outbox.find((m) => m.client_id === this.unsent[0]);
      if (!item) {
        this.unsent.shift();
        continue;
      }
      if (!this.socket.isOpen) return; // the next `connection` frame sends it all again
      if (!this.paced({ type: 'message', content: item.content, client_id: item.client_id })) {
        this.drainTimer = setTimeout(() => this.drain(), this.pacer.waitMs() + 10);
        return;
      }
      this.unsent.shift();
    }
  }

  resendSoon() {
    if (this.resendTimer) return;
    this.resendTimer = setTimeout(() => {
      this.resendTimer = null;
      this.sendOutbox();
    }, RESEND_AFTER_MS);
  }

  dropFromOutbox(clientId) {
    const before = this.outbox.length;
    this.outbox = this.outbox.filter((m) => m.client_id !== clientId);
    if (this.outbox.length !== before) this.saveOutbox();
  }

  /** Queues a message and sends it if the socket is open; returns the pending entry. */
  send(content) {
    const item = { client_id: randomId(), content, created: new Date().toISOString() };
    this.outbox.push(item);
    this.saveOutbox();
    this.unsent.push(item.client_id);
    this.drain();
    this.stopTyping();
    return { ...item, state: 'sending', mine: true };
  }

  /**
   * Call on every keystroke in the composer: sends typing on (again every 4 s while
   * typing goes on, so the partner's indicator does not time out), and off after a pause.
   */
  typed() {
    const now = Date.now();
    if (!this.typingSent || now - this.typingAt > TYPING_REPEAT_MS) {
      if (this.paced({ type: 'typing', is_typing: true })) {
        this.typingSent = true;
        this.typingAt = now;
      }
    }
    clearTimeout(this.typingTimer);
    this.typingTimer = setTimeout(() => this.stopTyping(), TYPING_IDLE_MS);
  }

  stopTyping() {
    clearTimeout(this.typingTimer);
    if (this.typingSent) this.paced({ type: 'typing', is_typing: false });
    this.typingSent = false;
  }

  /** Tells the partner everything up to the newest message has been read. */
  markRead() {
    let upTo = 0;
    for (const msg of this.messages.values()) if (!msg.mine) upTo = Math.max(upTo, msg.seq);
    if (upTo > this.readSent && this.paced({ type: 'read', up_to_seq: upTo })) this.readSent = upTo;
  }
}
