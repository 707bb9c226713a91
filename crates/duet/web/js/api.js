// The HTTP client: JSON in and out, the session's tokens, and one refresh at a time.
//
// Tokens: the refresh token lives in localStorage, so a reload (or a new tab) keeps the
// session; the access token lives in sessionStorage, per tab. A 401 `unauthorized`
// leads to one refresh and one retry. Refresh tokens rotate and the server revokes the
// whole family when one is presented twice, so refreshes never overlap: inside a tab
// they share one promise, across tabs they take the Web Lock `duet-refresh` and read
// the newest refresh token once they hold it. That read is from IndexedDB, not
// localStorage: Chromium serves localStorage to each tab from a copy of its own, which
// another tab's write reaches a moment later, so a tab granted the lock right after
// another let it go could still read the token that one had just rotated. IndexedDB
// is one store every tab reads through, and the holder lets go of the lock only once
// its write is committed. localStorage keeps a copy, for hasSession() and for a
// browser without IndexedDB (or a page from before it held the token).

const REFRESH_KEY = 'duet.refresh';
const ACCESS_KEY = 'duet.access';

/** An error answer of the API, or `code: 'network'` when the server was not reached. */
export class ApiError extends Error {
  constructor(status, body, retryAfter) {
    super(body?.detail || `HTTP ${status}`);
    this.status = status;
    this.code = body?.code || (status === 0 ? 'network' : 'unknown');
    this.detail = body?.detail || '';
    this.errors = body?.errors || [];
    this.retryAfter = retryAfter;
  }

  /** The message of the validation error on `field`, if any. */
  fieldError(field) {
    return this.errors.find((e) => e.field === field)?.message;
  }
}

let accessToken = sessionStorage.getItem(ACCESS_KEY);
let refreshing = null;
const hooks = { sessionEnded: () => {}, banned: () => {}, rateLimited: () => {} };

/**
 * `sessionEnded()`, `banned(ban)`, `rateLimited(seconds)`: what the app does on those.
 * A `ban` is `{until, permanent}`: the end of the ban (RFC 3339, or null), and whether
 * it never ends.
 */
export function setHooks(next) {
  Object.assign(hooks, next);
}

export function hasSession() {
  return Boolean(localStorage.getItem(REFRESH_KEY) || accessToken);
}

/**
 * Resolves once the refresh token is committed where the other tabs read it. The copy
 * in localStorage comes after, so it is never newer than IndexedDB's: a page closed
 * half-way leaves the old token in both or the new one where it is read first.
 */
export async function storeTokens(response) {
  accessToken = response.access_token;
  sessionStorage.setItem(ACCESS_KEY, response.access_token);
  await writeShared(response.refresh_token);
  localStorage.setItem(REFRESH_KEY, response.refresh_token);
}

export function forgetTokens() {
  accessToken = null;
  sessionStorage.removeItem(ACCESS_KEY);
  localStorage.removeItem(REFRESH_KEY);
  return writeShared(null);
}

// The object store `tokens` of the database `duet`, its one key `refresh`.
let database = null;

function tokenStore(mode, use) {
  database ??= new Promise((resolve, reject) => {
    const open = indexedDB.open('duet', 1);
    open.onupgradeneeded = () => open.result.createObjectStore('tokens');
    open.onsuccess = () => resolve(open.result);
    open.onerror = () => reject(open.error);
  });
  return database.then(
    (db) =>
      new Promise((resolve, reject) => {
        const tx = db.transaction('tokens', mode);
        const request = use(tx.objectStore('tokens'));
        tx.oncomplete = () => resolve(request.result);
        tx.onerror = () => reject(tx.error);
        tx.onabort = () => reject(tx.error);
      }),
  );
}

/** The newest refresh token of any tab; localStorage's when IndexedDB has none (or fails). */
async function readShared() {
  try {
    const token = await tokenStore('readonly', (store) => store.get('refresh'));
    if (token) return token;
  } catch {
    // No IndexedDB here (or it failed): localStorage is all there is.
  }
  return localStorage.getItem(REFRESH_KEY);
}

async function writeShared(token) {
  try {
    await tokenStore('readwrite', (store) => (token ? store.put(token, 'refresh') : store.delete('refresh')));
  } catch {
    // Not stored (a full disk, say): no older token may stay to be read instead of
    // localStorage's.
    await tokenStore('readwrite', (store) => store.delete('refresh')).catch(() => {});
  }
}

/** The access token to use now, refreshing first if this tab has none. */
export async function getAccessToken() {
  if (!accessToken) await refresh();
  return accessToken;
}

/**
 * Exchanges the refresh token for a new pair. Resolves to true on success; false when
 * the session is over (the hooks have then been told).
 */
export function refresh() {
  if (!refreshing) {
    const run = async () => {
      const token = await readShared();
      if (!token) return false;
      let res;
      try {
        res = await fetch('/auth/refresh', {
          method: 'POST',
          headers: { 'Content-Type': 'application/json' },
          body: JSON.stringify({ refresh_token: token }),
        });
      } catch {
        throw new ApiError(0, null);
      }
      if (res.ok) {
        // Committed before the lock is let go, so the next holder reads this token.
        await storeTokens(await res.json());
        return true;
      }
      const body = await res.json().catch(() => null);
      if (res.status === 403 && body?.code === 'banned') {
        hooks.banned(banOf(body.detail));
        return false;
      }
      if (res.status === 429 || res.status >= 500) throw new ApiError(res.status, body, retryAfterOf(res));
      // Another tab may have rotated the token between our read and the server's
      // answer only if it did not hold the lock; it always does, so this is the end.
      await forgetTokens();
      hooks.sessionEnded();
      return false;
    };
    const locked = navigator.locks ? navigator.locks.request('duet-refresh', run) : run();
    refreshing = locked.finally(() => {
      refreshing = null;
    });
  }
  return refreshing;
}

function retryAfterOf(res) {
  const value = Number(res.headers.get('Retry-After'));
  return Number.isFinite(value) && value > 0 ? value : 1;
}

/**
 * The ban from the `banned` error's detail: "account banned until <time>", or
 * "account banned permanently".
 */
export function banOf(detail) {
  const match = /until (\S+)/.exec(detail || '');
  return { until: match ? match[1] : null, permanent: /permanent/i.test(detail || '') };
}

/**
 * Calls the API. `opts.auth` (default true) sends the access token; `opts.form` sends a
 * FormData instead of JSON; `opts.headers` adds headers. Resolves to the parsed body (null for 204), throws ApiError.
 */
export async function api(method, path, body, opts = {}) {
  const auth = opts.auth !== false;
  const send = async () => {
    const headers = { ...(opts.headers || {}) };
    if (auth && accessToken) headers.Authorization = `Bearer ${accessToken}`;
    let payload;
    if (opts.form) payload = opts.form;
    else if (body !== undefined) {
      headers['Content-Type'] = 'application/json';
      payload = JSON.stringify(body);
    }
    try {
      return await fetch(path, { method, headers, body: payload });
    } catch {
      throw new ApiError(0, null);
    }
  };
  if (auth && !accessToken) await refresh();
  let res = await send();
  if (auth && res.status === 401) {
    const body401 = await res.clone().json().catch(() => null);
    if (body401?.code === 'unauthorized' && (await refresh())) res = await send();
  }
  if (res.status === 204) return null;
  const data = await res.json().catch(() => null);
  if (res.ok) return data;
  const error = new ApiError(res.status, data, retryAfterOf(res));
  if (error.code === 'banned') hooks.banned(banOf(error.detail));
  else if (error.code === 'rate_limited') hooks.rateLimited(error.retryAfter);
  else if (auth && res.status === 401) {
    forgetTokens();
    hooks.sessionEnded();
  }
  throw error;
}

/**
 * Loads an avatar (which needs the bearer header, so an <img src> cannot) and returns
 * a blob: URL for it, or null when there is none to see. The caller revokes it.
 */
export async function avatarBlobUrl(url) {
  if (!url) return null;
  const load = () => fetch(url, { headers: { Authorization: `Bearer ${accessToken}` } });
  try {
    if (!accessToken) await refresh();
    let res = await load();
    if (res.status === 401 && (await refresh())) res = await load();
    if (!res.ok) return null;
    return URL.createObjectURL(await res.blob());
  } catch {
    return null;
  }
}

/** Signs out on the server (this login only) and forgets the tokens. */
export async function logout() {
  const token = await readShared();
  try {
    await api('POST', '/auth/logout', token ? { refresh_token: token } : undefined);
  } catch {
    // Signing out locally is what matters to the user; the server side expires anyway.
  }
  forgetTokens();
}
