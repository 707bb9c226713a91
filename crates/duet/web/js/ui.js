// Pieces every screen uses: the theme, banners, the screen reader announcer, form
// fields with their error line, dialogs, and the partner card.

import { h, clear } from './dom.js';
import { getLang, label, t } from './i18n.js';

const THEME_KEY = 'duet.theme';

export function currentTheme() {
  const saved = localStorage.getItem(THEME_KEY);
  if (saved === 'dark' || saved === 'light') return saved;
  return matchMedia('(prefers-color-scheme: dark)').matches ? 'dark' : 'light';
}

export function applyTheme(theme) {
  document.documentElement.dataset.theme = theme;
}

export function toggleTheme() {
  const next = currentTheme() === 'dark' ? 'light' : 'dark';
  localStorage.setItem(THEME_KEY, next);
  applyTheme(next);
  return next;
}

/** Reads `text` to screen readers without moving focus. */
export function announce(text) {
  const el = document.getElementById('announcer');
  el.textContent = '';
  setTimeout(() => {
    el.textContent = text;
  }, 30);
}

const banners = new Map();

/**
 * Shows (or replaces) the banner `id`; `kind` is `error`, `warn` or `info`. With
 * `seconds`, it goes away by itself.
 */
export function showBanner(id, kind, text, seconds) {
  hideBanner(id);
  const el = h('div', { class: `banner banner-${kind}`, data: { banner: id }, role: kind === 'error' ? 'alert' : null },
    h('span', { text }),
    h('button', { type: 'button', class: 'banner-close', 'aria-label': t('common.close'), on: { click: () => hideBanner(id) } }, '×'));
  document.getElementById('banners').appendChild(el);
  const timer = seconds ? setTimeout(() => hideBanner(id), seconds * 1000) : null;
  banners.set(id, { el, timer });
}

export function hideBanner(id) {
  const banner = banners.get(id);
  if (!banner) return;
  clearTimeout(banner.timer);
  banner.el.remove();
  banners.delete(id);
}

export function hideAllBanners() {
  for (const id of [...banners.keys()]) hideBanner(id);
}

/** The text for an API error (by its stable code); `params` fill the text's `{name}`s. */
export function errorText(error, params = {}) {
  if (!error) return t('error.generic');
  if (error.code === 'rate_limited') return t('banner.rateLimited', { seconds: error.retryAfter || 1 });
  const key = `error.${error.code}`;
  const text = t(key, params);
  if (text !== key) return text;
  // The server's details are English: the Vietnamese page says something general.
  return getLang() === 'en' && error.detail ? error.detail : t('error.generic');
}

/**
 * The text for a validation error on `field`. The server's messages are English; in
 * Vietnamese the client says it in its own words for the fields it knows.
 */
export function fieldErrorText(field, serverMessage) {
  if (getLang() !== 'vi') return serverMessage;
  const key = `invalid.${field}`;
  const text = t(key);
  return text === key ? serverMessage : text;
}

/**
 * What the form controls under `roots` hold (text, choices; not files), by name, so a
 * screen rebuilt in another language can put it back with `restoreForm`.
 */
export function formState(...roots) {
  const state = {};
  for (const root of roots) {
    for (const el of root.querySelectorAll('input[name], textarea[name], select[name]')) {
      if (el.type === 'file') continue;
      if (el.type === 'checkbox' || el.type === 'radio') {
        state[el.name] ??= { checked: [] };
        if (el.checked) state[el.name].checked.push(el.value);
      } else state[el.name] = { value: el.value };
    }
  }
  return state;
}

/** Puts back what `formState` read; a choice group hears a change, to apply its rules. */
export function restoreForm(state, ...roots) {
  if (!state) return;
  for (const root of roots) {
    const groups = new Set();
    for (const el of root.querySelectorAll('input[name], textarea[name], select[name]')) {
      const saved = state[el.name];
      if (!saved || el.type === 'file') continue;
      if (saved.checked) {
        el.checked = saved.checked.includes(el.value);
        groups.add(el);
      } else el.value = saved.value;
    }
    const seen = new Set();
    for (const el of groups) {
      if (seen.has(el.name)) continue;
      seen.add(el.name);
      el.dispatchEvent(new Event('change', { bubbles: true }));
    }
  }
}

let fieldSeq = 0;

/**
 * A labelled field with a hint and an error line. `control` is the input (or a group);
 * returns `{el, control, setError(text)}`.
 */
export function field(name, labelText, control, hint) {
  const id = control.id || `f-${name}-${++fieldSeq}`;
  const errorId = `${id}-error`;
  const hintId = hint ? `${id}-hint` : null;
  const isGroup = control.tagName === 'FIELDSET' || control.getAttribute('role') === 'group';
  if (!isGroup) control.id = id;
  control.setAttribute('aria-describedby', [hintId, errorId].filter(Boolean).join(' '));
  const error = h('p', { class: 'field-error', id: errorId, data: { errorFor: name } });
  const el = h('div', { class: 'field', data: { field: name } },
    isGroup ? null : h('label', { for: id, text: labelText }),
    control,
    hint ? h('p', { class: 'field-hint', id: hintId, text: hint }) : null,
    error);
  return {
    el,
    control,
    setError(text) {
      error.textContent = text || '';
      el.classList.toggle('has-error', Boolean(text));
      if (!isGroup) control.setAttribute('aria-invalid', text ? 'true' : 'false');
    },
  };
}

/**
 * Chip choices (checkboxes or radios styled as chips) in a fieldset with a legend.
 * `items`: vocabulary items `{id, vi, en}`. Returns `{el, values(), set(values)}`.
 */
export function chips(name, legend, items, { multiple = true, max = Infinity, selected = [] } = {}) {
  const inputs = items.map((item) => {
    const input = h('input', { type: multiple ? 'checkbox' : 'radio', name, value: item.id });
    input.checked = selected.includes(item.id);
    return { item, input };
  });
  const sync = () => {
    if (max === Infinity) return;
    const count = inputs.filter((i) => i.input.checked).length;
    for (const { input } of inputs) input.disabled = !input.checked && count >= max;
  };
  const group = h('fieldset', { class: 'chips', id: `g-${name}-${++fieldSeq}` },
    h('legend', { text: legend }),
    h('div', { class: 'chip-list' },
      inputs.map(({ item, input }) => h('label', { class: 'chip' }, input, h('span', { text: label(item) })))));
  group.addEventListener('change', (event) => {
    // "Anyone" excludes the genders and the genders exclude "Anyone".
    if (name === 'preferred_gender' && event.target.checked) {
      for (const { input } of inputs) {
        if (input !== event.target && (event.target.value === 'any' || input.value === 'any')) input.checked = false;
      }
    }
    sync();
  });
  sync();
  return {
    el: group,
    values: () => inputs.filter((i) => i.input.checked).map((i) => i.item.id),
    set(values) {
      for (const { input } of inputs) input.checked = values.includes(input.value);
      sync();
    },
  };
}

/**
 * A modal <dialog> (Escape closes it). `build(close)` returns the body; resolves with
 * what `close(value)` was given, or null when dismissed.
 */
export function openDialog(title, build) {
  return new Promise((resolve) => {
    let result = null;
    const dialog = h('dialog', { class: 'dialog', 'aria-labelledby': 'dialog-title' });
    const close = (value) => {
      result = value;
      dialog.close();
    };
    dialog.append(h('h2', { id: 'dialog-title', text: title }), build(close));
    dialog.addEventListener('close', () => {
      dialog.remove();
      resolve(result);
    });
    document.body.appendChild(dialog);
    dialog.showModal();
  });
}

/** The partner's photo: a blob URL set by the room, or initials. */
export function avatarEl(nickname, size = 'md') {
  const initials = (nickname || '?').trim().slice(0, 1).toUpperCase() || '?';
  const img = h('img', { alt: '', hidden: true });
  const el = h('div', { class: `avatar avatar-${size}`, 'aria-hidden': 'true' }, h('span', { text: initials }), img);
  return {
    el,
    set(url) {
      if (url) {
        img.src = url;
        img.hidden = false;
      } else img.hidden = true;
    },
  };
}

/**
 * The partner view: name, age, gender, needs and interests, as text. `mine`: the ids of
 * this user's own needs and interests; the partner's that match are marked as shared.
 */
export function partnerFacts(partner, vocab, mine = []) {
  const find = (list, id) => label(list.find((v) => v.id === id)) || id;
  const tag = (cls, list, id) => {
    const shared = mine.includes(id);
    return h('li', { class: `tag ${cls}${shared ? ' tag-shared' : ''}`, data: { id } },
      shared ? h('span', { class: 'tag-shared-mark', 'aria-hidden': 'true', text: '★ ' }) : null,
      find(list, id),
      shared ? h('span', { class: 'sr-only', text: ` (${t('partner.shared')})` }) : null);
  };
  const tags = [
    ...partner.needs.map((id) => tag('tag-need', vocab.needs, id)),
    ...partner.interests.map((id) => tag('', vocab.interests, id)),
  ];
  const facts = [partner.age ? t('partner.age', { age: partner.age }) : null, partner.gender ? find(vocab.genders, partner.gender) : null]
    .filter(Boolean)
    .join(' · ');
  return { facts, tags: h('ul', { class: 'tags' }, tags) };
}

export function partnerName(partner) {
  return partner?.nickname || t('partner.anonymous');
}

export { clear };
