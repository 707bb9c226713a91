// The end of a room (its reason, who ended it, a report while reports are still taken,
// and "search again"), a banned account, and a page that another tab replaced.

import { api } from '../api.js';
import { h } from '../dom.js';
import { formatTime, t } from '../i18n.js';
import { partnerName } from '../ui.js';
import { openReportDialog } from './report-dialog.js';

export function endedView(app, roomId, reason) {
  const again = h('button', { type: 'button', class: 'btn btn-primary btn-lg', text: t('ended.searchAgain') });
  again.addEventListener('click', () => app.startSearch(again));
  const key = `reason.${reason}`;
  const text = t(key) === key ? t('reason.unknown') : t(key);
  const reasonEl = h('p', { class: 'lead ended-reason', text });
  // Reports are taken for a while after the end (--report-window): said, with a button.
  const reportArea = h('div', { class: 'ended-report stack', hidden: true });
  const el = h('section', { class: 'screen screen-center' },
    h('div', { class: 'card hero-card ended-card', data: { reason: reason || 'unknown' } },
      h('div', { class: 'ended-icon', 'aria-hidden': 'true', text: '👋' }),
      h('h1', { text: t('ended.title') }),
      reasonEl,
      again,
      reportArea,
      h('a', { href: '#/', class: 'btn btn-ghost', text: t('ended.home') })));

  let gone = false;
  // The room, as its participant may still read it: who ended it, and when.
  if (roomId) {
    api('GET', `/chat/room/${roomId}`).then((room) => {
      if (gone) return;
      const name = partnerName(room.partner);
      if (room.end_reason === 'ended_by_user' && room.ended_by) {
        reasonEl.textContent = room.ended_by === app.profile?.id ? t('ended.byYou') : t('ended.byPartner', { name });
        el.querySelector('.ended-card').dataset.endedBy = room.ended_by === app.profile?.id ? 'me' : 'partner';
      }
      const windowMs = (app.limits?.report_window_secs ?? 0) * 1000;
      const until = room.end_time ? Date.parse(room.end_time) + windowMs : 0;
      if (room.partner && until > Date.now()) showReport(name, until);
    }).catch(() => {
      // The reason from the route is shown already; nothing more to say.
    });
  }

  function showReport(name, until) {
    const button = h('button', { type: 'button', class: 'btn btn-danger ended-report-button', text: t('ended.report', { name }) });
    const note = h('p', { class: 'muted ended-report-note', text: t('ended.reportUntil', { time: formatTime(new Date(until).toISOString()) }) });
    button.addEventListener('click', async () => {
      if (await openReportDialog(app, roomId)) {
        reportArea.replaceChildren(h('p', { class: 'ended-reported', role: 'status', text: t('ended.reported') }));
      }
    });
    reportArea.replaceChildren(button, note);
    reportArea.hidden = false;
  }

  return { el, focus: again, destroy: () => (gone = true) };
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
