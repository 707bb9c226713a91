// The reports queue: GET /admin/reports, newest first, filtered by state; each
// report with its reason, the reporter's note and the evidence messages, and the
// actions (dismiss, ban for some days or for good, unban), each recorded by the
// server in the audit list.

import { api } from '../api.js';
import { h } from '../dom.js';
import { formatTime, t } from '../i18n.js';
import { announce, errorText } from '../ui.js';
import { badge, banDialog, pager, timeEl, userLink, withQuery } from './admin-common.js';

const REASONS = {
  spam: 'report.spam',
  harassment: 'report.harassment',
  underage: 'report.underage',
  inappropriate: 'report.inappropriate',
  other: 'report.other',
};

const STATES = { open: 'reports.stateOpen', dismissed: 'reports.stateDismissed', actioned: 'reports.stateActioned' };
const STATE_KIND = { open: 'open', dismissed: 'neutral', actioned: 'bad' };

export function reasonText(reason) {
  return REASONS[reason] ? t(REASONS[reason]) : reason;
}

export function stateBadge(state) {
  return badge(STATES[state] ? t(STATES[state]) : state, STATE_KIND[state] || 'neutral');
}

function evidenceList(report) {
  if (report.evidence_erased_at) {
    return h('p', { class: 'muted', text: t('reports.evidenceErased', { time: formatTime(report.evidence_erased_at) }) });
  }
  const messages = Array.isArray(report.evidence) ? report.evidence : [];
  if (!messages.length) return h('p', { class: 'muted', text: t('reports.noEvidence') });
  const author = (m) => {
    if (m.user_id === null || m.user_id === undefined) return t('admin.erased');
    if (m.user_id === report.reported_id) return t('reports.authorReported', { name: report.reported_username || `#${m.user_id}` });
    if (m.user_id === report.reporter_id) return t('reports.authorReporter', { name: report.reporter_username || `#${m.user_id}` });
    return `#${m.user_id}`;
  };
  return h('ol', { class: 'evidence', 'aria-label': t('reports.evidence') },
    messages.map((m) => h('li', { class: 'evidence-msg', data: { seq: m.seq ?? '', mine: String(m.user_id === report.reported_id) } },
      h('p', { class: 'evidence-meta' },
        h('span', { class: 'evidence-author', text: author(m) }),
        m.created_at ? h('time', { datetime: m.created_at, class: 'muted', text: formatTime(m.created_at) }) : null),
      h('p', { class: 'evidence-text', dir: 'auto', text: String(m.content ?? '') }))));
}

/**
 * One report as a card with its actions. `onChange(report)` is told the report after
 * an action changed it; the card redraws itself.
 */
export function reportCard(report, { onChange } = {}) {
  const el = h('article', { class: 'card report-card', data: { reportId: report.id } });
  const draw = (r, focusHeading) => {
    el.dataset.state = r.state;
    const heading = h('h3', { tabindex: '-1', id: `report-${r.id}-title` }, t('reports.number', { id: r.id }), ' · ', reasonText(r.reason));
    el.setAttribute('aria-labelledby', heading.id);
    const result = h('p', { class: 'report-result', role: 'status' });
    const error = h('p', { class: 'form-error', role: 'alert' });
    const buttons = [];
    const act = async (body, doneKey) => {
      for (const b of buttons) b.disabled = true;
      error.textContent = '';
      try {
        const updated = await api('POST', `/admin/reports/${r.id}/resolve`, body);
        const next = { ...r, ...updated };
        onChange?.(next);
        draw(next, true);
        el.querySelector('.report-result').textContent = t(doneKey);
        announce(t(doneKey));
      } catch (e) {
        for (const b of buttons) b.disabled = false;
        error.textContent = errorText(e);
      }
    };
    const name = r.reported_username || `#${r.reported_id}`;
    if (r.state !== 'dismissed') {
      const dismiss = h('button', { type: 'button', class: 'btn btn-small btn-secondary', data: { action: 'dismiss' }, text: t('reports.dismiss') });
      dismiss.addEventListener('click', () => act({ state: 'dismissed' }, 'reports.dismissed'));
      buttons.push(dismiss);
    }
    const ban = h('button', { type: 'button', class: 'btn btn-small btn-danger', data: { action: 'ban' }, text: t('reports.ban') });
    ban.addEventListener('click', async () => {
      const chosen = await banDialog(name);
      if (chosen) await act({ state: 'actioned', ban: chosen }, chosen.permanent ? 'reports.bannedForever' : 'reports.banned');
      else ban.focus();
    });
    buttons.push(ban);
    if (r.state === 'open') {
      const actioned = h('button', { type: 'button', class: 'btn btn-small btn-ghost', data: { action: 'actioned' }, text: t('reports.markActioned') });
      actioned.addEventListener('click', () => act({ state: 'actioned' }, 'reports.actionedDone'));
      buttons.push(actioned);
    }
    if (r.state === 'actioned') {
      const unban = h('button', { type: 'button', class: 'btn btn-small btn-ghost', data: { action: 'unban' }, text: t('users.unban') });
      unban.addEventListener('click', async () => {
        for (const b of buttons) b.disabled = true;
        error.textContent = '';
        try {
          await api('POST', `/admin/users/${r.reported_id}/unban`);
          result.textContent = t('users.unbanned');
          announce(t('users.unbanned'));
        } catch (e) {
          error.textContent = errorText(e);
        }
        for (const b of buttons) b.disabled = false;
      });
      buttons.push(unban);
    }
    el.replaceChildren(
      h('header', { class: 'report-head' }, heading, stateBadge(r.state), h('span', { class: 'muted' }, timeEl(r.created_at))),
      h('dl', { class: 'facts' },
        h('div', {}, h('dt', { text: t('reports.reported') }), h('dd', {}, userLink(r.reported_id, r.reported_username))),
        h('div', {}, h('dt', { text: t('reports.reporter') }), h('dd', {}, userLink(r.reporter_id, r.reporter_username))),
        h('div', {}, h('dt', { text: t('reports.room') }), h('dd', { text: `#${r.room_id}` })),
        r.resolved_at ? h('div', {}, h('dt', { text: t('reports.resolved') }), h('dd', {},
          timeEl(r.resolved_at),
          r.resolved_by ? h('span', { class: 'muted', text: ` · ${t('reports.by', { id: r.resolved_by })}` } ) : null)) : null),
      h('div', { class: 'report-note' },
        h('h4', { text: t('reports.note') }),
        r.details ? h('p', { dir: 'auto', class: 'report-details', text: r.details }) : h('p', { class: 'muted', text: t('reports.noNote') })),
      h('div', { class: 'report-evidence' }, h('h4', { text: t('reports.evidence') }), evidenceList(r)),
      h('div', { class: 'report-actions' }, buttons),
      result,
      error);
    if (focusHeading) requestAnimationFrame(() => heading.focus());
  };
  draw(report, false);
  return el;
}

// The filter outlives a redraw of the screen (a language change).
const memory = { state: 'open', page: 1 };

export function reportsSection(ctx) {
  const select = h('select', { id: 'reports-state', name: 'state' },
    h('option', { value: 'open', text: t('reports.stateOpen') }),
    h('option', { value: 'dismissed', text: t('reports.stateDismissed') }),
    h('option', { value: 'actioned', text: t('reports.stateActioned') }),
    h('option', { value: '', text: t('reports.stateAll') }));
  select.value = memory.state;
  const refresh = h('button', { type: 'button', class: 'btn btn-small btn-ghost', text: t('admin.refresh') });
  const count = h('p', { class: 'muted', role: 'status' });
  const list = h('div', { class: 'report-list' });
  const pages = h('div');
  const el = h('div', { class: 'admin-section admin-reports' },
    h('div', { class: 'admin-toolbar' },
      h('h2', { text: t('reports.title') }),
      h('div', { class: 'admin-filter' }, h('label', { for: 'reports-state', text: t('reports.filter') }), select),
      refresh),
    count,
    list,
    pages);

  let call = 0;
  const load = async () => {
    const mine = ++call;
    count.textContent = t('admin.loading');
    try {
      const data = await api('GET', withQuery('/admin/reports', { state: memory.state, page: memory.page, limit: 20 }));
      if (mine !== call) return;
      // A server that does not filter yet: the page filters what it was given.
      const items = memory.state ? data.items.filter((r) => r.state === memory.state) : data.items;
      count.textContent = t('reports.count', { n: data.total });
      list.replaceChildren(...(items.length ? items.map((r) => reportCard(r)) : [h('p', { class: 'muted empty', text: t('reports.empty') })]));
      if (memory.state === 'open') ctx.openReports(data.total);
      pages.replaceChildren(pager(data, (p) => {
        memory.page = p;
        load();
      }) || '');
    } catch (e) {
      if (e.code === 'forbidden') ctx.forbidden();
      else count.textContent = errorText(e);
    }
  };
  select.addEventListener('change', () => {
    memory.state = select.value;
    memory.page = 1;
    load();
  });
  refresh.addEventListener('click', load);
  load();
  return { el };
}
