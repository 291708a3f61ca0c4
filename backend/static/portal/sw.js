// The portal's service worker: pages always come from the network (balances must be
// current); the static shell is cached so the app opens offline with a clear message.
const CACHE = "vafa-portal-v2";
const SHELL = ["/static/portal/portal.css", "/static/portal/icon.svg",
               "/static/vendor/vazirmatn/vazirmatn.css",
               "/static/vendor/vazirmatn/Vazirmatn-Regular.woff2",
               "/static/vendor/vazirmatn/Vazirmatn-Bold.woff2"];

self.addEventListener("install", (event) => {
  event.waitUntil(caches.open(CACHE).then((cache) => cache.addAll(SHELL)));
});

self.addEventListener("activate", (event) => {
  event.waitUntil(caches.keys().then((keys) =>
    Promise.all(keys.filter((key) => key !== CACHE).map((key) => caches.delete(key)))));
});

self.addEventListener("fetch", (event) => {
  const url = new URL(event.request.url);
  if (event.request.method !== "GET" || url.origin !== self.location.origin) return;
  if (SHELL.includes(url.pathname)) {
    event.respondWith(caches.match(event.request).then((hit) => hit || fetch(event.request)));
    return;
  }
  event.respondWith(fetch(event.request).catch(() =>
    new Response("<!doctype html><meta charset=utf-8><p dir=rtl>اتصال اینترنت برقرار نیست. / You are offline.</p>",
                 { headers: { "Content-Type": "text/html; charset=utf-8" } })));
});
