// The first screen of someone signed out: what Duet is in three steps, the rules and
// the age limit, privacy in one sentence, how many people are here now, and the way in
// (Sign up first, Log in beside it).

import { h } from '../dom.js';
import { t } from '../i18n.js';

/** How often the count of people online is asked again while this screen is shown. */
const ONLINE_EVERY_MS = 30_000;

export function welcomeView(app) {
  const minAge = app.limits?.min_age ?? 18;
  const online = h('p', { class: 'welcome-online', hidden: true },
    h('span', { class: 'online-dot', 'aria-hidden': 'true' }),
    h('span', { class: 'welcome-online-text' }));
  let stopped = false;
  let timer = null;

  // The public count (GET /meta/online, cached by the server for 10 s). Asked with a
  // bare fetch: a refusal or an outage only hides the line, with no banner.
  async function count() {
    try {
      const res = await fetch('/meta/online');
      if (!res.ok) throw new Error(`HTTP ${res.status}`);
      const { online: n } = await res.json();
      if (stopped) return;
      online.lastElementChild.textContent = n > 0 ? t('welcome.online', { count: n.toLocaleString() }) : t('welcome.onlineNone');
      online.classList.toggle('is-quiet', n === 0);
      online.hidden = false;
    } catch {
      online.hidden = true;
    }
    if (!stopped) timer = setTimeout(count, ONLINE_EVERY_MS);
  }
  count();

  const signup = h('a', { href: '#/signup', class: 'btn btn-primary btn-lg', id: 'welcome-signup', text: t('welcome.signup') });
  const step = (n, title, text) => h('li', { class: 'welcome-step' },
    h('span', { class: 'welcome-step-n', 'aria-hidden': 'true', text: String(n) }),
    h('div', {}, h('h3', { text: title }), h('p', { text: text })));

  const el = h('section', { class: 'screen screen-welcome' },
    h('div', { class: 'welcome-hero' },
      h('img', { src: '/app/icon.svg', alt: '', class: 'auth-logo', width: 72, height: 72 }),
      h('h1', { text: 'Duet' }),
      h('p', { class: 'lead', text: t('auth.tagline') }),
      online,
      h('div', { class: 'welcome-actions' },
        signup,
        h('a', { href: '#/login', class: 'btn btn-secondary btn-lg', id: 'welcome-login', text: t('welcome.login') }))),
    h('section', { class: 'card welcome-how', 'aria-labelledby': 'welcome-how-title' },
      h('h2', { id: 'welcome-how-title', text: t('welcome.howTitle') }),
      h('ol', { class: 'welcome-steps' },
        step(1, t('welcome.step1Title'), t('welcome.step1')),
        step(2, t('welcome.step2Title'), t('welcome.step2')),
        step(3, t('welcome.step3Title'), t('welcome.step3')))),
    h('section', { class: 'card welcome-rules', 'aria-labelledby': 'welcome-rules-title' },
      h('h2', { id: 'welcome-rules-title' },
        h('span', { class: 'age-badge', text: `${minAge}+` }), ' ', t('welcome.rulesTitle')),
      h('ul', { class: 'welcome-rule-list' },
        h('li', { text: t('welcome.ruleAge', { age: minAge }) }),
        h('li', { text: t('welcome.ruleKind') }),
        h('li', { text: t('welcome.ruleReport') })),
      h('p', { class: 'welcome-privacy', text: t('welcome.privacy') })));

  return {
    el,
    focus: signup,
    destroy() {
      stopped = true;
      clearTimeout(timer);
    },
  };
}
