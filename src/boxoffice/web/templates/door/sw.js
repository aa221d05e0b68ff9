// Boxoffice door scanner's service worker: keeps the page and its files so that the page opens without a network.
// The API is never cached here: the page keeps its own offline copy (IndexedDB) and decides from it.
"use strict";
const CACHE = "boxoffice-door-{{ version }}";
const SHELL = {{ shell | tojson }};

self.addEventListener("install", (event) => {
  event.waitUntil(caches.open(CACHE).then((cache) => cache.addAll(SHELL)).then(() => self.skipWaiting()));
});

self.addEventListener("activate", (event) => {
  event.waitUntil(
    caches.keys()
      .then((keys) => Promise.all(keys.filter((k) => k.startsWith("boxoffice-door-") && k !== CACHE)
        .map((k) => caches.delete(k))))
      .then(() => self.clients.claim())
  );
});

self.addEventListener("fetch", (event) => {
  const request = event.request;
  const url = new URL(request.url);
  if (request.method !== "GET" || url.origin !== self.location.origin || url.pathname.startsWith("/api/")) {
    return;
  }
  if (request.mode === "navigate" && url.pathname.startsWith("/door")) {
    // the newest page when the network answers, the kept one when it does not
    event.respondWith(
      fetch(request)
        .then((response) => {
          if (response.ok) {
            const kept = response.clone();
            caches.open(CACHE).then((cache) => cache.put("/door/", kept));
          }
          return response;
        })
        .catch(() => caches.match("/door/"))
    );
    return;
  }
  if (SHELL.includes(url.pathname + url.search)) {
    event.respondWith(caches.match(request).then((kept) => kept || fetch(request)));
  }
});
