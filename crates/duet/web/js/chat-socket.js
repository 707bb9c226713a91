// The chat socket of one room (WS /ws/chat/{room_id}) and the room's message state.
//
// Resume: the socket always opens with `after_seq` = the highest `seq` up to which this
// page holds every message, so a reconnect replays exactly what was missed; a message
// past a gap is not taken but makes the socket reconnect from before the gap. Messages are kept by `seq`, so a
// replayed one is never shown twice. Each message sent gets a random `client_id` and
// waits in an outbox (kept in sessionStorage, so it survives a reload) until its `ack`;
// after a reconnect the outbox is sent again, and the server stores a repeated
// `client_id` once. Read receipts and typing go only to the partner.

import { randomId } from './dom.js';
import { ReconnectingSocket } from './socket.js';

const TYPING_IDLE_MS = 3000;
const TYPING_REPEAT_MS = 4000;
// After `error rate_limited` (the frame was dropped, unsaid which), the outbox goes again.
const RESEND_AFTER_MS = 1000;

export class ChatRoom {
  /**
   * `events`: `connected(frame)`, `message(msg, {replay})`, `updated(msg)` (state of
   * an own message changed), `typing(on)`, `presence(online)`, `read(upToSeq)`,
   * `frame(frame)` (like rounds, reveals, keep, errors), `ended(reason|null)`,
   * `banned(until)`, `replaced()`, `sessionEnded()`, `connection(up)`.
   */
  constructor(roomId, myId, events) {
    this.roomId = roomId;
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
    this.bannedUntil = null;
    this.connectedLastSeq = 0;
    this.readSent = 0;
    this.resendTimer = null;
    this.socket = new ReconnectingSocket(() => `/ws/chat/${this.roomId}?after_seq=${this.lastSeq}`, {
      open: () => events.connection(true),
      down: () => events.connection(false),
      frame: (frame) => this.onFrame(frame),
      fatal: (code) => {
        events.connection(true);
        if (code === 4002) events.banned(this.bannedUntil);
        else if (code === 4007) events.replaced();
        else if (code === 4001) events.sessionEnded();
        else events.ended(null); // 1000 after room_ended, 4003/4004/4005
      },
    });
  }

  start() {
    this.socket.connect();
  }

  stop() {
    this.stopTyping();
    clearTimeout(this.resendTimer);
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
        this.bannedUntil = frame.until;
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

  sendOutbox() {
    for (const item of this.outbox) this.socket.send({ type: 'message', content: item.content, client_id: item.client_id });
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
    this.socket.send({ type: 'message', content, client_id: item.client_id });
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
      if (this.socket.send({ type: 'typing', is_typing: true })) {
        this.typingSent = true;
        this.typingAt = now;
      }
    }
    clearTimeout(this.typingTimer);
    this.typingTimer = setTimeout(() => this.stopTyping(), TYPING_IDLE_MS);
  }

  stopTyping() {
    clearTimeout(this.typingTimer);
    if (this.typingSent) this.socket.send({ type: 'typing', is_typing: false });
    this.typingSent = false;
  }

  /** Tells the partner everything up to the newest message has been read. */
  markRead() {
    let upTo = 0;
    for (const msg of this.messages.values()) if (!msg.mine) upTo = Math.max(upTo, msg.seq);
    if (upTo > this.readSent && this.socket.send({ type: 'read', up_to_seq: upTo })) this.readSent = upTo;
  }
}
