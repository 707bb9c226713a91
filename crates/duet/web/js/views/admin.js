// The moderation console at #/admin: a tab bar and one section at a time (the live
// dashboard, the reports queue, users and a user's history, active rooms, the audit
// list). The page is served to everyone; every call behind it is checked on the
// server, and its first 403 `forbidden` replaces the console by "administrators only".

import { h } from '../dom.js';
import { t } from '../i18n.js';
import { auditSection } from './admin-audit.js';
import { dashboardSection } from './admin-dashboard.js';
import { reportsSection } from './admin-reports.js';
import { roomsSection } from './admin-rooms.js';
import { userSection, usersSection } from './admin-users.js';

const TABS = [
  ['dashboard', '#/admin', 'admin.tabDashboard'],
  ['reports', '#/admin/reports', 'admin.tabReports'],
  ['users', '#/admin/users', 'admin.tabUsers'],
  ['rooms', '#/admin/rooms', 'admin.tabRooms'],
  ['audit', '#/admin/audit', 'admin.tabAudit'],
];

/** `section`: the hash part after #/admin/ (`reports`, `users`, …); `id`: a user's id. */
export function adminView(app, section, id) {
  const current = TABS.some(([name]) => name === section) ? section : 'dashboard';
  const reportsCount = h('span', { class: 'admin-tab-count', hidden: true });
  const tabs = h('nav', { class: 'admin-tabs', 'aria-label': t('admin.sections') },
    TABS.map(([name, href, key]) => h('a', {
      href,
      class: 'admin-tab',
      data: { tab: name },
      'aria-current': name === current ? 'page' : null,
    }, t(key), name === 'reports' ? reportsCount : null)));
  const heading = h('h1', { tabindex: '-1', text: t('admin.title') });
  const body = h('div', { class: 'admin-body' });
  const el = h('section', { class: 'screen screen-admin', 'aria-labelledby': 'admin-title' },
    h('header', { class: 'admin-header' }, heading, h('p', { class: 'muted', text: t('admin.subtitle') })),
    tabs,
    body);
  heading.id = 'admin-title';

  let part = null;
  let refused = false;
  const ctx = {
    app,
    /** A call was refused with 403 `forbidden`: this account is not an administrator. */
    forbidden() {
      if (refused) return;
      refused = true;
      part?.destroy?.();
      part = null;
      tabs.remove();
      body.replaceChildren(h('div', { class: 'card hero-card admin-forbidden', role: 'alert' },
        h('div', { class: 'ended-icon', 'aria-hidden': 'true', text: '🔒' }),
        h('h2', { text: t('admin.forbiddenTitle') }),
        h('p', { class: 'lead', text: t('admin.forbiddenBody') }),
        h('a', { href: '#/', class: 'btn btn-secondary', text: t('ended.home') })));
    },
    /** The open reports, from the dashboard: shown on the Reports tab. */
    openReports(n) {
      reportsCount.hidden = !(n > 0);
      reportsCount.textContent = n > 0 ? String(n) : '';
      reportsCount.setAttribute('aria-label', t('admin.openReports', { n }));
    },
  };

  if (current === 'dashboard') part = dashboardSection(ctx);
  else if (current === 'reports') part = reportsSection(ctx);
  else if (current === 'users') part = id ? userSection(ctx, id) : usersSection(ctx);
  else if (current === 'rooms') part = roomsSection(ctx);
  else part = auditSection(ctx);
  body.appendChild(part.el);

  return {
    el,
    focus: heading,
    destroy: () => part?.destroy?.(),
  };
}
