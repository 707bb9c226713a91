// The room's header and the partner panel beside the chat: the partner's photo at the
// room's reveal level, name, presence and facts, and the keep, report and end actions.
// The room view shows it and tells it what the chat socket says (presence, reveal,
// a new photo URL, the room kept).

import { api, avatarBlobUrl } from '../api.js';
import { openReportDialog } from './report-dialog.js';
import { h } from '../dom.js';
import { t } from '../i18n.js';
import { announce, avatarEl, errorText, openDialog, partnerFacts, partnerName, showBanner } from '../ui.js';

/** A header button with an icon and a label; on a narrow phone only the icon shows (the label stays for screen readers). */
function iconButton(cls, icon, label) {
  const iconEl = h('span', { class: 'btn-icon', 'aria-hidden': 'true', text: icon });
  const labelEl = h('span', { class: 'btn-label', text: label });
  const button = h('button', { type: 'button', class: `btn btn-small ${cls} has-icon`, title: label }, iconEl, labelEl);
  return {
    button,
    set(nextIcon, nextLabel) {
      iconEl.textContent = nextIcon;
      labelEl.textContent = nextLabel;
      button.title = nextLabel;
    },
  };
}

/**
 * `screen`: the room's element, which carries `data-kept`, `data-reveal`,
 * `data-avatar-url` and the `show-details` class. `room`: the room as
 * `GET /chat/room/{id}` gives it. `ended(reason)`: the user ended the room.
 * Returns `{header, aside, name, setPresence, setReveal, setAvatar, setKept, destroy}`.
 */
export function roomHeader(app, screen, roomId, room, ended) {
  const partner = room.partner;
  const name = partnerName(partner);
  const avatar = avatarEl(partner.nickname, 'md');
  const presence = h('span', { class: 'presence', data: { online: 'unknown' } });
  const reveal = h('span', { class: 'reveal-badge' });
  const keep = iconButton('btn-secondary keep-button', '☆', t('room.keep'));
  const keepButton = keep.button;
  keepButton.setAttribute('aria-pressed', 'false');
  const reportButton = h('button', { type: 'button', class: 'btn btn-small btn-ghost', text: t('room.report') });
  const endButton = h('button', { type: 'button', class: 'btn btn-small btn-danger', text: t('room.end') });
  const detailsButton = iconButton('btn-ghost details-toggle', '👤', t('room.details')).button;
  detailsButton.setAttribute('aria-expanded', 'false');
  // On a phone the panel is a drawer over the room: its own close button, a backdrop
  // and Escape close it (on a desktop it is a column, always shown, and these are not).
  const closeAside = h('button', { type: 'button', class: 'btn btn-small btn-ghost aside-close', 'aria-label': t('common.close'), text: '×' });
  const backdrop = h('div', { class: 'details-backdrop', 'aria-hidden': 'true' });
  const keptBadge = h('p', { class: 'kept-note', role: 'status' });

  const { facts, tags } = partnerFacts(partner, app.vocab, [...(app.profile.needs || []), ...(app.profile.interests || [])]);
  const aside = h('aside', { class: 'room-aside', id: `room-aside-${roomId}`, 'aria-label': t('room.details') },
    closeAside,
    h('div', { class: 'aside-avatar' }, avatarEl(partner.nickname, 'lg').el),
    h('h2', { text: name }),
    facts ? h('p', { class: 'muted', text: facts }) : null,
    tags,
    reveal,
    keptBadge,
    h('p', { class: 'muted keep-hint', text: t('room.keepHint') }));
  const asideAvatar = aside.querySelector('.avatar');
  detailsButton.setAttribute('aria-controls', aside.id);
  // The photo is the reveal's moment: a tap enlarges it, with its level; the level also
  // shows on the photo itself, since a phone hides the side panel that says it.
  const levelPill = h('span', { class: 'reveal-pill', 'aria-hidden': 'true' });
  const photoButton = h('button', { type: 'button', class: 'photo-button', 'aria-label': t('room.photo', { name }) }, avatar.el, levelPill);
  photoButton.addEventListener('click', () => openDialog(name, (close) => {
    const img = h('img', { class: 'photo-large', alt: t('room.photo', { name }), src: blob || '', hidden: !blob });
    return h('div', { class: 'stack photo-dialog' },
      blob ? img : h('p', { class: 'muted', text: t('room.noPhoto') }),
      h('p', { class: 'reveal-badge', text: t('room.reveal', { level: screen.dataset.reveal || '0' }) }),
      h('p', { class: 'muted', text: t('room.revealHint') }),
      h('div', { class: 'form-actions' }, h('button', { type: 'button', class: 'btn btn-primary', text: t('common.close'), autofocus: true, on: { click: () => close(null) } })));
  }));
  const header = h('header', { class: 'room-header' },
    photoButton,
    h('div', { class: 'room-title' }, h('h1', { class: 'partner-name', text: name }), presence),
    h('div', { class: 'room-actions' }, detailsButton, keepButton, reportButton, endButton));

  const setDetails = (open) => {
    screen.classList.toggle('show-details', open);
    detailsButton.setAttribute('aria-expanded', String(open));
    if (open) closeAside.focus();
    else if (aside.contains(document.activeElement) || document.activeElement === document.body) detailsButton.focus();
  };
  detailsButton.addEventListener('click', () => setDetails(!screen.classList.contains('show-details')));
  closeAside.addEventListener('click', () => setDetails(false));
  backdrop.addEventListener('click', () => setDetails(false));
  const onKey = (event) => {
    if (event.key === 'Escape' && screen.classList.contains('show-details') && !document.querySelector('dialog[open]')) setDetails(false);
  };
  document.addEventListener('keydown', onKey);

  // The room's keep state, as the server last answered it.
  let current = room;
  const keepNote = () => (current.kept ? t('room.kept') : current.keep.me ? t('room.keepWaiting') : '');
  const renderKeep = () => {
    const { keep: flags, kept } = current;
    keep.set(flags.me ? '★' : '☆', flags.me ? t('room.unkeep') : t('room.keep'));
    // What keep does, on hover and for screen readers (the drawer says it on a phone).
    keepButton.title = `${flags.me ? t('room.unkeep') : t('room.keep')}: ${t('room.keepHint')}`;
    keepButton.setAttribute('aria-pressed', String(flags.me));
    screen.dataset.kept = String(kept);
    keptBadge.textContent = keepNote();
  };
  // What keep did, said where a phone shows it too (its side panel is hidden there).
  const sayKeep = () => {
    const text = keepNote() || t('room.unkept');
    showBanner('keep', 'info', text, 5);
    announce(text);
  };
  keepButton.addEventListener('click', async () => {
    keepButton.disabled = true;
    try {
      current = await api('POST', `/chat/keep/${roomId}`, { keep_active: !current.keep.me });
      renderKeep();
      sayKeep();
    } catch (error) {
      showBanner('room', 'error', errorText(error), 6);
    }
    keepButton.disabled = false;
  });

  reportButton.addEventListener('click', () => openReportDialog(app, roomId));
  endButton.addEventListener('click', async () => {
    const confirmed = await openDialog(t('end.title'), (close) => h('div', { class: 'stack' },
      h('p', { text: t('end.body') }),
      h('div', { class: 'form-actions' },
        h('button', { type: 'button', class: 'btn btn-ghost', text: t('common.cancel'), on: { click: () => close(null) } }),
        h('button', { type: 'button', class: 'btn btn-danger end-only', text: t('end.confirm'), on: { click: () => close('end') } }),
        // The next stranger in the same tap: the room ends and a search starts.
        h('button', { type: 'button', class: 'btn btn-primary end-next', text: t('end.next'), autofocus: true, on: { click: () => close('next') } }))));
    if (!confirmed) return;
    if (confirmed === 'next') app.leaving = roomId;
    try {
      const res = await api('POST', `/chat/end/${roomId}`);
      if (confirmed === 'next') app.startSearch(null, null, room.type === 'voice' ? 'voice' : 'chat');
      else ended(res.reason);
    } catch (error) {
      app.leaving = null;
      showBanner('room', 'error', errorText(error), 6);
    }
  });

  let blob = null;
  let destroyed = false;
  /** Shows the photo at `url` (a URL per reveal level), in the header and the panel. */
  async function setAvatar(url) {
    const next = await avatarBlobUrl(url);
    if (destroyed) {
      if (next) URL.revokeObjectURL(next);
      return;
    }
    if (blob) URL.revokeObjectURL(blob);
    blob = next;
    avatar.set(blob);
    const img = asideAvatar?.querySelector('img');
    if (img) {
      img.hidden = !blob;
      if (blob) img.src = blob;
    }
    if (blob) screen.dataset.avatarUrl = url;
  }

  const setReveal = (level) => {
    screen.dataset.reveal = String(level);
    reveal.textContent = t('room.reveal', { level });
    levelPill.textContent = `${level}/2`;
  };
  setAvatar(partner.avatar_url);
  renderKeep();
  setReveal(room.reveal_level);

  return {
    header,
    aside,
    backdrop,
    name,
    /** `online`: true, false, or null while this page's own connection is down (unknown). */
    setPresence(online) {
      presence.dataset.online = online === null ? 'unknown' : String(online);
      presence.textContent = online === null ? t('partner.unknown') : online ? t('partner.online') : t('partner.away');
    },
    setReveal,
    setAvatar,
    /** Both said keep (the socket's `room_kept`). */
    setKept() {
      const was = current.kept;
      current = { ...current, keep: { me: true, partner: true }, kept: true };
      renderKeep();
      if (!was) sayKeep();
    },
    destroy() {
      destroyed = true;
      document.removeEventListener('keydown', onKey);
      if (blob) URL.revokeObjectURL(blob);
    },
  };
}
