// SE Lens's service worker. scripts/service-worker.mjs writes dist/sw.js as this file after
// generated lines: `BUILD` (a hash of every file of the build), `FILES` (those files, relative to
// this script), `RELAXED_FILES` and `SIMD128_FILES` (the wasm builds with and without relaxed SIMD)
// and `RELAXED_SIMD` (whether this browser runs relaxed SIMD, by www/selens.js's probe).
// www/offline.js registers it from the page, with the page's folder as its scope.
//
// It does three things:
// - Offline: on install it stores every file of the build in the cache `se-lens-app-<BUILD>` and
//   answers from there first, so a later visit needs no network. Of the wasm builds it stores
//   those this browser loads: with relaxed SIMD where it has it, else the SIMD128 ones. (Hub models are cached by the app
//   itself, in `se-lens-models`, which this worker leaves alone: they stay offline across builds.)
// - Threads on any host: a page is cross-origin isolated (SharedArrayBuffer, so the wasm build with
//   threads) only if its response carries COOP and COEP headers. Where the host sent none, this
//   worker adds them to the page's response (and to the engine worker's script, which needs them
//   as well): COEP `credentialless` first; a browser that does not
//   know it stays unisolated, and the page then asks for `require-corp` (www/offline.js). Requests
//   that leave the origin (hub downloads) are CORS requests, which both policies allow.
// - Clean updates: a new build's worker installs its own cache beside the old one and waits. The
//   page shows "new version" and, when the user asks, tells it to take over and reloads, so a page
//   is served by one build from its start to its end. Old builds' caches go when it takes over.
/* global BUILD, FILES, RELAXED_FILES, SIMD128_FILES, RELAXED_SIMD */
'use strict';

const APP_CACHE = `se-lens-app-${BUILD}`;
const SETTINGS_CACHE = 'se-lens-settings';
const COEP_KEY = 'coep';
const SCOPE = new URL('./', self.location).href;

self.addEventListener('install', (event) => {
  // `reload`: past the browser's HTTP cache, so that what is stored is this build's bytes.
  event.waitUntil(caches.open(APP_CACHE)
    .then((cache) => {
      const unused = new Set(RELAXED_SIMD ? SIMD128_FILES : RELAXED_FILES);
      const used = FILES.filter((file) => !unused.has(file));
      return cache.addAll(used.map((file) => new Request(file, { cache: 'reload' })));
    }));
});

self.addEventListener('activate', (event) => {
  event.waitUntil((async () => {
    for (const name of await caches.keys()) {
      if (name.startsWith('se-lens-app-') && name !== APP_CACHE) await caches.delete(name);
    }
    // The first visit's page comes under this worker at once, so what it fetches from now on
    // (samples, a hub model) is cached for the next, offline, visit.
    await self.clients.claim();
  })());
});

self.addEventListener('message', (event) => {
  const { type, value } = event.data ?? {};
  if (type === 'take-over') {
    self.skipWaiting();
  } else if (type === 'status') {
    event.waitUntil(coep().then((mode) => event.source.postMessage({ type: 'status', build: BUILD, coep: mode })));
  } else if (type === 'coep' && (value === 'credentialless' || value === 'require-corp')) {
    event.waitUntil(caches.open(SETTINGS_CACHE).then((cache) => cache.put(COEP_KEY, new Response(value))));
  }
});

self.addEventListener('fetch', (event) => {
  const { request } = event;
  if (request.method !== 'GET' || !request.url.startsWith(SCOPE)) return; // the network's, untouched
  const path = new URL(request.url).pathname.slice(new URL(SCOPE).pathname.length);
  if (request.mode === 'navigate') {
    // SE Lens's page only: another page that shares the folder (or, at a domain root, the
    // origin) keeps the network's response and its headers.
    if (path === '' || path === 'index.html') event.respondWith(page(request));
  } else if (request.destination === 'worker') {
    // The engine worker (www/engine-worker.js): a worker of an isolated page needs the headers too.
    event.respondWith(file(request, path).then(isolated));
  } else {
    event.respondWith(file(request, path));
  }
});

/** The build's copy of `path`, else the network's response to `request`. */
async function file(request, path) {
  const cache = await caches.open(APP_CACHE);
  return (await cache.match(new URL(path, SCOPE).href, { ignoreSearch: true })) ?? fetch(request);
}

/** The build's page, with the headers that isolate it. */
async function page(request) {
  return isolated(await file(request, 'index.html'));
}

/** `response` with COOP and COEP headers, unless the host already sent its own. */
async function isolated(response) {
  const headers = new Headers(response.headers);
  if (headers.has('cross-origin-opener-policy') || headers.has('cross-origin-embedder-policy') || response.type === 'opaqueredirect') {
    return response;
  }
  headers.set('cross-origin-opener-policy', 'same-origin');
  headers.set('cross-origin-embedder-policy', await coep());
  return new Response(response.body, { status: response.status, statusText: response.statusText, headers });
}

/** The COEP value pages get: `credentialless` unless a page found it unsupported. */
async function coep() {
  const stored = await (await caches.open(SETTINGS_CACHE)).match(COEP_KEY);
  return stored ? stored.text() : 'credentialless';
}
