// The live dashboard: GET /admin/dashboard and GET /admin/status every 3 s while the
// tab is visible (polling, not a socket: both answers are cheap aggregates, and a
// socket would need a protocol of its own for what a GET already says). The numbers
// are updated in place; the two charts are plain SVG bars of the server's last 60
// minutes.

import { api } from '../api.js';
import { h } from '../dom.js';
import { t } from '../i18n.js';
import { errorText } from '../ui.js';
import { badge, millis, num, poll, relative, svg, timeOfDay } from './admin-common.js';

export const DASHBOARD_POLL_MS = 3000;

// Room end reasons, in this order; any other reason the server sends follows.
const END_REASONS = {
  ended_by_user: 'ends.ended_by_user',
  admin: 'ends.admin',
  banned: 'ends.banned',
  account_deleted: 'ends.account_deleted',
  no_mutual_like: 'ends.no_mutual_like',
  inactive: 'ends.inactive',
  expired: 'ends.expired',
  abandoned: 'ends.abandoned',
};

const LOOPS = { matching: 'loop.matching', rooms: 'loop.rooms', housekeeping: 'loop.housekeeping' };

/** One number of the grid: `key` is its `data-stat`, read by the tests. */
function stat(key, label, link) {
  const value = h('dd', { class: 'stat-value', text: '—' });
  const sub = h('p', { class: 'stat-sub muted' });
  const title = link ? h('a', { href: link, text: label }) : label;
  const el = h('div', { class: 'stat', data: { stat: key } }, h('dt', { class: 'stat-label' }, title), value, sub);
  return {
    el,
    set(text, subText = '') {
      value.textContent = text;
      sub.textContent = subText;
      sub.hidden = !subText;
    },
  };
}

/** A bar chart of `values` (oldest first); the last bar is the minute in progress. */
function barChart(values) {
  const width = 240;
  const height = 64;
  const n = Math.max(values.length, 1);
  const max = Math.max(1, ...values);
  const step = width / n;
  const bars = values.map((v, i) => {
    const barHeight = v > 0 ? Math.max(1.5, (v / max) * (height - 4)) : 0;
    return svg('rect', {
      x: (i * step + 0.3).toFixed(2),
      y: (height - barHeight).toFixed(2),
      width: Math.max(0.8, step - 0.6).toFixed(2),
      height: barHeight.toFixed(2),
      class: i === values.length - 1 ? 'chart-bar chart-bar-now' : 'chart-bar',
    });
  });
  return svg('svg', { viewBox: `0 0 ${width} ${height}`, preserveAspectRatio: 'none', class: 'chart-svg', 'aria-hidden': 'true', focusable: 'false' },
    svg('line', { x1: 0, y1: height - 0.5, x2: width, y2: height - 0.5, class: 'chart-axis' }),
    bars);
}

function chart(key, title) {
  const figure = h('figure', { class: 'chart card', data: { chart: key }, role: 'img' });
  const caption = h('figcaption', { class: 'chart-title', text: title });
  const peak = h('span', { class: 'chart-peak muted' });
  const holder = h('div', { class: 'chart-holder' });
  figure.append(h('div', { class: 'chart-head' }, caption, peak), holder,
    h('div', { class: 'chart-axis-labels muted', 'aria-hidden': 'true' }, h('span', { text: t('dash.minutesAgo', { n: 60 }) }), h('span', { text: t('dash.now') })));
  return {
    el: figure,
    set(values) {
      const list = Array.isArray(values) ? values.map((v) => Number(v) || 0) : [];
      holder.replaceChildren(list.length ? barChart(list) : h('p', { class: 'muted chart-empty', text: t('dash.noData') }));
      const total = list.reduce((a, b) => a + b, 0);
      const top = list.length ? Math.max(...list) : 0;
      peak.textContent = list.length ? t('dash.peak', { n: num(top) }) : '';
      figure.setAttribute('aria-label', list.length
        ? t('dash.chartLabel', { title, total: num(total), peak: num(top), now: num(list[list.length - 1]) })
        : `${title}: ${t('dash.noData')}`);
    },
  };
}

export function dashboardSection(ctx) {
  const updated = h('p', { class: 'admin-updated muted', 'aria-live': 'off' });
  const problem = h('p', { class: 'form-error', role: 'alert' });
  const stats = {
    online: stat('online', t('dash.online')),
    searching: stat('searching', t('dash.searching')),
    in_rooms: stat('in_rooms', t('dash.inRooms')),
    rooms_active: stat('rooms_active', t('dash.roomsActive'), '#/admin/rooms'),
    matches: stat('matches', t('dash.matchesPerMinute')),
    time_to_match: stat('time_to_match', t('dash.timeToMatch')),
    messages: stat('messages', t('dash.messagesPerSecond')),
    reports_open: stat('reports_open', t('dash.reportsOpen'), '#/admin/reports'),
    bans: stat('bans', t('dash.activeBans')),
    calls: stat('calls', t('dash.callsActive')),
  };
  const matchesChart = chart('matches', t('dash.chartMatches'));
  const messagesChart = chart('messages', t('dash.chartMessages'));
  const endsBody = h('tbody');
  const endsNote = h('p', { class: 'muted' });
  const loopsBody = h('tbody');
  const loopsProblem = h('p', { class: 'form-error' });

  const el = h('div', { class: 'admin-section admin-dashboard' },
    h('div', { class: 'admin-toolbar' },
      h('h2', { text: t('dash.title') }),
      h('span', { class: 'live-dot', 'aria-hidden': 'true' }),
      updated),
    h('p', { class: 'muted admin-hint', text: t('dash.pollNote', { seconds: DASHBOARD_POLL_MS / 1000 }) }),
    problem,
    h('dl', { class: 'stats' }, Object.values(stats).map((s) => s.el)),
    h('div', { class: 'charts' }, matchesChart.el, messagesChart.el),
    h('div', { class: 'admin-columns' },
      h('section', { class: 'card admin-card', 'aria-labelledby': 'ends-title' },
        h('h3', { id: 'ends-title', text: t('dash.endsTitle') }),
        h('div', { class: 'table-scroll' },
          h('table', { class: 'admin-table ends-table' },
            h('thead', {}, h('tr', {},
              h('th', { scope: 'col', text: t('dash.reason') }),
              h('th', { scope: 'col', class: 'num', text: t('dash.lastHour') }),
              h('th', { scope: 'col', class: 'num', text: t('dash.lastDay') }))),
            endsBody)),
        endsNote),
      h('section', { class: 'card admin-card', 'aria-labelledby': 'loops-title' },
        h('h3', { id: 'loops-title', text: t('dash.loopsTitle') }),
        loopsProblem,
        h('div', { class: 'table-scroll' },
          h('table', { class: 'admin-table loops-table' },
            h('thead', {}, h('tr', {},
              h('th', { scope: 'col', text: t('dash.loop') }),
              h('th', { scope: 'col', text: t('dash.loopState') }),
              h('th', { scope: 'col', class: 'num', text: t('dash.loopRuns') }),
              h('th', { scope: 'col', text: t('dash.loopLast') }),
              h('th', { scope: 'col', text: t('dash.loopNext') }))),
            loopsBody)))));

  const showDashboard = (d) => {
    const users = d.users || {};
    const queues = d.queues || {};
    const activity = d.activity || null;
    stats.online.set(num(d.online), d.online === undefined ? t('dash.notReported') : t('dash.idle', { n: num(users.idle) }));
    stats.searching.set(num(users.searching), t('dash.byType', { chat: num(queues.chat), voice: num(queues.voice) }));
    stats.in_rooms.set(num(users.connected));
    stats.rooms_active.set(num(d.rooms?.active), t('dash.roomsTotal', { n: num(d.rooms?.total) }));
    const ttm = activity?.time_to_match_ms;
    if (activity) {
      stats.matches.set(num(activity.matches_last_minute), t('dash.lastMinute'));
      stats.time_to_match.set(ttm?.p50 == null ? '—' : millis(ttm.p50), ttm ? t('dash.p99', { value: millis(ttm.p99) }) : '');
      stats.messages.set(num(activity.messages_per_second, 1), t('dash.lastSeconds'));
    } else {
      for (const s of [stats.matches, stats.time_to_match, stats.messages]) s.set('—', t('dash.notReported'));
    }
    stats.reports_open.set(num(d.reports_open), t('dash.reportsToday', { n: num(d.reports_today) }));
    stats.bans.set(num(d.active_bans));
    stats.calls.set(num(d.calls?.active), t('dash.callsStarted', { n: num(d.calls?.started) }));
    ctx.openReports(d.reports_open ?? 0);
    matchesChart.set(activity?.matches_per_minute);
    messagesChart.set(activity?.messages_per_minute);
    endsNote.textContent = activity?.since ? t('dash.since', { time: relative(activity.since) }) : '';
    const hour = d.ends?.last_hour || {};
    const day = d.ends?.last_day || {};
    const reasons = [...Object.keys(END_REASONS), ...new Set([...Object.keys(hour), ...Object.keys(day)])]
      .filter((r, i, all) => all.indexOf(r) === i);
    if (!d.ends) {
      endsBody.replaceChildren(h('tr', {}, h('td', { colspan: 3, class: 'muted', text: t('dash.notReported') })));
      return;
    }
    const dayMax = Math.max(1, ...reasons.map((r) => day[r] || 0));
    endsBody.replaceChildren(...reasons.map((r) => {
      const bar = h('span', { class: 'ends-bar', 'aria-hidden': 'true' });
      bar.style.width = `${Math.round(((day[r] || 0) / dayMax) * 100)}%`;
      return h('tr', { data: { reason: r } },
        h('th', { scope: 'row' }, h('span', { text: END_REASONS[r] ? t(END_REASONS[r]) : r }), h('span', { class: 'ends-track' }, bar)),
        h('td', { class: 'num', text: num(hour[r] || 0) }),
        h('td', { class: 'num', text: num(day[r] || 0) }));
    }));
  };

  const scheduleText = (schedule) => {
    if (!schedule) return '';
    if (schedule === 'at the next deadline') return t('loop.atDeadline');
    const every = /^every (.+)$/.exec(schedule);
    return every ? t('loop.every', { interval: every[1] }) : schedule;
  };

  const showStatus = (s) => {
    loopsProblem.textContent = '';
    loopsBody.replaceChildren(...Object.entries(s).map(([name, task]) => {
      const extra = name === 'rooms'
        ? t('loop.roomsExtra', { scheduled: num(task.scheduled_rooms), owners: num(task.room_owners) })
        : scheduleText(task.schedule);
      const running = task.state === 'running';
      return h('tr', { data: { loop: name } },
        h('th', { scope: 'row' }, h('span', { text: LOOPS[name] ? t(LOOPS[name]) : name }), h('span', { class: 'loop-extra muted', text: extra })),
        h('td', {}, badge(running ? t('loop.running') : t('loop.stopping'), running ? 'good' : 'bad')),
        h('td', { class: 'num', text: num(task.runs) }),
        h('td', { text: task.last_run ? relative(task.last_run) : t('loop.never') }),
        h('td', { text: task.next_run ? relative(task.next_run) : '—' }));
    }));
  };

  const load = async () => {
    const [dash, status] = await Promise.allSettled([api('GET', '/admin/dashboard'), api('GET', '/admin/status')]);
    for (const r of [dash, status]) {
      if (r.status === 'rejected' && r.reason?.code === 'forbidden') {
        ctx.forbidden();
        return;
      }
    }
    if (dash.status === 'fulfilled') {
      problem.textContent = '';
      showDashboard(dash.value);
      updated.textContent = t('dash.updated', { time: timeOfDay() });
      el.dataset.updates = String(Number(el.dataset.updates || 0) + 1);
    } else problem.textContent = t('dash.failed', { error: errorText(dash.reason) });
    if (status.status === 'fulfilled') showStatus(status.value);
    else loopsProblem.textContent = errorText(status.reason);
  };

  const poller = poll(load, DASHBOARD_POLL_MS);
  return { el, destroy: () => poller.stop() };
}
