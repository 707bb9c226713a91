// Active rooms (GET /admin/rooms?status=active, every 3 s while the tab is visible):
// age, reveal level, keep state, connections and the next timer; End closes a room as
// an administrator (reason `admin`). Rows are updated in place, so the focus stays on
// the button it was on while the list refreshes.

import { api } from '../api.js';
import { h } from '../dom.js';
import { t } from '../i18n.js';
import { announce, errorText } from '../ui.js';
import { badge, confirmDialog, duration, pager, poll, relative, timeOfDay, userLink, withQuery } from './admin-common.js';

const TIMERS = {
  expiry: 'timer.expiry',
  abandoned: 'timer.abandoned',
  inactivity: 'timer.inactivity',
  ring_timeout: 'timer.ring_timeout',
  call_disconnect: 'timer.call_disconnect',
  answer_deadline: 'timer.answer_deadline',
  open_round: 'timer.open_round',
};

function keepText(room) {
  if (Array.isArray(room.keeps)) {
    const n = room.keeps.filter(Boolean).length;
    return n === 2 ? t('rooms.keptBoth') : n === 1 ? t('rooms.keptOne') : t('rooms.keptNone');
  }
  return room.kept ? t('rooms.keptBoth') : t('rooms.keptNone');
}

const memory = { page: 1 };

export function roomsSection(ctx) {
  const heading = h('h2', { tabindex: '-1', text: t('rooms.title') });
  const status = h('p', { class: 'muted' });
  const result = h('p', { class: 'report-result', role: 'status' });
  const updated = h('p', { class: 'admin-updated muted' });
  const body = h('tbody');
  const pages = h('div');
  const el = h('div', { class: 'admin-section admin-rooms' },
    h('div', { class: 'admin-toolbar' }, heading, updated),
    status,
    result,
    h('div', { class: 'table-scroll' },
      h('table', { class: 'admin-table rooms-table' },
        h('caption', { class: 'sr-only', text: t('rooms.title') }),
        h('thead', {}, h('tr', {},
          h('th', { scope: 'col', text: t('rooms.room') }),
          h('th', { scope: 'col', text: t('rooms.people') }),
          h('th', { scope: 'col', class: 'num', text: t('rooms.age') }),
          h('th', { scope: 'col', class: 'num', text: t('rooms.reveal') }),
          h('th', { scope: 'col', text: t('rooms.keep') }),
          h('th', { scope: 'col', class: 'num', text: t('rooms.connections') }),
          h('th', { scope: 'col', text: t('rooms.nextTimer') }),
          h('th', { scope: 'col', text: t('rooms.actions') }))),
        body)),
    pages);

  // id -> {el, cells, room, fetchedAt}
  const rows = new Map();
  const empty = h('tr', {}, h('td', { colspan: 8, class: 'muted', text: t('rooms.empty') }));

  const ageOf = (row) => {
    const { room, fetchedAt } = row;
    const base = typeof room.age_seconds === 'number' ? room.age_seconds : (fetchedAt - Date.parse(room.start_time)) / 1000;
    return base + (Date.now() - fetchedAt) / 1000;
  };

  const fill = (row) => {
    const { room, cells } = row;
    cells.age.textContent = duration(ageOf(row));
    cells.reveal.textContent = `${room.reveal_level}/2`;
    cells.keep.textContent = keepText(room);
    cells.connections.textContent = typeof room.connections === 'number' ? `${room.connections}/2` : '—';
    const timer = room.next_timer;
    cells.timer.replaceChildren(timer
      ? h('span', {}, TIMERS[timer.kind] ? t(TIMERS[timer.kind]) : timer.kind, h('span', { class: 'muted cell-sub', text: relative(timer.at) }))
      : h('span', { class: 'muted', text: '—' }));
  };

  const end = async (row, button) => {
    const id = row.room.id;
    const ok = await confirmDialog(t('rooms.endTitle', { id }), t('rooms.endBody'), t('rooms.end'));
    if (!ok) {
      button.focus();
      return;
    }
    button.disabled = true;
    try {
      const res = await api('POST', `/admin/rooms/${id}/end`);
      const text = res?.already_ended ? t('rooms.alreadyEnded', { id }) : t('rooms.ended', { id });
      result.textContent = text;
      announce(text);
      row.el.remove();
      rows.delete(id);
      if (!rows.size) body.replaceChildren(empty);
      heading.focus();
      poller.now();
    } catch (e) {
      button.disabled = false;
      if (e.code === 'forbidden') ctx.forbidden();
      else result.textContent = errorText(e);
    }
  };

  const makeRow = (room) => {
    // Each cell names its column (`data-label`), shown on a phone where the rows are blocks.
    const cell = (key, cls) => h('td', { class: cls, data: { label: t(key) } });
    const cells = {
      age: cell('rooms.age', 'num'),
      reveal: cell('rooms.reveal', 'num'),
      keep: cell('rooms.keep'),
      connections: cell('rooms.connections', 'num'),
      timer: cell('rooms.nextTimer'),
    };
    const button = h('button', { type: 'button', class: 'btn btn-small btn-danger', data: { action: 'end' }, text: t('rooms.end'), 'aria-label': t('rooms.endLabel', { id: room.id }) });
    const [a, b] = room.users || [];
    const el = h('tr', { data: { roomId: room.id } },
      h('th', { scope: 'row' }, `#${room.id}`, ' ', badge(room.type === 'voice' ? t('rooms.voice') : t('rooms.chat'))),
      h('td', { class: 'cell-people', data: { label: t('rooms.people') } }, userLink(a), userLink(b)),
      cells.age, cells.reveal, cells.keep, cells.connections, cells.timer,
      h('td', { class: 'cell-action' }, button));
    const row = { el, cells, room, fetchedAt: Date.now() };
    button.addEventListener('click', () => end(row, button));
    return row;
  };

  const load = async () => {
    try {
      const data = await api('GET', withQuery('/admin/rooms', { status: 'active', page: memory.page, limit: 50 }));
      const now = Date.now();
      const seen = new Set();
      const ordered = [];
      for (const room of data.items) {
        if (room.end_time) continue;
        seen.add(room.id);
        let row = rows.get(room.id);
        if (!row) {
          row = makeRow(room);
          rows.set(room.id, row);
        }
        row.room = room;
        row.fetchedAt = now;
        fill(row);
        ordered.push(row.el);
      }
      for (const [id, row] of rows) {
        if (!seen.has(id)) {
          row.el.remove();
          rows.delete(id);
        }
      }
      if (!ordered.length) body.replaceChildren(empty);
      else {
        empty.remove();
        // Only moved when out of place, so a focused button is not taken out and put back.
        ordered.forEach((rowEl, i) => {
          if (body.children[i] !== rowEl) body.insertBefore(rowEl, body.children[i] || null);
        });
      }
      status.textContent = t('rooms.count', { n: data.total });
      updated.textContent = t('dash.updated', { time: timeOfDay() });
      pages.replaceChildren(pager(data, (p) => {
        memory.page = p;
        poller.now();
      }) || '');
    } catch (e) {
      if (e.code === 'forbidden') ctx.forbidden();
      else status.textContent = errorText(e);
    }
  };

  const poller = poll(load, 3000);
  const ticker = setInterval(() => {
    for (const row of rows.values()) row.cells.age.textContent = duration(ageOf(row));
  }, 1000);
  return {
    el,
    destroy() {
      poller.stop();
      clearInterval(ticker);
    },
  };
}
