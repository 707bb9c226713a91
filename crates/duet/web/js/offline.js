// The offline page the service worker shows when a page cannot be loaded: in the
// page's language, with the theme chosen, and back to Duet as soon as the network is
// (the `online` event) or on "Try again".

import { t } from './i18n.js';
import { applyTheme, currentTheme } from './ui.js';

applyTheme(currentTheme());
document.title = `${t('offline.title')} · Duet`;
document.getElementById('offline-title').textContent = t('offline.title');
document.getElementById('offline-text').textContent = t('offline.text');
const retry = document.getElementById('offline-retry');
retry.textContent = t('offline.retry');
const reload = () => location.reload();
retry.addEventListener('click', reload);
window.addEventListener('online', reload);
