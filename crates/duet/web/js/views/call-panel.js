// The call screen of a room: the call button, and a panel above the messages that
// shows the call's state (calling, incoming with accept and decline and a ringtone
// the user can silence, active with its duration, connection state, mute and hang up,
// the partner's mute), what ended it, and, when calls may connect directly, that the
// partner may learn one's network address. In a room matched for voice it offers the
// call at once. The call itself is call.js's CallSession.

import { CallSession } from '../call.js';
import { clockText, h } from '../dom.js';
import { t } from '../i18n.js';
import { api } from '../api.js';

const NOTES = {
  declined: 'call.noteDeclined',
  youDeclined: 'call.noteYouDeclined',
  missed: 'call.noteMissed',
  youMissed: 'call.noteYouMissed',
  hangup: 'call.noteEnded',
  room_ended: 'call.noteEnded',
  disconnected: 'call.noteDisconnected',
  micBlocked: 'call.noteMicBlocked',
  micMissing: 'call.noteMicMissing',
};
const LINKS = { connecting: 'call.linkConnecting', connected: 'call.linkConnected', failed: 'call.linkFailed', new: 'call.linkConnecting' };
const RING_MUTED_KEY = 'duet.ringMuted';

/** A ringtone made with Web Audio (two short tones every two seconds); no sound file. */
function ringtone() {
  let ctx = null;
  let timer = null;
  const beep = () => {
    if (!ctx) return;
    for (const [offset, freq] of [[0, 880], [0.25, 660]]) {
      const osc = ctx.createOscillator();
      const gain = ctx.createGain();
      osc.frequency.value = freq;
      gain.gain.value = 0.08;
      osc.connect(gain).connect(ctx.destination);
      osc.start(ctx.currentTime + offset);
      osc.stop(ctx.currentTime + offset + 0.2);
    }
  };
  return {
    start() {
      if (timer) return;
      try {
        ctx = ctx || new AudioContext();
        ctx.resume().catch(() => {});
      } catch {
        ctx = null;
      }
      beep();
      timer = setInterval(beep, 2000);
    },
    stop() {
      clearInterval(timer);
      timer = null;
    },
    close() {
      this.stop();
      ctx?.close().catch(() => {});
      ctx = null;
    },
  };
}

/**
 * `chat`: the room's ChatRoom. `room`: the room as `GET /chat/room/{id}` gives it.
 * `name`: the partner's name. `onPhase(phase)`: after every change of the call's state.
 * Returns `{button, el, onFrame, resume, session, destroy}`.
 */
export function callPanel(chat, room, name, onPhase = () => {}) {
  const audio = h('audio', { autoplay: true, class: 'call-audio' });
  // An icon and a label, like the room header's other buttons (only the icon on a narrow phone).
  const button = h('button', { type: 'button', class: 'btn btn-small btn-secondary call-button has-icon', title: t('call.start') },
    h('span', { class: 'btn-icon', 'aria-hidden': 'true', text: '📞' }),
    h('span', { class: 'btn-label', text: t('call.start') }));
  // The panel's content is redrawn at each change; the audio element stays put (an
  // element taken out of the page pauses).
  const content = h('div', { class: 'call-content' });
  const el = h('section', { class: 'call-panel', 'aria-live': 'polite', data: { phase: 'idle' } }, content, audio);
  const ring = ringtone();
  let ringMuted = localStorage.getItem(RING_MUTED_KEY) === '1';
  let clock = null;
  let policy = 'all';
  let offerDismissed = false;
  let noteTimer = null;

  const session = new CallSession(chat, { changed: (state) => {
    render(state);
    onPhase(state.phase);
  }, audio });
  api('GET', '/rtc/config').then((c) => {
    policy = c.ice_transport_policy;
    render(session.state);
  }).catch(() => {});
  button.addEventListener('click', () => session.start());

  const action = (key, kind, fn) => h('button', { type: 'button', class: `btn btn-small ${kind}`, text: t(key), on: { click: fn } });
  const privacy = () => (policy === 'all' ? h('p', { class: 'call-privacy muted', text: t('call.privacy') }) : null);

  function render(state) {
    el.dataset.phase = state.phase;
    el.dataset.link = state.link;
    button.disabled = state.phase !== 'idle' || state.busy;
    clearInterval(clock);
    clock = null;
    clearTimeout(noteTimer);
    if (state.note && state.phase === 'idle') {
      // What ended the call stays a while, then the panel goes.
      const shown = state.note;
      noteTimer = setTimeout(() => session.state.note === shown && session.set({ note: null }), 10_000);
    }
    if (state.phase === 'incoming' && !ringMuted) ring.start();
    else ring.stop();
    const note = state.note && NOTES[state.note] ? h('p', { class: 'call-note', role: 'status', text: t(NOTES[state.note], { name }) }) : null;
    let body = [];
    if (state.phase === 'outgoing') {
      body = [h('p', { class: 'call-title', text: t('call.calling', { name }) }), privacy(),
        h('div', { class: 'call-actions' }, action('call.cancel', 'btn-danger call-hangup', () => session.hangUp()))];
    } else if (state.phase === 'incoming') {
      const ringToggle = action(ringMuted ? 'call.ringOn' : 'call.ringOff', 'btn-ghost call-ring-toggle', () => {
        ringMuted = !ringMuted;
        localStorage.setItem(RING_MUTED_KEY, ringMuted ? '1' : '0');
        render(session.state);
      });
      body = [h('p', { class: 'call-title', text: t('call.incoming', { name }) }), privacy(),
        h('div', { class: 'call-actions' },
          h('button', { type: 'button', class: 'btn btn-small btn-primary call-accept', disabled: state.busy, text: t('call.accept'), on: { click: () => session.accept() } }),
          action('call.decline', 'btn-danger call-decline', () => session.decline()),
          ringToggle)];
    } else if (state.phase === 'active') {
      const duration = h('span', { class: 'call-duration' });
      const tick = () => (duration.textContent = clockText((Date.now() - (state.answeredAt || Date.now())) / 1000));
      tick();
      clock = setInterval(tick, 1000);
      body = [h('p', { class: 'call-title' }, t('call.active', { name }), ' · ', duration),
        h('p', { class: 'call-link muted', text: t(LINKS[state.link] || 'call.linkConnecting') }),
        state.partnerMuted ? h('p', { class: 'call-partner-muted', text: t('call.partnerMuted', { name }) }) : null,
        h('div', { class: 'call-actions' },
          h('button', { type: 'button', class: 'btn btn-small btn-secondary call-mute', 'aria-pressed': String(state.muted), text: t(state.muted ? 'call.unmute' : 'call.mute'), on: { click: () => session.toggleMute() } }),
          action('call.hangup', 'btn-danger call-hangup', () => session.hangUp()))];
    } else if (room.kind === 'voice' && !offerDismissed && !state.note) {
      // A voice match: the call is what both came for.
      body = [h('p', { class: 'call-title', text: t('call.voiceOffer') }), privacy(),
        h('div', { class: 'call-actions' },
          action('call.voiceStart', 'btn-primary call-offer', () => {
            offerDismissed = true;
            session.start();
          }))];
    }
    content.replaceChildren(...body.filter(Boolean), ...(note ? [note] : []));
    el.hidden = body.length === 0 && !note;
  }
  render(session.state);

  return {
    button,
    el,
    onFrame: (frame) => session.onFrame(frame),
    resume: (call) => session.resume(call),
    session,
    destroy() {
      clearInterval(clock);
      clearTimeout(noteTimer);
      ring.close();
      session.stop();
    },
  };
}
