// The page's side of the service worker (www/sw.js): registers it once the app has settled, shows
// "a new version is ready" when a new build's worker waits, and falls back from COEP
// `credentialless` to `require-corp` in a browser that does not know the former. Without service
// workers (an insecure origin, a browser that has them off) the app runs as before, online only.
'use strict';

(() => {
  if (!('serviceWorker' in navigator)) return;
  const sw = navigator.serviceWorker;
  // A page that has a controller from its start came through the worker, with its headers.
  const throughWorker = sw.controller !== null;
  // Whether this page asked the new worker to take over (then it reloads into the new build).
  let updating = false;

  // Registered once the app has shown its first result (or model), because installing downloads
  // the whole build (~7 MB) a second time, which slowed the first visit's first result when it
  // began on `load`. A page that never settles (its model fails) registers after 10 s.
  let registering = false;
  addEventListener('se-lens-settled', register, { once: true });
  addEventListener('load', () => setTimeout(register, 10_000), { once: true });

  async function register() {
    if (registering) return;
    registering = true;
    let registration;
    try {
      registration = await sw.register('./sw.js', { scope: './' });
    } catch (error) {
      console.warn(`SE Lens will not work offline: the service worker did not register (${error})`);
      return;
    }
    // An update found before this page looked, or while it runs.
    if (registration.waiting && sw.controller) offer(registration.waiting);
    watch(registration.installing);
    registration.addEventListener('updatefound', () => watch(registration.installing));
    if (throughWorker && !self.crossOriginIsolated) sw.controller?.postMessage({ type: 'status' });
  }

  function watch(worker) {
    worker?.addEventListener('statechange', () => {
      // `installed` with a controller: a new build waits behind the one that serves this page.
      if (worker.state === 'installed' && sw.controller) offer(worker);
    });
  }

  // The worker serving this page, to tell a first take-over (the first visit's page claimed by
  // the worker just installed) from a new build taking over.
  let controller = sw.controller;
  sw.addEventListener('controllerchange', () => {
    const first = controller === null;
    controller = sw.controller;
    if (updating) location.reload();
    else if (!first) notice('SE Lens was updated in another tab.', () => location.reload());
  });

  sw.addEventListener('message', (event) => {
    // Served by the worker, with its headers, and still not isolated: this browser ignored COEP
    // `credentialless`. Pages from the next visit on get `require-corp`.
    if (event.data?.type === 'status' && event.data.coep === 'credentialless' && throughWorker && !self.crossOriginIsolated) {
      sw.controller?.postMessage({ type: 'coep', value: 'require-corp' });
    }
  });

  function offer(worker) {
    notice('A new version of SE Lens is ready.', () => {
      updating = true;
      worker.postMessage({ type: 'take-over' });
    });
  }

  /** A bar at the top of the page with `text` and a Reload button that calls `reload`. */
  function notice(text, reload) {
    if (document.getElementById('se-lens-update')) return;
    const bar = document.createElement('div');
    bar.id = 'se-lens-update';
    bar.className = 'update';
    bar.setAttribute('role', 'status');
    bar.dataset.testid = 'update-notice';
    const button = document.createElement('button');
    button.textContent = 'Reload';
    button.dataset.testid = 'update-reload';
    button.addEventListener('click', () => {
      button.disabled = true;
      reload();
    });
    bar.append(`${text} Reload to use it. `, button);
    document.body.prepend(bar);
  }
})();
