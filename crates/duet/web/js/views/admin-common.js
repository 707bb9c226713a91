// Pieces the moderation console's sections share: SVG elements, query strings,
// numbers and times in the page's language, links to a user's history, a pager,
// polling that pauses while the tab is hidden, and the ban and confirm dialogs.

import { h } from '../dom.js';
import { formatTime, getLang, t } from '../i18n.js';
import { openDialog } from '../ui.js';

const SVG_NS = 'http://www.w3.org/2000/svg';

/** Builds an SVG element: attributes as given (`class` included), children appended. */
export function svg(tag, attrs = {}, ...children) {
  const el = document.createElementNS(SVG_NS, tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value !== null && value !== undefined && value !== false) el.setAttribute(key, String(value));
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    el.appendChild(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return el;
}

/** `path?key=value&…` without the empty values. */
export function withQuery(path, params) {
  const q = new URLSearchParams();
  for (const [key, value] of Object.entries(params)) {
    if (value !== null && value !== undefined && value !== '') q.set(key, String(value));
  }
  const text = q.toString();
  return text ? `${path}?${text}` : path;
}

function locale() {
  return getLang() === 'vi' ? 'vi-VN' : 'en-GB';
}

/** A number in the page's language; `—` when there is none. */
export function num(value, digits = 0) {
  if (value === null || value === undefined || Number.isNaN(value)) return '—';
  return new Intl.NumberFormat(locale(), { maximumFractionDigits: digits, minimumFractionDigits: digits }).format(value);
}

/** Milliseconds as `850 ms` or `2.4 s`; `—` when there is none. */
export function millis(ms) {
  if (ms === null || ms === undefined) return '—';
  return ms < 1000 ? `${num(ms)} ms` : `${num(ms / 1000, 1)} s`;
}

/** A length of time as `m:ss` or `h:mm:ss`. */
export function duration(seconds) {
  const s = Math.max(0, Math.floor(seconds || 0));
  const hours = Math.floor(s / 3600);
  const mm = String(Math.floor((s % 3600) / 60)).padStart(hours ? 2 : 1, '0');
  const ss = String(s % 60).padStart(2, '0');
  return hours ? `${hours}:${mm}:${ss}` : `${mm}:${ss}`;
}

/** "3 minutes ago", "in 12 seconds", in the page's language. */
export function relative(iso, now = Date.now()) {
  if (!iso) return '—';
  const seconds = Math.round((Date.parse(iso) - now) / 1000);
  const format = new Intl.RelativeTimeFormat(locale(), { numeric: 'auto' });
  const abs = Math.abs(seconds);
  if (abs < 60) return format.format(seconds, 'second');
  if (abs < 3600) return format.format(Math.round(seconds / 60), 'minute');
  if (abs < 86400) return format.format(Math.round(seconds / 3600), 'hour');
  return format.format(Math.round(seconds / 86400), 'day');
}

/** The time of day with seconds, in the page's language. */
export function timeOfDay(date = new Date()) {
  return date.toLocaleTimeString(locale(), { hour: '2-digit', minute: '2-digit', second: '2-digit' });
}

/** A `<time>` with the date and time, and the exact instant as its title. */
export function timeEl(iso) {
  if (!iso) return h('span', { text: '—' });
  return h('time', { datetime: iso, title: iso, text: formatTime(iso) });
}

/** A link to a user's history; an erased account (no username) says so. */
export function userLink(id, username) {
  if (id === null || id === undefined) return h('span', { class: 'muted', text: t('admin.erased') });
  const name = username === null ? t('admin.erased') : username || `#${id}`;
  return h('a', { href: `#/admin/users/${id}`, class: 'admin-user-link', data: { userId: id } }, name, h('span', { class: 'muted', text: ` #${id}` }));
}

/** A state badge: `kind` picks its colour (open, good, bad, neutral). */
export function badge(text, kind = 'neutral') {
  return h('span', { class: `admin-badge admin-badge-${kind}`, text });
}

/** What a user's ban is, in words; '' when there is none. */
export function banText(user) {
  if (user.ban_permanent) return t('users.bannedForever');
  if (user.banned_until) return t('users.bannedUntil', { time: formatTime(user.banned_until) });
  return '';
}

/** Previous / next for a page `{page, limit, total}`; `go(page)` loads another. */
export function pager(data, go) {
  const pages = Math.max(1, Math.ceil((data.total || 0) / (data.limit || 1)));
  if (pages <= 1) return null;
  const prev = h('button', { type: 'button', class: 'btn btn-small btn-ghost', text: t('admin.prev'), disabled: data.page <= 1 });
  const next = h('button', { type: 'button', class: 'btn btn-small btn-ghost', text: t('admin.next'), disabled: data.page >= pages });
  prev.addEventListener('click', () => go(data.page - 1));
  next.addEventListener('click', () => go(data.page + 1));
  return h('nav', { class: 'admin-pager', 'aria-label': t('admin.pages') },
    prev, h('span', { class: 'muted', text: t('admin.pageOf', { page: data.page, pages }) }), next);
}

/**
 * Runs `fn` now and then every `ms` while the tab is visible: a hidden tab asks
 * nothing, and one shown again asks at once. Returns `{stop(), now()}`.
 */
export function poll(fn, ms) {
  let timer = null;
  let running = false;
  let stopped = false;
  const tick = async () => {
    timer = null;
    if (stopped || document.hidden) return;
    running = true;
    try {
      await fn();
    } catch {
      // `fn` says its own errors; the next tick tries again.
    } finally {
      running = false;
      if (!stopped && !document.hidden && !timer) timer = setTimeout(tick, ms);
    }
  };
  const visibility = () => {
    if (!document.hidden && !timer && !running && !stopped) tick();
  };
  document.addEventListener('visibilitychange', visibility);
  tick();
  return {
    stop() {
      stopped = true;
      clearTimeout(timer);
      document.removeEventListener('visibilitychange', visibility);
    },
    now() {
      if (running || stopped) return;
      clearTimeout(timer);
      tick();
    },
  };
}

let dialogSeq = 0;

/**
 * Asks how long to ban `name` for and why. Resolves to the ban's body
 * (`{days, reason}` or `{permanent: true, reason}`) or null when dismissed.
 */
export function banDialog(name, maxDays = 3650) {
  const id = ++dialogSeq;
  return openDialog(t('ban.title', { name }), (close) => {
    const forDays = h('input', { type: 'radio', name: `ban-kind-${id}`, value: 'days', id: `ban-days-kind-${id}`, checked: true });
    const forever = h('input', { type: 'radio', name: `ban-kind-${id}`, value: 'permanent', id: `ban-forever-${id}` });
    const days = h('input', { type: 'number', min: 1, max: maxDays, value: 7, step: 1, id: `ban-days-${id}`, name: 'days', class: 'admin-days', 'aria-label': t('ban.days') });
    const reason = h('textarea', { id: `ban-reason-${id}`, name: 'reason', rows: 3, maxlength: 500, required: true, 'aria-describedby': `ban-error-${id}` });
    const error = h('p', { class: 'form-error', id: `ban-error-${id}`, role: 'alert' });
    const sync = () => {
      days.disabled = forever.checked;
    };
    forDays.addEventListener('change', sync);
    forever.addEventListener('change', sync);
    const submit = h('button', { type: 'submit', class: 'btn btn-danger', text: t('ban.confirm') });
    const cancel = h('button', { type: 'button', class: 'btn btn-ghost', text: t('common.cancel'), on: { click: () => close(null) } });
    const form = h('form', { class: 'stack', novalidate: true },
      h('fieldset', { class: 'radio-group' },
        h('legend', { text: t('ban.length') }),
        h('div', { class: 'radio-row' }, forDays, h('label', { for: `ban-days-kind-${id}`, text: t('ban.forDays') }), days, h('span', { 'aria-hidden': 'true', text: t('ban.daysUnit') })),
        h('div', { class: 'radio-row' }, forever, h('label', { for: `ban-forever-${id}`, text: t('ban.permanent') }))),
      h('div', { class: 'field' }, h('label', { for: `ban-reason-${id}`, text: t('ban.reason') }), reason),
      error,
      h('div', { class: 'form-actions' }, cancel, submit));
    form.addEventListener('submit', (event) => {
      event.preventDefault();
      const why = reason.value.trim();
      const n = Number(days.value);
      if (!why) {
        error.textContent = t('ban.needReason');
        reason.focus();
        return;
      }
      if (!forever.checked && !(Number.isInteger(n) && n >= 1 && n <= maxDays)) {
        error.textContent = t('ban.badDays', { max: maxDays });
        days.focus();
        return;
      }
      close(forever.checked ? { permanent: true, reason: why } : { days: n, reason: why });
    });
    requestAnimationFrame(() => days.focus());
    return form;
  });
}

/** Asks to confirm `body`; resolves to true when confirmed. */
export function confirmDialog(title, body, confirmText) {
  return openDialog(title, (close) => {
    const yes = h('button', { type: 'button', class: 'btn btn-danger', text: confirmText, on: { click: () => close(true) } });
    const no = h('button', { type: 'button', class: 'btn btn-ghost', text: t('common.cancel'), on: { click: () => close(false) } });
    requestAnimationFrame(() => no.focus());
    return h('div', { class: 'stack' }, h('p', { text: body }), h('div', { class: 'form-actions' }, no, yes));
  }).then(Boolean);
}
