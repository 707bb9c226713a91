// The audit list (GET /admin/audit): every moderation action, newest first, with who
// did it (an administrator, or the server itself), when, and to whom. All of it, or
// one user's (on the user's page).

import { api } from '../api.js';
import { h } from '../dom.js';
import { t } from '../i18n.js';
import { errorText } from '../ui.js';
import { pager, timeEl, userLink, withQuery } from './admin-common.js';

const ACTIONS = {
  ban: 'audit.ban',
  unban: 'audit.unban',
  report_dismissed: 'audit.report_dismissed',
  report_actioned: 'audit.report_actioned',
  room_ended: 'audit.room_ended',
  user_updated: 'audit.user_updated',
  autoban: 'audit.autoban',
};

/** A table of audit entries matching `filter` (`{user_id}` or none), with its pager. */
export function auditTable(ctx, filter = {}) {
  const status = h('p', { class: 'muted', role: 'status' });
  const body = h('tbody');
  const pages = h('div');
  const el = h('div', { class: 'audit' },
    status,
    h('div', { class: 'table-scroll' },
      h('table', { class: 'admin-table audit-table' },
        h('caption', { class: 'sr-only', text: t('audit.title') }),
        h('thead', {}, h('tr', {},
          h('th', { scope: 'col', text: t('audit.when') }),
          h('th', { scope: 'col', text: t('audit.who') }),
          h('th', { scope: 'col', text: t('audit.what') }),
          h('th', { scope: 'col', text: t('audit.subject') }),
          h('th', { scope: 'col', text: t('audit.details') }))),
        body)),
    pages);
  const load = async (page = 1) => {
    status.textContent = t('admin.loading');
    try {
      const data = await api('GET', withQuery('/admin/audit', { ...filter, page, limit: 20 }));
      status.textContent = data.total ? t('audit.count', { n: data.total }) : t('audit.empty');
      body.replaceChildren(...data.items.map((a) => h('tr', { data: { action: a.action, auditId: a.id } },
        h('td', {}, timeEl(a.at)),
        h('td', {}, a.admin_id === null || a.admin_id === undefined
          ? h('span', { class: 'muted', text: t('audit.automatic') })
          : userLink(a.admin_id, a.admin_username)),
        h('th', { scope: 'row', text: ACTIONS[a.action] ? t(ACTIONS[a.action]) : a.action }),
        h('td', { class: 'cell-wrap' },
          a.user_id ? userLink(a.user_id, a.user_username) : null,
          a.report_id ? h('span', { class: 'cell-sub', text: t('reports.number', { id: a.report_id }) }) : null,
          a.room_id ? h('span', { class: 'cell-sub', text: t('rooms.number', { id: a.room_id }) }) : null),
        h('td', { class: 'cell-wrap', dir: 'auto', text: a.details || '' }))));
      pages.replaceChildren(pager(data, load) || '');
    } catch (e) {
      if (e.code === 'forbidden') ctx.forbidden();
      // A server without the audit list yet answers 404: said as such.
      else status.textContent = e.status === 404 ? t('audit.unavailable') : errorText(e);
    }
  };
  load();
  return el;
}

export function auditSection(ctx) {
  const el = h('div', { class: 'admin-section admin-audit' },
    h('div', { class: 'admin-toolbar' }, h('h2', { text: t('audit.title') })),
    auditTable(ctx));
  return { el };
}
