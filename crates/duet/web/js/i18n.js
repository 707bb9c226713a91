// The language of the page: the one chosen here before (kept in localStorage), else
// the first of the browser's languages Duet speaks, else Vietnamese.
// `t(key, params)` looks a text up and fills `{name}` placeholders.

import { STRINGS } from './strings.js';

const KEY = 'duet.lang';
const listeners = new Set();
let lang = initialLang();

function initialLang() {
  const chosen = localStorage.getItem(KEY);
  if (STRINGS[chosen]) return chosen;
  for (const tag of navigator.languages?.length ? navigator.languages : [navigator.language]) {
    const base = String(tag || '').toLowerCase().split('-')[0];
    if (Object.hasOwn(STRINGS, base)) return base;
  }
  return 'vi';
}

export function getLang() {
  return lang;
}

export function setLang(next) {
  if (!STRINGS[next] || next === lang) return;
  lang = next;
  localStorage.setItem(KEY, next);
  document.documentElement.lang = next;
  for (const fn of listeners) fn(next);
}

/** Calls `fn` after every change of language; returns a function that stops it. */
export function onLangChange(fn) {
  listeners.add(fn);
  return () => listeners.delete(fn);
}

export function t(key, params = {}) {
  const text = STRINGS[lang][key] ?? STRINGS.en[key] ?? key;
  return text.replace(/\{(\w+)\}/g, (_, name) => (name in params ? String(params[name]) : `{${name}}`));
}

/** The label of a vocabulary item `{id, vi, en}` in the current language. */
export function label(item) {
  return item ? item[lang] || item.en || item.id : '';
}

/** A date and time in the current language. */
export function formatTime(iso) {
  const locale = lang === 'vi' ? 'vi-VN' : 'en-GB';
  return new Date(iso).toLocaleString(locale, { dateStyle: 'medium', timeStyle: 'short' });
}

export function formatClock(iso) {
  const locale = lang === 'vi' ? 'vi-VN' : 'en-GB';
  return new Date(iso).toLocaleTimeString(locale, { hour: '2-digit', minute: '2-digit' });
}

document.documentElement.lang = lang;
