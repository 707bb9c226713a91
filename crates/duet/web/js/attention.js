// Getting the user's attention in a conversation that does not wait: while the tab is
// hidden, new messages are counted in the tab's title ("(2) Duet") and shown as a dot on
// its icon; with notifications turned on (opt-in, on the profile page), a new message,
// a match and a like round also bring a browser notification, a short sound and, on
// phones, a vibration. Nothing of this happens while the tab is visible: the page itself
// shows it.

import { t } from './i18n.js';

const KEY = 'duet.notify';
const TITLE = 'Duet';
let unread = 0;
let plainIcon = null; // the icon link's own href
let dotIcon = null; // a data: URL of the icon with a dot
let audio = null;

const hidden = () => document.visibilityState === 'hidden';

function iconLink() {
  return document.querySelector('link[rel=icon]');
}

async function loadDotIcon() {
  if (dotIcon) return dotIcon;
  const link = iconLink();
  plainIcon = plainIcon || link?.getAttribute('href');
  try {
    const svg = await (await fetch(plainIcon)).text();
    const dot = '<circle cx="50" cy="14" r="13" fill="#ff2d55" stroke="#fff" stroke-width="3"/>';
    dotIcon = `data:image/svg+xml,${encodeURIComponent(svg.replace('</svg>', `${dot}</svg>`))}`;
  } catch {
    dotIcon = null;
  }
  return dotIcon;
}

async function render() {
  document.title = unread ? `(${unread}) ${TITLE}` : TITLE;
  const link = iconLink();
  if (!link) return;
  plainIcon = plainIcon || link.getAttribute('href');
  const href = unread ? await loadDotIcon() : plainIcon;
  // Read again: the count may have changed while the icon was made.
  link.setAttribute('href', unread && href ? href : plainIcon);
  document.documentElement.dataset.unread = String(unread);
}

/** Whether notifications, sound and vibration are on (and the browser allows them). */
export function notificationsOn() {
  return localStorage.getItem(KEY) === '1' && 'Notification' in window && Notification.permission === 'granted';
}

/** Whether this browser can show notifications at all. */
export function notificationsSupported() {
  return 'Notification' in window;
}

/** Turns notifications on (asking the browser's permission) or off; resolves to the new state. */
export async function setNotifications(on) {
  if (!on) {
    localStorage.removeItem(KEY);
    return false;
  }
  if (!notificationsSupported()) return false;
  const permission = Notification.permission === 'default' ? await Notification.requestPermission() : Notification.permission;
  if (permission !== 'granted') return false;
  localStorage.setItem(KEY, '1');
  return true;
}

function beep() {
  try {
    audio = audio || new AudioContext();
    audio.resume().catch(() => {});
    const osc = audio.createOscillator();
    const gain = audio.createGain();
    osc.frequency.value = 740;
    gain.gain.value = 0.06;
    osc.connect(gain).connect(audio.destination);
    osc.start();
    osc.stop(audio.currentTime + 0.15);
  } catch {
    // No sound here: the notification and the title say it.
  }
}

/** `kind`: `message`, `match` or `like` (one notification of each kind shows at a time). */
function notify(kind, body) {
  if (!hidden() || !notificationsOn()) return;
  try {
    const note = new Notification(TITLE, { body, tag: `duet-${kind}`, icon: plainIcon || '/app/icon.svg' });
    note.onclick = () => {
      window.focus();
      note.close();
    };
  } catch {
    // Some browsers (Android Chrome) allow notifications only from a service worker.
  }
  beep();
  navigator.vibrate?.([120, 60, 120]);
}

/** A message from the partner arrived (not a replay of one already seen). */
export function messageArrived(name, text) {
  if (!hidden()) return;
  unread += 1;
  render();
  notify('message', `${name}: ${text.length > 120 ? `${text.slice(0, 119)}…` : text}`);
}

/** A match was made (the room opens by itself). */
export function matchFound(name) {
  notify('match', t('attention.match', { name }));
}

/** A like round opened. */
export function likeRound() {
  notify('like', t('attention.like'));
}

document.addEventListener('visibilitychange', () => {
  if (!hidden() && unread) {
    unread = 0;
    render();
  }
});
