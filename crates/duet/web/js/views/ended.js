// The end of a room (its reason and "search again"), a banned account, and a page
// that another tab replaced.

import { h } from '../dom.js';
import { formatTime, t } from '../i18n.js';

export function endedView(app, reason) {
  const again = h('button', { type: 'button', class: 'btn btn-primary btn-lg', text: t('ended.searchAgain') });
  again.addEventListener('click', () => app.startSearch(again));
  const key = `reason.${reason}`;
  const text = t(key) === key ? t('reason.unknown') : t(key);
  const el = h('section', { class: 'screen screen-center' },
    h('div', { class: 'card hero-card ended-card', data: { reason: reason || 'unknown' } },
      h('div', { class: 'ended-icon', 'aria-hidden': 'true', text: '👋' }),
      h('h1', { text: t('ended.title') }),
      h('p', { class: 'lead ended-reason', text }),
      again,
      h('a', { href: '#/', class: 'btn btn-ghost', text: t('ended.home') })));
  return { el, focus: again };
}

/** `ban`: `{until, permanent}`, as the API's error or the sockets' `banned` frame says it. */
export function bannedView(ban) {
  const { until, permanent } = ban || {};
  let text = null;
  if (permanent) text = t('banned.permanent');
  else if (until) text = t('banned.until', { time: formatTime(until) });
  const el = h('section', { class: 'screen screen-center' },
    h('div', { class: 'card hero-card banned-card', role: 'alert' },
      h('div', { class: 'ended-icon', 'aria-hidden': 'true', text: '⛔' }),
      h('h1', { text: t('banned.title') }),
      text ? h('p', { class: 'lead banned-when', text }) : null));
  return { el };
}

export function replacedView() {
  const reload = h('button', { type: 'button', class: 'btn btn-primary', text: t('replaced.reload'), on: { click: () => location.reload() } });
  const el = h('section', { class: 'screen screen-center' },
    h('div', { class: 'card hero-card' },
      h('h1', { text: t('replaced.title') }),
      h('p', { class: 'lead', text: t('replaced.body') }),
      reload));
  return { el, focus: reload };
}
