// Home (start a search) and the waiting screen (time waited, cancel). A match opens
// its room, which introduces the partner (room.js).

import { api } from '../api.js';
import { notificationsOn, notificationsSupported, setNotifications } from '../attention.js';
import { clockText, h } from '../dom.js';
import { t } from '../i18n.js';
import { errorText, showBanner } from '../ui.js';

const FIELD_LABELS = {
  dob: 'profile.dob',
  gender: 'profile.gender',
  preferred_gender: 'profile.preferred',
  needs: 'profile.needs',
  interests: 'profile.interests',
};

export function homeView(app, notice) {
  const p = app.profile;
  // After a search that timed out, the notice says so and the button searches again.
  const button = h('button', { type: 'button', class: 'btn btn-primary btn-lg', text: t(notice ? 'home.searchAgain' : 'home.search') });
  const error = h('p', { class: 'form-error', role: 'alert' });
  button.addEventListener('click', () => app.startSearch(button, error, 'chat', voice));
  // A voice search matches people who want to talk; their room offers the call at once.
  const voice = h('button', { type: 'button', class: 'btn btn-secondary btn-lg search-voice', text: t('home.searchVoice') });
  voice.addEventListener('click', () => app.startSearch(voice, error, 'voice', button));
  const missing = p.profile_complete ? null : h('div', { class: 'notice' },
    h('p', { text: t('home.incomplete', { fields: p.missing.map((f) => t(FIELD_LABELS[f] || f)).join(', ') }) }),
    h('a', { href: '#/profile', class: 'btn btn-secondary', text: t('home.complete') }));
  if (!p.profile_complete) button.disabled = voice.disabled = true;
  const notify = notificationsSupported() ? notifyToggle() : null;
  const el = h('section', { class: 'screen screen-center' },
    h('div', { class: 'card hero-card' },
      h('div', { class: 'pulse-icon', 'aria-hidden': 'true' }, h('img', { src: '/app/icon.svg', alt: '', width: 56, height: 56 })),
      h('h1', { text: t('home.title') }),
      h('p', { class: 'lead', text: t('home.subtitle') }),
      notice ? h('p', { class: 'notice home-notice', role: 'status', text: t(notice) }) : null,
      missing,
      h('div', { class: 'search-choices' }, button, voice),
      error,
      notify));
  return { el, focus: button };
}

export function searchingView(app, search) {
  const since = search?.since ? Date.parse(search.since) : Date.now();
  const waited = h('p', { class: 'waited', 'aria-live': 'off' });
  const tick = () => (waited.textContent = t('search.waited', { time: clockText((Date.now() - since) / 1000) }));
  tick();
  const timer = setInterval(tick, 1000);
  const cancel = h('button', { type: 'button', class: 'btn btn-secondary', text: t('search.cancel') });
  cancel.addEventListener('click', async () => {
    cancel.disabled = true;
    try {
      await api('POST', '/chat/cancel-search');
      app.idle();
    } catch (e) {
      cancel.disabled = false;
      // `not_searching`: matched or timed out a moment ago; the status socket says which.
      if (e.code === 'not_searching') app.refreshStatus();
      else showBanner('search', 'error', errorText(e), 6);
    }
  });
  const el = h('section', { class: 'screen screen-center' },
    h('div', { class: 'card hero-card' },
      h('div', { class: 'radar', 'aria-hidden': 'true' }, h('span'), h('span'), h('span'), h('img', { src: '/app/icon.svg', alt: '', width: 48, height: 48 })),
      h('h1', { text: t('search.title') }),
      waited,
      h('p', { class: 'muted', text: t('search.hint') }),
      cancel));
  return { el, focus: cancel, destroy: () => clearInterval(timer) };
}

/**
 * Opt-in: a notification, a sound and a vibration for a match, a message or a like
 * round while the tab is hidden (attention.js). The browser asks its permission first.
 */
function notifyToggle() {
  const button = h('button', { type: 'button', class: 'btn btn-small btn-ghost notify-toggle' });
  const note = h('p', { class: 'muted notify-note', 'aria-live': 'polite' });
  const render = () => {
    const on = notificationsOn();
    button.setAttribute('aria-pressed', String(on));
    button.textContent = on ? t('notify.on') : t('notify.off');
  };
  button.addEventListener('click', async () => {
    const wanted = !notificationsOn();
    const on = await setNotifications(wanted);
    note.textContent = wanted && !on ? t('notify.blocked') : '';
    render();
  });
  render();
  return h('div', { class: 'notify' }, button, note);
}
