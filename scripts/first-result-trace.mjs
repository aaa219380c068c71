// Where the app's first result spends its time: cold loads of DIST's app with the default model
// and a sample (as `make bench` times them), printing when the app's wasm started and every message
// between the page and the engine worker (ms since navigation), then the same engine steps through
// the JavaScript API on a page that does nothing else (`create`, `load`, the first `classify`).
//
//   node scripts/first-result-trace.mjs DIST [LOADS]      (default 2; single-thread build, CPU)
import { chromium } from 'playwright-core';
import { serve } from './serve.mjs';
import { timeFirstResult } from '../tests/e2e/harness.mjs';

const [dist, loads = 2] = process.argv.slice(2);
if (!dist) throw new Error('usage: first-result-trace.mjs DIST [LOADS]');
const PORT = 8721;
const server = await serve(dist, PORT, '/');
const browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: ['--no-sandbox', '--disable-quic', '--no-first-run'] });

/** Logs the page's messages to and from its workers, and the status line's changes. */
function traceMessages() {
  window.trace = [];
  const log = (what) => window.trace.push(`${performance.now().toFixed(0).padStart(5)} ms  ${what}`);
  addEventListener('se-lens-started', () => log('the app started'));
  const post = Worker.prototype.postMessage;
  Worker.prototype.postMessage = function (message, transfer) {
    if (message?.type) log(`→ ${message.type} ${message.id ?? ''} ${message.job ? String(message.job).slice(0, 40) : ''}`);
    return post.call(this, message, transfer);
  };
  const onmessage = Object.getOwnPropertyDescriptor(Worker.prototype, 'onmessage');
  Object.defineProperty(Worker.prototype, 'onmessage', {
    get() { return onmessage.get.call(this); },
    set(handler) {
      onmessage.set.call(this, (event) => {
        const { id, progress, error } = event.data ?? {};
        if (id !== undefined && !progress) log(`← reply ${id}${error ? ' (error)' : ''}`);
        return handler(event);
      });
    },
  });
  new MutationObserver(() => {
    const status = document.querySelector('[data-testid="status"]')?.textContent;
    if (status && status !== window.lastStatus) log(`status: ${(window.lastStatus = status).slice(0, 70)}`);
  }).observe(document, { subtree: true, childList: true, characterData: true });
}

try {
  for (let load = 1; load <= Number(loads); load++) {
    const context = await browser.newContext();
    const tab = await context.newPage();
    await timeFirstResult(tab);
    await tab.addInitScript(traceMessages);
    await tab.goto(`http://127.0.0.1:${PORT}/?sample=fmnist-ankle-boot-0.png&backend=cpu`);
    await tab.waitForFunction(() => window.firstResultMs, null, { timeout: 120_000 });
    console.log(`load ${load}: first result at ${(await tab.evaluate(() => window.firstResultMs)).toFixed(0)} ms`);
    console.log((await tab.evaluate(() => window.trace)).join('\n'));
    await context.close();
  }
  const context = await browser.newContext();
  const tab = await context.newPage();
  await tab.goto(`http://127.0.0.1:${PORT}/embed/`);
  await tab.waitForFunction(() => document.getElementById('label').textContent !== '…', null, { timeout: 60_000 });
  const api = await tab.evaluate(async () => {
    const { SeLens } = await import(new URL('../selens.js', document.baseURI).href);
    const t0 = performance.now();
    const lens = await SeLens.create({ backend: 'cpu' });
    const t1 = performance.now();
    await lens.load('../assets/models/seresnet10-fmnist');
    const t2 = performance.now();
    const { timings_ms: timings } = await lens.classify('../assets/samples/fmnist-ankle-boot-0.png');
    const t3 = performance.now();
    lens.close();
    return { create: t1 - t0, load: t2 - t1, classify: t3 - t2, forward: timings.forward };
  });
  console.log(`API: create ${api.create.toFixed(0)} ms, load ${api.load.toFixed(0)} ms, first classify ${api.classify.toFixed(0)} ms (forward ${api.forward.toFixed(1)} ms)`);
} finally {
  await browser.close();
  server.close();
}
