// The room: the partner (photo at the room's reveal level, presence, facts), the chat
// with its delivery states and typing line, the like round, keep, report and end.

import { api, avatarBlobUrl } from '../api.js';
import { ChatRoom } from '../chat-socket.js';
import { likeRound } from './like-round.js';
import { messageList } from './message-list.js';
import { openReportDialog } from './report-dialog.js';
import { h } from '../dom.js';
import { getLang, t } from '../i18n.js';
import { avatarEl, errorText, hideBanner, openDialog, partnerFacts, partnerName, showBanner } from '../ui.js';


export function roomView(app, roomId) {
  const el = h('section', { class: 'screen screen-room', 'aria-busy': 'true' },
    h('p', { class: 'muted room-loading', text: t('room.connecting') }));
  const state = { room: null, chat: null, like: null, blob: null, destroyed: false };
  const cleanup = () => {
    state.destroyed = true;
    state.chat?.stop();
    state.like?.destroy();
    clearTimeout(state.typingHide);
    clearTimeout(state.readTimer);
    if (state.blob) URL.revokeObjectURL(state.blob);
    document.removeEventListener('visibilitychange', onVisible);
    hideBanner('chat-offline');
    hideBanner('like');
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
    state.room = room;
    build(room);
  }

  function build(room) {
    const partner = room.partner;
    const name = partnerName(partner);
    const avatar = avatarEl(partner.nickname, 'md');
    state.avatar = avatar;
    setAvatar(partner.avatar_url);

    const presence = h('span', { class: 'presence', data: { online: 'unknown' } });
    const reveal = h('span', { class: 'reveal-badge' });
    const keepButton = h('button', { type: 'button', class: 'btn btn-small btn-secondary', 'aria-pressed': 'false' });
    const reportButton = h('button', { type: 'button', class: 'btn btn-small btn-ghost', text: t('room.report') });
    const endButton = h('button', { type: 'button', class: 'btn btn-small btn-danger', text: t('room.end') });
    const detailsButton = h('button', { type: 'button', class: 'btn btn-small btn-ghost details-toggle', 'aria-expanded': 'false', text: t('room.details') });
    const keptBadge = h('p', { class: 'kept-note', role: 'status' });

    const { facts, tags } = partnerFacts(partner, app.vocab);
    const icebreakerText = room.icebreaker ? room.icebreaker[getLang()] || room.icebreaker.en : '';
    const aside = h('aside', { class: 'room-aside', id: `room-aside-${roomId}`, 'aria-label': t('room.details') },
      h('div', { class: 'aside-avatar' }, avatarEl(partner.nickname, 'lg').el),
      h('h2', { text: name }),
      facts ? h('p', { class: 'muted', text: facts }) : null,
      tags,
      reveal,
      keptBadge);
    state.asideAvatar = aside.querySelector('.avatar');
    detailsButton.setAttribute('aria-controls', aside.id);

    const header = h('header', { class: 'room-header' },
      avatar.el,
      h('div', { class: 'room-title' }, h('h1', { class: 'partner-name', text: name }), presence),
      h('div', { class: 'room-actions' }, detailsButton, keepButton, reportButton, endButton));

    const like = likeRound(roomId, (change) => keepingBottom(change));
    state.like = like;
    const list = h('ol', { class: 'messages', role: 'log', 'aria-live': 'polite', 'aria-relevant': 'additions', tabindex: '0' },
      icebreakerText ? h('li', { class: 'icebreaker icebreaker-inline' },
        h('p', { class: 'icebreaker-label', text: t('room.icebreaker') }),
        h('p', { class: 'icebreaker-text', text: icebreakerText })) : null);
    const typing = h('p', { class: 'typing', 'aria-live': 'polite' });
    const input = h('textarea', { rows: 1, name: 'message', placeholder: t('room.placeholder'), 'aria-label': t('room.placeholder'), maxlength: app.limits.message_max_chars * 2, enterkeyhint: 'send' });
    const send = h('button', { type: 'submit', class: 'btn btn-primary btn-send', 'aria-label': t('room.send') }, h('span', { text: t('room.send') }));
    const composerError = h('p', { class: 'composer-error', role: 'alert' });
    const composer = h('form', { class: 'composer' }, input, send);

    el.replaceChildren(
      header,
      h('div', { class: 'room-body' },
        h('div', { class: 'chat-column' }, like.el, list, typing, composerError, composer),
        aside));
    el.removeAttribute('aria-busy');

    detailsButton.addEventListener('click', () => {
      const open = el.classList.toggle('show-details');
      detailsButton.setAttribute('aria-expanded', String(open));
    });

    // --- keep ---
    const renderKeep = () => {
      const { keep, kept } = state.room;
      keepButton.textContent = keep.me ? t('room.unkeep') : t('room.keep');
      keepButton.setAttribute('aria-pressed', String(keep.me));
      el.dataset.kept = String(kept);
      keptBadge.textContent = kept ? t('room.kept') : keep.me ? t('room.keepWaiting') : '';
    };
    keepButton.addEventListener('click', async () => {
      keepButton.disabled = true;
      try {
        state.room = await api('POST', `/chat/keep/${roomId}`, { keep_active: !state.room.keep.me });
        renderKeep();
      } catch (error) {
        showBanner('room', 'error', errorText(error), 6);
      }
      keepButton.disabled = false;
    });
    renderKeep();

    // --- reveal ---
    const renderReveal = (level) => {
      el.dataset.reveal = String(level);
      reveal.textContent = t('room.reveal', { level });
    };
    renderReveal(room.reveal_level);

    // --- report and end ---
    reportButton.addEventListener('click', () => openReportDialog(app, roomId));
    endButton.addEventListener('click', async () => {
      const confirmed = await openDialog(t('end.title'), (close) => h('div', { class: 'stack' },
        h('p', { text: t('end.body') }),
        h('div', { class: 'form-actions' },
          h('button', { type: 'button', class: 'btn btn-ghost', text: t('common.cancel'), on: { click: () => close(null) } }),
          h('button', { type: 'button', class: 'btn btn-danger', text: t('end.confirm'), autofocus: true, on: { click: () => close(true) } }))));
      if (!confirmed) return;
      try {
        const res = await api('POST', `/chat/end/${roomId}`);
        app.ended(roomId, res.reason);
      } catch (error) {
        showBanner('room', 'error', errorText(error), 6);
      }
    });

    // --- messages ---
    const { pendingEls, nearBottom, scrollDown, renderMessage, insertConfirmed, confirmPending, updateState } = messageList(list, name);

    const chat = new ChatRoom(roomId, app.profile.id, {
      connected: (frame) => {
        hideBanner('chat-offline');
        renderReveal(frame.reveal_level);
        if (frame.like_round) like.show(frame.like_round);
        else like.hide();
      },
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
        if (!msg.mine) {
          setTyping(false);
          setPresence(true);
          scheduleRead();
        }
        if (stick) scrollDown();
      },
      updated: updateState,
      typing: (on) => {
        setPresence(true);
        setTyping(on);
      },
      presence: (online) => {
        setPresence(online);
        // The partner's page lost our read mark when it reconnected: send it again.
        if (online) scheduleRead();
      },
      frame: onRoomFrame,
      ended: (reason) => endedFromSocket(reason),
      banned: (until) => app.banned(until),
      replaced: () => app.replaced(),
      sessionEnded: () => app.sessionEnded(),
      connection: (up) => {
        el.dataset.connection = up ? 'up' : 'down';
        if (up) hideBanner('chat-offline');
        else showBanner('chat-offline', 'warn', t('banner.offline'));
      },
    });
    state.chat = chat;
    // Messages that were waiting for their ack before a reload go first, as pending.
    for (const item of chat.pending()) {
      const li = renderMessage(item);
      pendingEls.set(item.client_id, li);
      list.append(li);
    }
    chat.start();

    const setPresence = (online) => {
      presence.dataset.online = String(online);
      presence.textContent = online ? t('partner.online') : t('partner.away');
    };
    const setTyping = (on) => {
      clearTimeout(state.typingHide);
      typing.textContent = on ? t('partner.typing', { name }) : '';
      typing.classList.toggle('visible', on);
      if (on) {
        setPresence(true);
        state.typingHide = setTimeout(() => setTyping(false), 8000);
      }
    };

    // --- composer ---
    const submit = () => {
      const content = input.value.trim();
      composerError.textContent = '';
      if (!content) return;
      if ([...content].length > app.limits.message_max_chars) {
        composerError.textContent = t('room.tooLong', { max: app.limits.message_max_chars });
        return;
      }
      const item = chat.send(content);
      const li = renderMessage(item);
      pendingEls.set(item.client_id, li);
      list.append(li);
      input.value = '';
      autosize();
      scrollDown();
      input.focus();
    };
    const autosize = () => {
      input.style.height = 'auto';
      input.style.height = `${Math.min(input.scrollHeight, 140)}px`;
    };
    composer.addEventListener('submit', (event) => {
      event.preventDefault();
      submit();
    });
    input.addEventListener('keydown', (event) => {
      if (event.key === 'Enter' && !event.shiftKey && !event.isComposing) {
        event.preventDefault();
        submit();
      }
    });
    input.addEventListener('input', () => {
      autosize();
      if (input.value.trim()) chat.typed();
      else chat.stopTyping();
    });

    // The like panel takes room from the list: keep the newest message in view.
    function keepingBottom(change) {
      const stick = nearBottom();
      change();
      if (stick) scrollDown();
    }

    function onRoomFrame(frame) {
      switch (frame.type) {
        case 'like_prompt':
          like.show({ round: frame.round, deadline: frame.deadline, answered: false });
          break;
        case 'like_response':
          if (frame.user_id !== chat.myId) like.partnerAnswered();
          break;
        case 'like_result':
          like.hide();
          renderReveal(frame.reveal_level);
          showBanner('like', frame.outcome === 'mutual' ? 'info' : 'warn', t(frame.outcome === 'mutual' ? 'like.mutual' : 'like.noMatch'), 6);
          break;
        case 'image_reveal':
          renderReveal(frame.reveal_level);
          setAvatar(frame.partner_avatar_url);
          break;
        case 'room_kept':
          state.room.keep = { me: true, partner: true };
          state.room.kept = true;
          renderKeep();
          break;
        case 'error':
          if (frame.code === 'rate_limited') showBanner('chat-rate', 'warn', t('error.rate_limited'), 5);
          else if (frame.code === 'invalid_message') composerError.textContent = t('error.invalid_message');
          break;
        default:
          break;
      }
    }
    input.focus();
  }

  async function setAvatar(url) {
    const blob = await avatarBlobUrl(url);
    if (state.destroyed) {
      if (blob) URL.revokeObjectURL(blob);
      return;
    }
    if (state.blob) URL.revokeObjectURL(state.blob);
    state.blob = blob;
    state.avatar.set(blob);
    const img = state.asideAvatar?.querySelector('img');
    if (img) {
      img.hidden = !blob;
      if (blob) img.src = blob;
    }
    if (blob) el.dataset.avatarUrl = url;
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

  return { el, destroy: cleanup };
}
