// Users: a search by username, nickname or email with a status filter, and one user's
// page (#/admin/users/ID): the account, its status and ban, ban and unban, the reports
// against them and their audit history. No message content here but report evidence.

import { api } from '../api.js';
import { h } from '../dom.js';
import { t } from '../i18n.js';
import { announce, errorText } from '../ui.js';
import { auditTable } from './admin-audit.js';
import { badge, banDialog, banText, pager, timeEl, withQuery } from './admin-common.js';
import { reportCard } from './admin-reports.js';

const STATUSES = { idle: 'users.statusIdle', searching: 'users.statusSearching', connected: 'users.statusConnected', banned: 'users.statusBanned' };

function statusBadge(user) {
  if (user.ban_permanent || user.banned_until) return badge(t('users.statusBanned'), 'bad');
  const key = STATUSES[user.status];
  return badge(key ? t(key) : user.status || '—', user.status === 'connected' ? 'good' : user.status === 'searching' ? 'open' : 'neutral');
}

function roleText(role) {
  return role === 'admin' ? t('users.roleAdmin') : t('users.roleUser');
}

const memory = { q: '', status: '', page: 1 };

export function usersSection(ctx) {
  const input = h('input', { type: 'search', id: 'users-q', name: 'q', autocomplete: 'off', value: memory.q, placeholder: t('users.searchHint') });
  const status = h('select', { id: 'users-status', name: 'status' },
    h('option', { value: '', text: t('users.statusAll') }),
    Object.entries(STATUSES).map(([value, key]) => h('option', { value, text: t(key) })));
  status.value = memory.status;
  const submit = h('button', { type: 'submit', class: 'btn btn-small btn-primary', text: t('users.search') });
  const form = h('form', { class: 'admin-search', role: 'search', 'aria-label': t('users.title') },
    h('div', { class: 'field' }, h('label', { for: 'users-q', text: t('users.searchLabel') }), input),
    h('div', { class: 'field' }, h('label', { for: 'users-status', text: t('users.status') }), status),
    submit);
  const count = h('p', { class: 'muted', role: 'status' });
  const body = h('tbody');
  const pages = h('div');
  const el = h('div', { class: 'admin-section admin-users' },
    h('div', { class: 'admin-toolbar' }, h('h2', { text: t('users.title') })),
    form,
    count,
    h('div', { class: 'table-scroll' },
      h('table', { class: 'admin-table users-table' },
        h('caption', { class: 'sr-only', text: t('users.title') }),
        h('thead', {}, h('tr', {},
          h('th', { scope: 'col', text: t('users.username') }),
          h('th', { scope: 'col', text: t('users.email') }),
          h('th', { scope: 'col', text: t('users.role') }),
          h('th', { scope: 'col', text: t('users.status') }),
          h('th', { scope: 'col', text: t('users.ban') }))),
        body)),
    pages);

  let call = 0;
  const load = async () => {
    const mine = ++call;
    count.textContent = t('admin.loading');
    try {
      const data = await api('GET', withQuery('/admin/users', { q: memory.q, status: memory.status, page: memory.page, limit: 20 }));
      if (mine !== call) return;
      count.textContent = t('users.count', { n: data.total });
      body.replaceChildren(...(data.items.length ? data.items.map((u) => h('tr', { data: { userId: u.id } },
        h('th', { scope: 'row' },
          h('a', { href: `#/admin/users/${u.id}`, text: u.username }),
          u.nickname ? h('span', { class: 'muted cell-sub', text: u.nickname }) : null),
        h('td', { class: 'cell-wrap', text: u.email || '—' }),
        h('td', { text: roleText(u.role) }),
        h('td', {}, statusBadge(u)),
        h('td', { class: 'cell-wrap', text: banText(u) || '—' }))) : [h('tr', {}, h('td', { colspan: 5, class: 'muted', text: t('users.empty') }))]));
      pages.replaceChildren(pager(data, (p) => {
        memory.page = p;
        load();
      }) || '');
    } catch (e) {
      if (e.code === 'forbidden') ctx.forbidden();
      else count.textContent = errorText(e);
    }
  };
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    memory.q = input.value.trim();
    memory.status = status.value;
    memory.page = 1;
    load();
  });
  status.addEventListener('change', () => form.requestSubmit());
  load();
  return { el, focus: input };
}

/** One user's page: the account, ban and unban, reports against them, their history. */
export function userSection(ctx, id) {
  const summary = h('div', { class: 'card admin-card user-card', data: { userId: id } }, h('p', { class: 'muted', text: t('admin.loading') }));
  const reports = h('div', { class: 'report-list' });
  const reportsCount = h('p', { class: 'muted' });
  const audit = h('div');
  const el = h('div', { class: 'admin-section admin-user' },
    h('p', {}, h('a', { href: '#/admin/users', text: t('users.back') })),
    summary,
    h('section', { class: 'admin-subsection', 'aria-labelledby': 'user-reports-title' },
      h('h3', { id: 'user-reports-title', text: t('users.reportsAgainst') }), reportsCount, reports),
    h('section', { class: 'admin-subsection', 'aria-labelledby': 'user-audit-title' },
      h('h3', { id: 'user-audit-title', text: t('users.history') }), audit));

  const failed = (e) => {
    if (e.code === 'forbidden') ctx.forbidden();
    return errorText(e);
  };

  const drawUser = (u) => {
    const result = h('p', { role: 'status', class: 'report-result' });
    const error = h('p', { class: 'form-error', role: 'alert' });
    const banned = Boolean(u.ban_permanent || u.banned_until);
    const action = banned
      ? h('button', { type: 'button', class: 'btn btn-small btn-secondary', data: { action: 'unban' }, text: t('users.unban') })
      : h('button', { type: 'button', class: 'btn btn-small btn-danger', data: { action: 'ban' }, text: t('users.banAction') });
    action.addEventListener('click', async () => {
      let body;
      if (!banned) {
        body = await banDialog(u.username);
        if (!body) {
          action.focus();
          return;
        }
      }
      action.disabled = true;
      error.textContent = '';
      try {
        const next = await api('POST', `/admin/users/${u.id}/${banned ? 'unban' : 'ban'}`, body);
        const done = banned ? t('users.unbanned') : t('reports.banned');
        drawUser(next);
        summary.querySelector('.report-result').textContent = done;
        announce(done);
        summary.querySelector('[data-action]')?.focus();
        loadHistory();
      } catch (e) {
        action.disabled = false;
        error.textContent = failed(e);
      }
    });
    summary.dataset.banned = String(banned);
    summary.replaceChildren(
      h('header', { class: 'report-head' }, h('h2', { text: u.username }), statusBadge(u)),
      h('dl', { class: 'facts' },
        h('div', {}, h('dt', { text: t('users.id') }), h('dd', { text: `#${u.id}` })),
        h('div', {}, h('dt', { text: t('users.nickname') }), h('dd', { text: u.nickname || '—' })),
        h('div', {}, h('dt', { text: t('users.email') }), h('dd', { class: 'cell-wrap', text: u.email || '—' })),
        h('div', {}, h('dt', { text: t('users.role') }), h('dd', { text: roleText(u.role) })),
        h('div', {}, h('dt', { text: t('users.created') }), h('dd', {}, timeEl(u.created_at))),
        h('div', {}, h('dt', { text: t('users.room') }), h('dd', { text: u.current_room_id ? `#${u.current_room_id}` : '—' })),
        h('div', {}, h('dt', { text: t('users.ban') }), h('dd', { class: 'user-ban', text: banText(u) || t('users.notBanned') })),
        banned && u.ban_reason ? h('div', {}, h('dt', { text: t('users.banReason') }), h('dd', { dir: 'auto', text: u.ban_reason })) : null),
      h('div', { class: 'report-actions' }, action),
      result,
      error);
  };

  const loadHistory = async () => {
    try {
      const data = await api('GET', withQuery('/admin/reports', { reported_id: id, limit: 50 }));
      // A server that does not filter yet: only this user's reports.
      const items = data.items.filter((r) => r.reported_id === id);
      reportsCount.textContent = t('reports.count', { n: items.length });
      reports.replaceChildren(...items.map((r) => reportCard(r, { onChange: () => {
        loadUser();
        audit.replaceChildren(auditTable(ctx, { user_id: id }));
      } })));
    } catch (e) {
      reportsCount.textContent = failed(e);
    }
    audit.replaceChildren(auditTable(ctx, { user_id: id }));
  };

  const loadUser = async () => {
    try {
      drawUser(await api('GET', `/admin/users/${id}`));
    } catch (e) {
      summary.replaceChildren(h('p', { class: 'form-error', role: 'alert', text: failed(e) }));
    }
  };

  loadUser();
  loadHistory();
  return { el };
}
