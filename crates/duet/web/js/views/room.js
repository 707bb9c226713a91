// The room: the header and partner panel (room-header.js), the call screen
// (call-panel.js), the like round (like-round.js), the messages (message-list.js) with
// the partner's typing line, and the composer (composer.js), wired to the room's chat
// socket (chat-socket.js).

import { api } from '../api.js';
import { likeRound as likeRoundOpened, messageArrived } from '../attention.js';
import { ChatRoom } from '../chat-socket.js';
import { callPanel } from './call-panel.js';
import { composer } from './composer.js';
import { likeRound } from './like-round.js';
import { messageList } from './message-list.js';
import { roomHeader } from './room-header.js';
import { h } from '../dom.js';
import { getLang, t } from '../i18n.js';
import { errorText, hideBanner, partnerFacts, showBanner } from '../ui.js';

// How long a partner's closed socket waits before they show as offline.
const OFFLINE_AFTER_MS = 3000;

export function roomView(app, roomId) {
  const el = h('section', { class: 'screen screen-room', 'aria-busy': 'true' },
    h('p', { class: 'muted room-loading', text: t('room.connecting') }));
  const state = { chat: null, like: null, top: null, destroyed: false, offlineTimer: null };
  const cleanup = () => {
    state.destroyed = true;
    // The call ends with the room's screen (its frame goes before the socket closes).
    state.call?.destroy();
    state.chat?.stop();
    state.like?.destroy();
    state.top?.destroy();
    clearTimeout(state.typingHide);
    clearTimeout(state.readTimer);
    clearTimeout(state.offlineTimer);
    document.removeEventListener('visibilitychange', onVisible);
    state.headerWatch?.disconnect();
    document.documentElement.style.removeProperty('--banner-top');
    hideBanner('like');
    hideBanner('call');
  };
  const onVisible = () => scheduleRead();
  document.addEventListener('visibilitychange', onVisible);

  load();

  async function load() {
    let room;
    try {
      room = await api('GET', `/chat/room/${roomId}`);
    } catch (error) {
      if (state.destroyed) return;
      if (error.code === 'not_found') app.go('#/');
      else if (error.code !== 'banned') {
        showBanner('room', 'error', errorText(error), 8);
        setTimeout(() => !state.destroyed && load(), 3000);
      }
      return;
    }
    if (state.destroyed) return;
    if (room.end_time) {
      app.ended(roomId, room.end_reason);
      return;
    }
    build(room);
  }

  function build(room) {
    const top = roomHeader(app, el, roomId, room, (reason) => app.ended(roomId, reason));
    state.top = top;
    const like = likeRound(roomId, (change) => keepingBottom(change), {
      likeAfterSecs: app.limits?.like_after_secs,
      kept: () => el.dataset.kept === 'true',
    });
    // Before the first round: when it opens (the room's start plus the interval).
    if (!room.like_round && room.reveal_level < 2 && app.limits?.like_after_secs) {
      const first = Date.parse(room.start_time) + app.limits.like_after_secs * 1000;
      if (first > Date.now()) like.scheduleNext(first);
    }
    state.like = like;
    const intro = matchIntro(app, room, top.name, (text) => {
      showPending(messages, chat.send(text));
      messages.scrollDown();
    });
    const list = h('ol', { class: 'messages', role: 'log', 'aria-live': 'polite', 'aria-relevant': 'additions', tabindex: '0' }, intro.el);
    const typing = h('p', { class: 'typing', 'aria-live': 'polite' });
    const messages = messageList(list, top.name);
    const chat = connect(top, like, messages, typing, intro);
    const call = callPanel(chat, room, top.name, (phase) => {
      // A language change waited for the call to end (rebuilding the screen hangs up).
      if (phase === 'idle' && state.relabelLater) {
        state.relabelLater = false;
        app.rerender();
      }
    });
    state.call = call;
    top.header.querySelector('.room-actions')?.prepend(call.button);
    const box = composer(app, roomId, {
      send: (content) => showPending(messages, chat.send(content)),
      sent: messages.scrollDown,
      typed: () => chat.typed(),
      stopTyping: () => chat.stopTyping(),
    });
    state.box = box;

    el.replaceChildren(
      top.header,
      h('div', { class: 'room-body' },
        h('div', { class: 'chat-column' }, call.el, like.el, like.nextEl, list, typing, box.error, box.form),
        top.backdrop,
        top.aside));
    el.removeAttribute('aria-busy');
    // Banners float over the messages, below the room's header, never over its buttons.
    const placeBanners = () => document.documentElement.style.setProperty('--banner-top', `${Math.round(top.header.getBoundingClientRect().bottom)}px`);
    state.headerWatch = new ResizeObserver(placeBanners);
    state.headerWatch.observe(top.header);
    placeBanners();

    // Messages that were waiting for their ack before a reload go first, as pending.
    for (const item of chat.pending()) showPending(messages, item);
    chat.start();
    box.focus();

    // The like panel takes room from the list: keep the newest message in view.
    function keepingBottom(change) {
      const stick = messages.nearBottom();
      change();
      if (stick) messages.scrollDown();
    }
  }

  /** A message sent but not yet acked, at the end of the list (unsent while the link is down). */
  function showPending(messages, item) {
    const li = messages.renderMessage(el.dataset.connection === 'down' ? { ...item, state: 'unsent' } : item);
    messages.pendingEls.set(item.client_id, li);
    messages.list.append(li);
  }

  /** The room's chat socket, and what each of its events changes on the page. */
  function connect(top, like, messages, typing, intro) {
    const { list, pendingEls, nearBottom, scrollDown, renderMessage, insertConfirmed, confirmPending, updateState, updatePending } = messages;
    const setTyping = (on) => {
      clearTimeout(state.typingHide);
      typing.textContent = on ? t('partner.typing', { name: top.name }) : '';
      typing.classList.toggle('visible', on);
      if (on) {
        top.setPresence(true);
        state.typingHide = setTimeout(() => setTyping(false), 8000);
      }
    };
    const chat = new ChatRoom(roomId, app.profile.id, {
      connected: (frame) => {
        for (const li of pendingEls.values()) updatePending(li, 'sending');
        top.setReveal(frame.reveal_level);
        if (frame.like_round) like.show(frame.like_round);
        else like.hide();
        state.call?.resume(frame.call);
      },
      call: (frame) => state.call?.onFrame(frame),
      message: (msg, { replay }) => {
        const stick = replay || msg.mine || nearBottom();
        const pending = msg.client_id && pendingEls.get(msg.client_id);
        if (pending) {
          pendingEls.delete(msg.client_id);
          // Stored messages stay above those still pending, in seq order.
          const firstPending = list.querySelector('.msg[data-seq=""]');
          if (firstPending !== pending) list.insertBefore(pending, firstPending);
          confirmPending(pending, msg);
        } else insertConfirmed(renderMessage(msg));
        // The conversation has started: the icebreaker's one-tap send goes.
        intro.started();
        if (!msg.mine) {
          if (!replay) messageArrived(top.name, msg.content);
          setTyping(false);
          top.setPresence(true);
          scheduleRead();
        }
        if (stick) scrollDown();
      },
      updated: updateState,
      typing: (on) => {
        top.setPresence(true);
        setTyping(on);
      },
      presence: (online) => {
        // "Offline" shows only if the partner is not back within a few seconds: a
        // reconnect (a network blip, a socket closed when its token ran out) is no news.
        clearTimeout(state.offlineTimer);
        if (online) {
          top.setPresence(true);
          // The partner's page lost our read mark when it reconnected: send it again.
          scheduleRead();
        } else {
          state.offlineTimer = setTimeout(() => top.setPresence(false), OFFLINE_AFTER_MS);
        }
      },
      frame: (frame) => onRoomFrame(frame, top, like, chat),
      ended: (reason) => endedFromSocket(reason),
      banned: (ban) => app.banned(ban),
      replaced: () => app.replaced(),
      sessionEnded: () => app.sessionEnded(),
      connection: (up) => {
        // The banner is connection.js's. Here: while down, messages not yet stored say
        // they are not sent (they go when the link is back), and the partner's presence
        // is unknown rather than the last thing heard (the `connection` frame says it
        // again).
        el.dataset.connection = up ? 'up' : 'down';
        if (up) return;
        clearTimeout(state.offlineTimer);
        top.setPresence(null);
        for (const li of pendingEls.values()) updatePending(li, 'unsent');
      },
    }, app.limits || {});
    state.chat = chat;
    return chat;
  }

  /** The room's other pushes: the like round, reveals, keep, and refused frames. */
  function onRoomFrame(frame, top, like, chat) {
    switch (frame.type) {
      case 'like_prompt':
        like.show({ round: frame.round, deadline: frame.deadline, answered: false });
        likeRoundOpened();
        break;
      case 'like_response':
        if (frame.user_id !== chat.myId) like.partnerAnswered();
        break;
      case 'like_result':
        like.result(frame.outcome, frame.reveal_level);
        top.setReveal(frame.reveal_level);
        showBanner('like', frame.outcome === 'mutual' ? 'info' : 'warn', t(frame.outcome === 'mutual' ? 'like.mutual' : 'like.noMatch'), 6);
        break;
      case 'image_reveal':
        top.setReveal(frame.reveal_level);
        top.setAvatar(frame.partner_avatar_url);
        break;
      case 'room_kept':
        top.setKept();
        break;
      case 'error':
        if (frame.code === 'rate_limited') showBanner('chat-rate', 'warn', t('error.rate_limited'), 5);
        else if (frame.code === 'invalid_message') state.box?.showError(t('error.invalid_message'));
        else if (['call_busy', 'no_call', 'not_ringing'].includes(frame.code)) showBanner('call', 'warn', t(`error.${frame.code}`), 5);
        break;
      default:
        break;
    }
  }

  function scheduleRead() {
    if (document.visibilityState !== 'visible' || !state.chat) return;
    clearTimeout(state.readTimer);
    state.readTimer = setTimeout(() => state.chat?.markRead(), 250);
  }

  async function endedFromSocket(reason) {
    if (state.destroyed) return;
    if (!reason) {
      try {
        reason = (await api('GET', `/chat/room/${roomId}`)).end_reason;
      } catch {
        reason = null;
      }
    }
    app.ended(roomId, reason);
  }

  return {
    el,
    key: `room:${roomId}`,
    destroy: cleanup,
    /**
     * A language change rebuilds the screen (the composer's draft is kept), except
     * during a call, which a rebuild would hang up: then once the call has ended.
     */
    relabelNow() {
      const phase = state.call?.session.state.phase;
      if (!phase || phase === 'idle') return true;
      state.relabelLater = true;
      return false;
    },
  };
}

/**
 * The top of the conversation: who the partner is (facts, needs and interests, those
 * both share marked) and the room's icebreaker, which one tap sends as the first
 * message. `send(text)` sends a message; `started()` hides the tap once any message is
 * in the room.
 */
function matchIntro(app, room, name, send) {
  const mine = [...(app.profile.needs || []), ...(app.profile.interests || [])];
  const { facts, tags } = partnerFacts(room.partner, app.vocab, mine);
  const icebreaker = room.icebreaker ? room.icebreaker[getLang()] || room.icebreaker.en : '';
  const sendIcebreaker = icebreaker ? h('button', { type: 'button', class: 'btn btn-small btn-secondary icebreaker-send', text: t('room.icebreakerSend') }) : null;
  sendIcebreaker?.addEventListener('click', () => {
    sendIcebreaker.hidden = true;
    send(icebreaker);
  });
  const el = h('li', { class: 'match-intro' },
    h('p', { class: 'eyebrow', text: t('match.title') }),
    h('p', { class: 'match-intro-name', text: name }),
    facts ? h('p', { class: 'muted', text: facts }) : null,
    tags,
    icebreaker ? h('div', { class: 'icebreaker' },
      h('p', { class: 'icebreaker-label', text: t('room.icebreaker') }),
      h('p', { class: 'icebreaker-text', text: icebreaker }),
      sendIcebreaker) : null);
  return {
    el,
    started() {
      if (sendIcebreaker) sendIcebreaker.hidden = true;
    },
  };
}
