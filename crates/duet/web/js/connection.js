// Whether this page is connected, said once: each socket reports whether its link is
// up, the browser reports `offline` and `online`, and one "connection lost" banner
// shows while any link is down or the browser is offline (the status socket and the
// chat socket lose the network together; two banners would say it twice).

import { t } from './i18n.js';
import { hideBanner, showBanner } from './ui.js';

const BANNER = 'connection';
const down = new Set(); // names of the links that are down
let browserOffline = typeof navigator !== 'undefined' && navigator.onLine === false;

function render() {
  if (down.size || browserOffline) showBanner(BANNER, 'warn', t('banner.offline'));
  else hideBanner(BANNER);
}

/** Link `name` (a socket) is up or down. */
export function setLink(name, up) {
  const changed = up ? down.has(name) : !down.has(name);
  if (up) down.delete(name);
  else down.add(name);
  if (changed) render();
}

/** Link `name` is gone (its socket was stopped): it no longer counts. */
export function dropLink(name) {
  if (down.delete(name)) render();
}

/** Whether the browser says there is no network at all. */
export function isBrowserOffline() {
  return browserOffline;
}

window.addEventListener('offline', () => {
  browserOffline = true;
  render();
});
window.addEventListener('online', () => {
  browserOffline = false;
  render();
});
