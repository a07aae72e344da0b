/* Service worker for the field pages (scope /field/), served by the route /field/sw.js.
 *
 * - Field pages (HTML): network first, the last good copy from the cache when offline.
 * - Static assets: cache first, in a cache named after the assets' version.
 * - The day's route JSON (/api/v1/field/route): network first, cached copy offline.
 * - Never cached: POSTs, the CSRF token, this script.
 * A page that redirects (the session ended: the login page) empties the page caches, so a
 * signed-out tablet does not keep showing contact names from the cache.
 * The server fills in CONFIG (version, URLs, texts).
 */
"use strict";

const CONFIG = /*__CONFIG__*/{};
const PREFIX = "jb-field-";
const STATIC = PREFIX + "static-" + CONFIG.version;
const PAGES = PREFIX + "pages-" + CONFIG.version;
const DATA = PREFIX + "data-" + CONFIG.version;
const KEEP = [STATIC, PAGES, DATA];

self.addEventListener("install", (event) => {
  event.waitUntil(
    caches
      .open(STATIC)
      .then((cache) =>
        Promise.all(CONFIG.assets.map((url) => cache.add(url).catch(() => undefined)))
      )
      .then(() => self.skipWaiting())
  );
});

self.addEventListener("activate", (event) => {
  event.waitUntil(
    caches
      .keys()
      .then((names) =>
        Promise.all(
          names
            .filter((name) => name.startsWith(PREFIX) && !KEEP.includes(name))
            .map((name) => caches.delete(name))
        )
      )
      .then(() => self.clients.claim())
  );
});

function offlineResponse() {
  const html =
    '<!doctype html><meta charset="utf-8"><meta name="viewport" content="width=device-width">' +
    "<title>Offline</title><p style=\"font:18px sans-serif;padding:1rem\">" +
    CONFIG.offlineText +
    "</p>";
  return new Response(html, {
    status: 503,
    headers: { "Content-Type": "text/html; charset=utf-8", "Cache-Control": "no-store" },
  });
}

async function purgePersonal() {
  await Promise.all([caches.delete(PAGES), caches.delete(DATA)]);
}

async function fromCache(cacheName, url) {
  const cache = await caches.open(cacheName);
  return (
    (await cache.match(url, { ignoreVary: true })) ||
    (await cache.match(url, { ignoreVary: true, ignoreSearch: true }))
  );
}

async function networkFirst(request, cacheName) {
  const url = request.url;
  try {
    const response = await fetch(request);
    if (response.type === "opaqueredirect" || response.redirected || response.status === 401) {
      // The session has ended (redirect to the login page): forget the personal pages.
      await purgePersonal();
      return response;
    }
    if (response.ok && response.type === "basic") {
      const cache = await caches.open(cacheName);
      await cache.put(url, response.clone());
    }
    return response;
  } catch (err) {
    const hit = await fromCache(cacheName, url);
    if (hit) {
      return hit;
    }
    if (request.mode === "navigate") {
      return offlineResponse();
    }
    return new Response(JSON.stringify({ error: { code: "offline", message: "offline" } }), {
      status: 503,
      headers: { "Content-Type": "application/json" },
    });
  }
}

async function cacheFirst(request) {
  const cache = await caches.open(STATIC);
  const hit = await cache.match(request, { ignoreVary: true, ignoreSearch: false });
  if (hit) {
    return hit;
  }
  const response = await fetch(request);
  if (response.ok && response.type === "basic") {
    await cache.put(request, response.clone());
  }
  return response;
}

self.addEventListener("fetch", (event) => {
  const request = event.request;
  if (request.method !== "GET") {
    return;
  }
  const url = new URL(request.url);
  if (url.origin !== self.location.origin || CONFIG.noCache.includes(url.pathname)) {
    return;
  }
  if (url.pathname.startsWith(CONFIG.staticPrefix)) {
    event.respondWith(cacheFirst(request));
  } else if (url.pathname === CONFIG.routeApi) {
    event.respondWith(networkFirst(request, DATA));
  } else if (url.pathname.startsWith(CONFIG.scope)) {
    event.respondWith(networkFirst(request, PAGES));
  }
});
