// The service worker (served at /sw.js, so its scope is the whole site): it keeps the
// client's files (the "shell": modules, style sheet, icon, offline page) so the page
// starts without fetching them again, and shows the offline page when the page itself
// cannot be loaded. It never keeps an API answer: only the
// page and the files under /app/ go through it, everything else goes to the network
// untouched. The server writes the list of files below when it starts; their URLs
// carry a hash of their content, so a new binary means a new list, a new worker and a
// new cache, and the old cache is dropped once the new worker takes over.

const SHELL = [/* the server puts the shell's URLs here */];
const OFFLINE = SHELL.find((url) => /^\/app\/offline\.[0-9a-f]+\.html$/.test(url));
// One cache per list: a new list is a new name.
const CACHE = `duet-shell-${hash(SHELL.join('\n'))}`;

function hash(text) {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i += 1) h = Math.imul(h ^ text.charCodeAt(i), 0x01000193) >>> 0;
  return h.toString(16);
}

self.addEventListener('install', (event) => {
  event.waitUntil(caches.open(CACHE).then((cache) => cache.addAll(SHELL)).then(() => self.skipWaiting()));
});

self.addEventListener('activate', (event) => {
  event.waitUntil(
    caches.keys()
      .then((names) => Promise.all(names.filter((n) => n.startsWith('duet-shell-') && n !== CACHE).map((n) => caches.delete(n))))
      .then(() => self.clients.claim()),
  );
});

self.addEventListener('fetch', (event) => {
  const { request } = event;
  if (request.method !== 'GET') return;
  const url = new URL(request.url);
  if (url.origin !== self.location.origin) return;
  if (request.mode === 'navigate') {
    // The page from the network (a new binary's page at once); without it, the offline
    // page. The page's own address is kept for the offline page's "try again".
    event.respondWith(fetch(request).catch(async () => (await caches.match(OFFLINE)) || Response.error()));
    return;
  }
  if (!url.pathname.startsWith('/app/')) return; // the API, the sockets: never kept
  // A file of the shell: from the cache, else from the network (and kept if its URL
  // is a hashed one, which never changes).
  event.respondWith(
    caches.match(request).then((kept) => kept || fetch(request).then((response) => {
      if (response.ok && /\.[0-9a-f]{10}\.[a-z]+$/.test(url.pathname)) {
        const copy = response.clone();
        event.waitUntil(caches.open(CACHE).then((cache) => cache.put(request, copy)));
      }
      return response;
    })),
  );
});
