// A voice call in a room: the server owns the call's state (ringing, active, ended and
// why, sent as `call_state`) and relays the WebRTC signalling between the two pages;
// the audio itself goes peer to peer (or through the operator's TURN server). This
// module holds the page's side: the microphone, the RTCPeerConnection, and the call as
// the page shows it.
//
// The connection is made once the callee accepts, so neither page shares a network
// address before that: the caller sends the offer, the callee the answer, and both
// trickle their ICE candidates. The call lives in the page, not in the chat socket:
// a socket that reconnects within the server's grace finds the call still active (its
// `connection` frame says so) and the audio never stopped. A page that reloads has
// lost its connection, so it hangs the call up.

import { api } from './api.js';

/** What a page knows of the call. */
function idle() {
  return { phase: 'idle', callId: null, callerId: null, mine: false, answeredAt: null, muted: false, partnerMuted: false, link: 'new', note: null, busy: false };
}

export class CallSession {
  /**
   * `chat`: the room's ChatRoom (its `sendCall` and `sendSignal`). `changed(state)`:
   * called whenever the call's state changes. `audio`: the <audio> element that plays
   * the partner.
   */
  constructor(chat, { changed, audio }) {
    this.chat = chat;
    this.changed = changed;
    this.audio = audio;
    this.state = idle();
    this.pc = null;
    this.local = null;
    this.config = null;
    this.pendingCandidates = [];
    this.early = []; // signals that came before the connection was made
    this.remoteSet = false;
    this.micRequest = null; // the pending getUserMedia, shared by repeated clicks
    this.generation = 0; // moves on at each end, so late answers of the browser are dropped
  }

  get myId() {
    return this.chat.myId;
  }

  set(patch) {
    this.state = { ...this.state, ...patch };
    this.changed(this.state);
  }

  /** The ICE servers and policy of this server (`GET /rtc/config`), fetched once per call. */
  async rtcConfig() {
    try {
      this.config = await api('GET', '/rtc/config');
    } catch {
      this.config = this.config || { ice_servers: [], ice_transport_policy: 'all' };
    }
    return this.config;
  }

  /**
   * The microphone; false (and the `micBlocked` note) when the user or the browser
   * refused it, or when the call ended while the browser was asking (the stream is then
   * stopped at once, never left open).
   */
  async microphone() {
    if (this.local) return true;
    const generation = this.generation;
    this.micRequest = this.micRequest || navigator.mediaDevices.getUserMedia({ audio: true, video: false });
    try {
      const stream = await this.micRequest;
      if (generation !== this.generation) {
        for (const track of stream.getTracks()) track.stop();
        return false;
      }
      this.local = stream;
      return true;
    } catch (error) {
      const denied = error && (error.name === 'NotAllowedError' || error.name === 'SecurityError');
      if (generation === this.generation) this.set({ note: denied ? 'micBlocked' : 'micMissing' });
      return false;
    } finally {
      this.micRequest = null;
    }
  }

  /** Rings the partner. */
  async start() {
    if (this.state.phase !== 'idle' || this.state.busy) return;
    this.set({ note: null, busy: true });
    await this.rtcConfig();
    const ok = await this.microphone();
    this.set({ busy: false });
    // A call from the partner may have come in meanwhile: then this page answers it.
    if (ok && this.state.phase === 'idle') this.chat.sendCall({ type: 'call_start' });
  }

  async accept() {
    if (this.state.phase !== 'incoming' || this.state.busy) return;
    const callId = this.state.callId;
    this.set({ busy: true });
    await this.rtcConfig();
    const ok = await this.microphone();
    this.set({ busy: false });
    if (this.state.phase !== 'incoming' || this.state.callId !== callId) return; // it ended meanwhile
    if (!ok) {
      // Without a microphone there is no call: the caller hears it was declined, and
      // this page keeps saying why.
      this.keptNote = this.state.note;
      this.chat.sendCall({ type: 'call_answer', accept: false });
      return;
    }
    this.chat.sendCall({ type: 'call_answer', accept: true });
  }

  decline() {
    if (this.state.phase === 'incoming') this.chat.sendCall({ type: 'call_answer', accept: false });
  }

  hangUp() {
    if (this.state.phase !== 'idle') this.chat.sendCall({ type: 'call_end' });
  }

  toggleMute() {
    const muted = !this.state.muted;
    for (const track of this.local?.getAudioTracks() || []) track.enabled = !muted;
    this.set({ muted });
    if (this.state.phase === 'active' || this.state.phase === 'outgoing') this.chat.sendCall({ type: 'call_mute', muted });
  }

  /** The `connection` frame's `call` after the chat socket (re)connects. */
  resume(call) {
    // Another call than the one this page holds: that one ended while away.
    if (this.state.callId !== null && call && this.state.callId !== call.call_id) this.finish('hangup');
    if (!call) {
      // It ended while the socket was away.
      if (this.state.phase !== 'idle') this.finish('hangup');
      return;
    }
    const known = this.state.callId === call.call_id && (this.pc || this.state.phase === 'incoming' || this.local);
    if (known) {
      this.set({ partnerMuted: call.partner_muted });
      // Answered while this socket was away: the `active` push was lost, so connect now.
      if (call.state === 'active' && this.state.phase !== 'active' && this.local) {
        this.activate(call.caller_id === this.myId, Date.parse(call.answered_at) || Date.now());
      }
      return;
    }
    const mine = call.caller_id === this.myId;
    if (call.state === 'ringing' && !mine) {
      this.set({ ...idle(), phase: 'incoming', callId: call.call_id, callerId: call.caller_id });
      return;
    }
    // A call this page did not make or answer (before a reload): its audio is gone.
    this.set({ ...idle(), phase: mine ? 'outgoing' : 'active', callId: call.call_id, callerId: call.caller_id });
    this.chat.sendCall({ type: 'call_end' });
  }

  /** A `call_state`, `rtc_signal` or `call_mute` frame. */
  onFrame(frame) {
    if (frame.type === 'call_mute') {
      this.set({ partnerMuted: frame.muted });
    } else if (frame.type === 'rtc_signal') {
      if (frame.call_id === this.state.callId) this.onSignal(frame.payload);
    } else if (frame.type === 'call_state') {
      this.onState(frame);
    }
  }

  onState(frame) {
    const mine = frame.caller_id === this.myId;
    if (frame.state === 'ringing') {
      // An earlier call whose end this page missed goes first.
      if (this.state.callId !== null && this.state.callId !== frame.call_id) this.release();
      this.set({ ...idle(), phase: mine ? 'outgoing' : 'incoming', callId: frame.call_id, callerId: frame.caller_id, mine });
    } else if (frame.state === 'active') {
      if (frame.call_id !== this.state.callId || this.state.phase === 'active') return;
      this.activate(mine, Date.now());
    } else if (frame.state === 'ended') {
      if (frame.call_id !== this.state.callId && this.state.callId !== null) return;
      const byMe = frame.by === this.myId;
      this.finish(frame.reason, byMe);
    }
  }

  /** The call is up: connect its audio (the caller offers). */
  activate(caller, answeredAt) {
    this.set({ phase: 'active', answeredAt, link: 'connecting' });
    this.connect(caller).catch((error) => {
      // Hung up while the offer was being made, or the browser refused the connection.
      if (this.pc) this.set({ link: 'failed' });
      console.warn('call connection failed', error);
    });
  }

  /** Closes the connection and the microphone, with no word to the user. */
  release() {
    this.generation += 1;
    this.pc?.close();
    this.pc = null;
    for (const track of this.local?.getTracks() || []) track.stop();
    this.local = null;
    this.pendingCandidates = [];
    this.early = [];
    this.remoteSet = false;
    this.chat.signals.clear();
    if (this.audio) this.audio.srcObject = null;
  }

  /** Ends the page's side of the call and says why. */
  finish(reason, byMe = false) {
    this.release();
    let note = reason === 'declined' && byMe ? 'youDeclined' : reason === 'missed' && !this.state.mine ? 'youMissed' : reason;
    if (this.keptNote) note = this.keptNote;
    this.keptNote = null;
    this.set({ ...idle(), note });
  }

  async connect(caller) {
    const config = this.config || (await this.rtcConfig());
    const pc = new RTCPeerConnection({ iceServers: config.ice_servers, iceTransportPolicy: config.ice_transport_policy });
    this.pc = pc;
    for (const track of this.local?.getTracks() || []) pc.addTrack(track, this.local);
    pc.onicecandidate = (e) => {
      if (e.candidate) this.chat.sendSignal({ candidate: e.candidate.toJSON() });
    };
    pc.ontrack = (e) => {
      if (!this.audio) return;
      this.audio.srcObject = e.streams[0] || new MediaStream([e.track]);
      this.audio.play().catch(() => {});
    };
    pc.onconnectionstatechange = () => {
      if (this.pc !== pc) return;
      const s = pc.connectionState;
      this.set({ link: s === 'connected' ? 'connected' : s === 'failed' ? 'failed' : s === 'disconnected' ? 'connecting' : this.state.link });
    };
    if (caller) {
      const offer = await pc.createOffer();
      await pc.setLocalDescription(offer);
      this.chat.sendSignal({ description: { type: offer.type, sdp: offer.sdp } });
    }
    for (const payload of this.early.splice(0)) await this.onSignal(payload);
  }

  async onSignal(payload) {
    const pc = this.pc;
    if (!payload) return;
    if (!pc) {
      // The offer can come before this page made its connection (or saw `active`).
      if (this.state.phase === 'active' || this.state.phase === 'incoming') this.early.push(payload);
      return;
    }
    try {
      if (payload.description) {
        await pc.setRemoteDescription(payload.description);
        this.remoteSet = true;
        for (const c of this.pendingCandidates.splice(0)) await pc.addIceCandidate(c);
        if (payload.description.type === 'offer') {
          const answer = await pc.createAnswer();
          await pc.setLocalDescription(answer);
          this.chat.sendSignal({ description: { type: answer.type, sdp: answer.sdp } });
        }
      } else if (payload.candidate) {
        if (this.remoteSet) await pc.addIceCandidate(payload.candidate);
        else this.pendingCandidates.push(payload.candidate);
      }
    } catch (error) {
      console.warn('call signalling failed', error);
    }
  }

  /** The page leaves the room: the call ends with it. */
  stop() {
    if (this.state.phase !== 'idle') this.chat.sendNow({ type: 'call_end' });
    this.release();
  }
}
