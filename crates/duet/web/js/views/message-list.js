// The room's message list: how a message is drawn (bubble, time, delivery state), a
// pending message confirmed in place, state changes, and scroll pinning. The room view
// wires it to the chat socket and the composer.

import { h } from '../dom.js';
import { formatClock, t } from '../i18n.js';

/** `list`: the `<ol>` of messages; `name`: the partner's name, for screen readers. */
export function messageList(list, name) {
  const pendingEls = new Map(); // client_id -> li
  const nearBottom = () => list.scrollHeight - list.scrollTop - list.clientHeight < 80;
  const scrollDown = () => (list.scrollTop = list.scrollHeight);
  const stateText = { unsent: t('room.unsent'), sending: t('room.sending'), sent: t('room.sent'), read: t('room.read') };
  const stateIcon = { unsent: '!', sending: '◷', sent: '✓', read: '✓✓' };
  const renderMessage = (msg) => {
    const meta = h('span', { class: 'msg-meta' }, h('time', { datetime: msg.timestamp || msg.created, text: formatClock(msg.timestamp || msg.created) }));
    if (msg.mine) meta.append(h('span', { class: 'msg-state', title: stateText[msg.state], 'aria-label': stateText[msg.state], text: stateIcon[msg.state] }));
    return h('li', { class: `msg ${msg.mine ? 'msg-mine' : 'msg-theirs'}`, data: { seq: msg.seq ?? '', clientId: msg.client_id || '', state: msg.state || '' } },
      msg.mine ? null : h('span', { class: 'sr-only', text: `${name}: ` }),
      h('p', { class: 'bubble', dir: 'auto', text: msg.content }),
      meta);
  };
  const insertConfirmed = (li) => {
    const firstPending = list.querySelector('.msg[data-seq=""]');
    list.insertBefore(li, firstPending);
  };
  const updateState = (msg) => {
    const li = list.querySelector(`.msg[data-seq="${msg.seq}"]`);
    if (!li) return;
    li.dataset.state = msg.state;
    const icon = li.querySelector('.msg-state');
    icon.textContent = stateIcon[msg.state];
    icon.title = stateText[msg.state];
    icon.setAttribute('aria-label', stateText[msg.state]);
  };
  /** A message not yet stored: `sending`, or `unsent` while the connection is down. */
  const updatePending = (li, state) => {
    li.dataset.state = state;
    const icon = li.querySelector('.msg-state');
    icon.textContent = stateIcon[state];
    icon.title = stateText[state];
    icon.setAttribute('aria-label', stateText[state]);
  };
  // A pending message becomes the stored one in place: replacing its element would
  // make the log announce it a second time.
  const confirmPending = (li, msg) => {
    li.dataset.seq = msg.seq;
    li.querySelector('time').replaceWith(h('time', { datetime: msg.timestamp, text: formatClock(msg.timestamp) }));
    updateState(msg);
  };
  return { list, pendingEls, nearBottom, scrollDown, renderMessage, insertConfirmed, confirmPending, updateState, updatePending };
}
