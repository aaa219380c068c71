// Crash recovery. A Rust panic aborts the wasm instance, and with it the whole app; this script
// lives outside it. The app's panic hook calls `seLensCrashed(message)`: the page shows the
// message and a button that starts the app again in a fresh wasm instance, without a reload.
// Nothing the user opened is lost: the URL keeps the model and sample, and the app keeps a chosen
// image file and dropped model files in `seLensKept`, outside wasm memory.
'use strict';
window.seLensKept = window.seLensKept || {};

window.seLensCrashed = (message) => {
  if (document.getElementById('se-lens-crash')) return;
  const box = document.createElement('div');
  box.id = 'se-lens-crash';
  box.className = 'crash';
  box.setAttribute('role', 'alert');
  box.dataset.testid = 'crash';
  const title = document.createElement('strong');
  title.textContent = 'SE Lens hit an internal error and stopped. ';
  const detail = document.createElement('code');
  detail.textContent = message;
  const restart = document.createElement('button');
  restart.textContent = 'Restart SE Lens (keeps your image and model)';
  restart.dataset.testid = 'restart';
  restart.addEventListener('click', seLensRestart);
  box.append(title, detail, document.createElement('br'), restart);
  document.body.prepend(box);
};

// A trap that was not a panic (an out-of-bounds access, or `memory.atomic.wait32` on the page's
// thread) kills the instance just the same, without the panic hook: say so too, instead of leaving
// a page that waits for ever.
function isTrap(error) {
  return error instanceof WebAssembly.RuntimeError || /Atomics\.wait/.test(String(error?.message));
}
addEventListener('error', (event) => { if (isTrap(event.error)) seLensCrashed(String(event.error)); });
addEventListener('unhandledrejection', (event) => { if (isTrap(event.reason)) seLensCrashed(String(event.reason)); });

// Loads the app again in a fresh wasm instance (the page's loader, written by scripts/page.mjs,
// defines `seLensBoot`), after clearing what the dead instance had drawn and stopping its engine
// worker (the new instance starts its own).
async function seLensRestart() {
  if (!window.seLensBoot) return location.reload();
  window.seLensKept.engine?.close();
  delete window.seLensKept.engine;
  document.body.replaceChildren();
  await window.seLensBoot(true);
}
