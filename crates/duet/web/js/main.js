// The app: boot, the session, the status socket, and the screens by route.
//
// Routes live in the hash (#/ (home; signed out, the first screen), #/login, #/signup,
// #/profile, #/search,
// #/admin[/reports|users[/ID]|rooms|audit] (the moderation console),
// #/room/ID, #/ended/ID/REASON), so a reload on any screen comes back to this page;
// a match opens its room at once, on both sides (the old #/match/ID leads there too);
// where the user really is (idle, searching, in a room) is then read from the server
// (the status socket's first frame, or GET /user/status) and wins over the hash.

import { api, forgetTokens, hasSession, logout, setHooks } from './api.js';
import { matchFound } from './attention.js';
import { h, clear } from './dom.js';
import { getLang, onLangChange, setLang, t } from './i18n.js';
import { openStatusSocket } from './status-socket.js';
import { announce, applyTheme, currentTheme, errorText, hideAllBanners, hideBanner, showBanner, toggleTheme } from './ui.js';
import { authView } from './views/auth.js';
import { bannedView, endedView, replacedView } from './views/ended.js';
import { homeView, searchingView } from './views/search.js';
import { welcomeView } from './views/welcome.js';

const main = document.getElementById('main');

// The screens the first screen does not need load when first shown, so a first visit
// fetches only what it shows (the service worker then keeps them all, and the browser
// keeps every module a year). Resolves to the module, or null when it could not be
// loaded: offline, the banner says so; online, the server was most likely updated
// since this page loaded (its modules have new hashed URLs, the old ones are gone), so
// the page reloads as the new version, once a minute at most, and lands where the
// server says the user is.
const screens = {
  admin: () => import('./views/admin.js'),
  profile: () => import('./views/profile.js'),
  room: () => import('./views/room.js'),
};
const RELOADED_KEY = 'duet.reloadedForUpdate';

async function screen(name) {
  try {
    return await screens[name]();
  } catch {
    const last = Number(sessionStorage.getItem(RELOADED_KEY)) || 0;
    if (navigator.onLine && Date.now() - last > 60_000) {
      sessionStorage.setItem(RELOADED_KEY, String(Date.now()));
      location.reload();
    } else showBanner('offline', 'error', errorText({ code: 'network' }));
    return null;
  }
}

const app = {
  profile: null,
  vocab: null,
  // GET /meta/limits: the server's lengths, counts and timings, never copied here.
  limits: null,
  status: null,
  statusSocket: null,
  view: null,
  halted: false, // banned or replaced: nothing more happens on this page
  haltedView: null, // builds the banned or replaced screen again (after a language change)
  notice: null, // a strings.js key shown once on the home screen (a search that timed out)
  leaving: null, // the room left with "End and meet someone new": its end shows no screen

  go(hash) {
    if (location.hash === hash) route();
    else location.hash = hash;
  },

  /**
   * Builds the current screen again (after a language change), with what its forms
   * held; a screen may ask to wait (a room during a call) and call this itself later.
   */
  rerender() {
    if (app.halted) {
      show(app.haltedView());
      return;
    }
    if (app.view?.relabelNow && !app.view.relabelNow()) return;
    rebuild = { kept: app.view?.keep?.() ?? null };
    route();
  },

  /** Like go(), but in place of the current history entry (a screen that only leads on). */
  redirect(hash) {
    if (location.hash === hash) route();
    else location.replace(hash);
  },

  async signedIn(user) {
    app.profile = user;
    app.halted = false;
    renderTopbar();
    app.statusSocket?.stop();
    app.statusSocket = openStatusSocket(statusHandlers);
    const hash = location.hash;
    // The console needs no complete profile (an administrator may never search).
    if (!user.profile_complete && !hash.startsWith('#/admin')) app.go('#/profile');
    else if (!hash || hash === '#/login' || hash === '#/signup') app.go('#/');
    else route();
  },

  profileDone() {
    app.go('#/');
  },

  idle() {
    app.status = { status: 'idle', current_room_id: null };
    app.go('#/');
  },

  searching(search) {
    app.status = { status: 'searching', current_room_id: null, search };
    app.go('#/search');
  },

  matched(match) {
    app.status = { status: 'connected', current_room_id: match.room_id };
    // Both people go straight into the room, which introduces the partner: nobody sits
    // on a match card while the other is already writing. The search's answer and the
    // status socket's match_found both announce a match made at once: the second must
    // not rebuild the screen.
    const r = parseRoute();
    if (r.name === 'room' && r.id === match.room_id) return;
    matchFound(match.matched_user?.nickname || t('partner.anonymous'));
    app.go(`#/room/${match.room_id}`);
  },

  ended(roomId, reason) {
    sessionStorage.removeItem(`duet.outbox.${roomId}`);
    sessionStorage.removeItem(`duet.draft.${roomId}`);
    if (app.status?.current_room_id === roomId) app.status = { status: 'idle', current_room_id: null };
    // Left with "End and meet someone new": the new search leads on, not the ended screen.
    if (app.leaving === roomId) return;
    const target = `#/ended/${roomId}/${reason || 'unknown'}`;
    const current = parseRoute();
    if (current.name === 'ended' && current.id === roomId) return;
    app.go(target);
  },

  /**
   * Starts a search from `button` (home, a timed-out search, a room that ended). An
   * error is written in `errorEl`, or shown as a banner without one.
   */
  /** Searches for a `kind` match (`chat` or `voice`); `other`: the other search button, disabled meanwhile. */
  async startSearch(button, errorEl = null, kind = 'chat', other = null) {
    if (button) button.disabled = true;
    if (other) other.disabled = true;
    if (errorEl) errorEl.textContent = '';
    app.notice = null;
    try {
      const res = await api('POST', '/chat/search', { type: kind });
      if (res.room_id) app.matched(res);
      else app.searching(res.search);
    } catch (error) {
      if (button) button.disabled = false;
      if (other) other.disabled = false;
      if (error.code === 'already_searching') app.searching(null);
      else if (error.code === 'incomplete_profile') app.go('#/profile');
      else if (error.code === 'banned' || error.code === 'rate_limited') return; // the hooks said it
      else if (errorEl) errorEl.textContent = errorText(error);
      else showBanner('search', 'error', errorText(error), 8);
    }
  },

  /**
   * Erases the account (the password confirms it), then leaves for the login page with
   * a notice. Throws the ApiError when the server refuses (a wrong password).
   */
  async deleteAccount(password) {
    // The deletion closes this user's status socket with 4001; stopped first, it cannot
    // report that as an expired session.
    app.statusSocket?.stop();
    app.statusSocket = null;
    try {
      await api('DELETE', '/user/account', { password });
    } catch (error) {
      if (!app.halted && app.profile) app.statusSocket = openStatusSocket(statusHandlers);
      throw error;
    }
    stopAll();
    forgetTokens();
    app.profile = null;
    app.status = null;
    app.notice = null;
    hideAllBanners();
    renderTopbar();
    showBanner('account', 'info', t('account.deleted'), 15);
    app.go('#/login');
  },

  async refreshStatus() {
    try {
      applyStatus(await api('GET', '/user/status'));
    } catch {
      // The status socket will tell us when it is back.
    }
  },

  /** `ban`: `{until, permanent}`. */
  banned(ban) {
    if (app.halted) return;
    app.halted = true;
    stopAll();
    forgetTokens();
    app.profile = null;
    renderTopbar();
    app.haltedView = () => bannedView(ban);
    show(app.haltedView());
  },

  replaced() {
    if (app.halted) return;
    app.halted = true;
    stopAll();
    app.haltedView = () => replacedView();
    show(app.haltedView());
  },

  sessionEnded() {
    stopAll();
    forgetTokens();
    app.profile = null;
    renderTopbar();
    showBanner('session', 'warn', t('banner.sessionExpired'), 10);
    app.go('#/login');
  },
};

function stopAll() {
  app.statusSocket?.stop();
  app.statusSocket = null;
  app.view?.destroy?.();
  app.view = null;
}

const statusHandlers = {
  // The "connection lost" banner is connection.js's, shared with the chat socket.
  connection: () => {},
  status: (frame) => applyStatus(frame),
  match: (frame) => app.matched(frame),
  timeout: () => {
    const { name } = parseRoute();
    if (name === 'search' || name === 'home') {
      app.notice = 'home.timeout';
      announce(t('home.timeout'));
      app.idle();
    } else {
      // Elsewhere (the profile page, say) the user stays where they are.
      app.status = { status: 'idle', current_room_id: null };
      showBanner('search', 'info', t('home.timeout'), 10);
    }
  },
  roomEnded: (frame) => app.ended(frame.room_id, frame.reason),
  banned: (ban) => app.banned(ban),
  replaced: () => app.replaced(),
  sessionEnded: () => app.profile && app.sessionEnded(),
};

/** Moves to the screen that fits the user's status, when the current one does not. */
function applyStatus(status) {
  app.status = status;
  if (app.halted || !app.profile) return;
  const r = parseRoute();
  if (status.status === 'connected') {
    const id = status.current_room_id;
    const inRoom = r.name === 'room' && r.id === id;
    if (!inRoom && r.name !== 'profile' && r.name !== 'admin') app.go(`#/room/${id}`);
  } else if (status.status === 'searching') {
    if (r.name === 'home' || r.name === 'room') app.go('#/search');
  } else if (r.name === 'search') {
    app.go('#/');
  }
}

function parseRoute() {
  const parts = (location.hash || '#/').replace(/^#\/?/, '').split('/');
  const name = parts[0] || 'home';
  const id = parts[1] ? Number(parts[1]) : null;
  let extra = parts[2] || null;
  try {
    extra = extra && decodeURIComponent(extra);
  } catch {
    // A malformed escape in a typed URL: keep it as it is.
  }
  return { name, id, extra, parts };
}

function show(view) {
  // A dialog belongs to the screen it was opened on (End? on a room that has just
  // ended elsewhere, say): it goes with it.
  for (const dialog of document.querySelectorAll('dialog[open]')) dialog.close();
  app.view?.destroy?.();
  app.view = view;
  clear(main).appendChild(view.el);
  document.body.dataset.screen = view.el.className;
  const focus = view.focus || main;
  requestAnimationFrame(() => focus.focus({ preventScroll: false }));
}

// Each route() call takes a number; one that waited for the server gives way when a
// newer call started meanwhile, so a slow answer never shows a screen left already.
let routeCalls = 0;
// Set by rerender(): the next route() builds its screen even if it is already shown,
// and hands the view what the old one kept.
let rebuild = null;

async function route() {
  if (app.halted) return;
  const call = ++routeCalls;
  const { kept = null } = rebuild || {};
  const force = Boolean(rebuild);
  rebuild = null;
  const r = parseRoute();
  document.body.dataset.route = r.name;
  if (r.name !== 'home') app.notice = null;
  if (!app.profile) {
    // Signed out: the first screen at #/, the forms at #/login and #/signup; any other
    // address leads to the first screen.
    if (r.name === 'login' || r.name === 'signup') show(authView(app, r.name, kept));
    else if (r.name === 'home' && !r.parts[0]) show(welcomeView(app));
    else app.redirect('#/');
    return;
  }
  if (!app.profile.profile_complete && r.name !== 'profile' && r.name !== 'admin') {
    app.go('#/profile');
    return;
  }
  switch (r.name) {
    case 'login':
    case 'signup':
      app.go('#/');
      return;
    case 'profile': {
      const views = await screen('profile');
      if (call !== routeCalls || !views) return;
      show(views.profileView(app, app.profile.profile_complete ? 'edit' : 'wizard', kept));
      return;
    }
    case 'search':
      if (!app.status) await app.refreshStatus();
      if (call !== routeCalls) return;
      if (app.status?.status === 'searching') show(searchingView(app, app.status.search));
      else if (parseRoute().name === 'search') app.redirect('#/');
      return;
    case 'match':
      // An address from before matches opened their room directly.
      app.redirect(r.id ? `#/room/${r.id}` : '#/');
      return;
    case 'room':
      // Back (or a redirect) to the room already on screen keeps it, and its socket.
      if (!r.id) app.redirect('#/');
      else if (force || app.view?.key !== `room:${r.id}`) {
        const views = await screen('room');
        if (call !== routeCalls || !views) return;
        show(views.roomView(app, r.id));
      }
      return;
    case 'ended':
      show(endedView(app, r.id, r.extra));
      return;
    case 'admin': {
      // #/admin, #/admin/reports, #/admin/users, #/admin/users/ID, #/admin/rooms, #/admin/audit
      const views = await screen('admin');
      if (call !== routeCalls || !views) return;
      show(views.adminView(app, r.parts[1] || 'dashboard', r.parts[2] ? Number(r.parts[2]) || null : null));
      return;
    }
    default: {
      if (!app.status) await app.refreshStatus();
      if (call !== routeCalls) return;
      const status = app.status;
      if (status?.status === 'connected') app.redirect(`#/room/${status.current_room_id}`);
      else if (status?.status === 'searching') app.redirect('#/search');
      else show(homeView(app, app.notice));
    }
  }
}

function renderTopbar() {
  const bar = document.getElementById('topbar-actions');
  const theme = currentTheme();
  const langButton = h('button', { type: 'button', class: 'btn btn-small btn-ghost', id: 'lang-toggle', lang: getLang() === 'vi' ? 'en' : 'vi', 'aria-label': t('lang.switchLabel'), text: getLang() === 'vi' ? 'EN' : 'VI' });
  langButton.addEventListener('click', () => setLang(getLang() === 'vi' ? 'en' : 'vi'));
  const themeButton = h('button', { type: 'button', class: 'btn btn-small btn-ghost icon-btn', id: 'theme-toggle', 'aria-label': theme === 'dark' ? t('theme.light') : t('theme.dark'), 'aria-pressed': String(theme === 'dark'), text: theme === 'dark' ? '☀' : '☾' });
  themeButton.addEventListener('click', () => {
    toggleTheme();
    renderTopbar();
    document.getElementById('theme-toggle').focus();
  });
  const items = [langButton, themeButton];
  if (app.profile && !app.halted) {
    // Only administrators see the way to the console (the server checks every call).
    // On a narrow phone the link is its icon (the text stays for screen readers).
    if (app.profile.role === 'admin') {
      items.push(h('a', { href: '#/admin', class: 'btn btn-small btn-ghost', id: 'nav-admin' },
        h('span', { class: 'nav-icon', 'aria-hidden': 'true', text: '🛡' }),
        h('span', { class: 'nav-text', text: t('nav.admin') })));
    }
    items.push(h('a', { href: '#/profile', class: 'btn btn-small btn-ghost', id: 'nav-profile', text: t('nav.profile') }));
    const out = h('button', { type: 'button', class: 'btn btn-small btn-ghost', id: 'nav-logout', text: t('nav.logout') });
    out.addEventListener('click', async () => {
      out.disabled = true;
      stopAll();
      await logout();
      app.profile = null;
      app.status = null;
      hideAllBanners();
      renderTopbar();
      app.go('#/login');
    });
    items.push(out);
  }
  bar.replaceChildren(...items);
  bar.setAttribute('aria-label', t('nav.label'));
  document.querySelector('.skip-link').textContent = t('app.skip');
}

async function loadMeta(path) {
  for (let attempt = 0; ; attempt += 1) {
    try {
      return await api('GET', path, undefined, { auth: false });
    } catch (error) {
      showBanner('offline', 'warn', errorText(error));
      await new Promise((resolve) => setTimeout(resolve, Math.min(10_000, 1000 * 2 ** attempt)));
    }
  }
}

async function boot() {
  applyTheme(currentTheme());
  setHooks({
    sessionEnded: () => app.profile && app.sessionEnded(),
    banned: (ban) => app.banned(ban),
    rateLimited: (seconds) => showBanner('rate', 'warn', t('banner.rateLimited', { seconds }), seconds),
  });
  renderTopbar();
  [app.vocab, app.limits] = await Promise.all([loadMeta('/meta/vocabulary'), loadMeta('/meta/limits')]);
  hideBanner('offline');
  window.addEventListener('hashchange', route);
  if (hasSession()) {
    try {
      await app.signedIn(await api('GET', '/user/profile'));
    } catch (error) {
      if (app.halted) return;
      if (error.code === 'network' || error.status >= 500) showBanner('offline', 'error', errorText(error));
      route();
    }
  } else route();
  onLangChange(() => {
    renderTopbar();
    app.rerender();
  });
  matchMedia('(prefers-color-scheme: dark)').addEventListener('change', () => {
    applyTheme(currentTheme());
    renderTopbar();
  });
}

// The skip link must not touch the hash, which holds the route.
document.querySelector('.skip-link').addEventListener('click', (event) => {
  event.preventDefault();
  main.focus();
});
document.getElementById('boot')?.remove();
boot();

// The service worker keeps the client's files and shows the offline page (sw.js);
// registered once the page has loaded, so that fetching the shell never competes with
// the first screen. Browsers allow one only on HTTPS and on localhost (docs/web.md,
// Installing on a phone).
if ('serviceWorker' in navigator && window.isSecureContext) {
  const register = () => navigator.serviceWorker.register('/sw.js').catch(() => {
    // No worker: the page works as before, only without the offline page.
  });
  if (document.readyState === 'complete') register();
  else window.addEventListener('load', register, { once: true });
}
