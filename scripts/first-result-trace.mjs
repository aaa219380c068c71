// Where the app's first result spends its time: cold loads of DIST's app with the default model
// and a sample (as `make bench` times them), printing when the app's wasm started and every message
// between the page and the engine worker (ms since navigation); then one more cold load under
// Chromium's tracing, printing each request's start, first byte and end, and each busy thread's
// time up to the first result by what it did (V8's wasm compilation tiers among it); last, the same
// engine steps through the JavaScript API on a page that does nothing else (`create`, `load`, the
// first `classify`).
//
//   node scripts/first-result-trace.mjs DIST [LOADS]      (default 2; single-thread build, CPU)
import { readFileSync, rmSync } from 'node:fs';
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
    console.log(`load ${load}: first result at ${(await firstResult(tab)).toFixed(0)} ms`);
    console.log((await tab.evaluate(() => window.trace)).join('\n'));
    await context.close();
  }
  await chromiumTrace();
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

/** Opens the app with the default model and a sample on the CPU in `tab` (a new context's, with
 * `timeFirstResult`); resolves to the first result's time since navigation (ms). */
async function firstResult(tab) {
  await tab.goto(`http://127.0.0.1:${PORT}/?sample=fmnist-ankle-boot-0.png&backend=cpu`);
  await tab.waitForFunction(() => window.firstResultMs, null, { timeout: 120_000 });
  return tab.evaluate(() => window.firstResultMs);
}

/** One cold load under Chromium's tracing: the requests, and the threads' busy time by task. */
async function chromiumTrace() {
  const context = await browser.newContext();
  const tab = await context.newPage();
  await timeFirstResult(tab);
  const path = 'target/first-result-trace.json';
  await browser.startTracing(tab, { path, categories: ['devtools.timeline', 'blink.user_timing', 'v8', 'v8.wasm', 'toplevel', 'loading'] });
  const first = await firstResult(tab);
  await browser.stopTracing();
  await context.close();
  const events = JSON.parse(readFileSync(path, 'utf8')).traceEvents;
  rmSync(path);
  // The trace's clock starts anywhere: the page's time 0 is its navigationStart; the trace also
  // holds Chromium's own pages and processes, which are left out.
  const origin = `http://127.0.0.1:${PORT}/`;
  const navigation = events.find((e) => e.name === 'navigationStart' && e.args?.data?.documentLoaderURL?.startsWith(origin));
  const t0 = navigation.ts;
  const ms = (ts) => ((ts - t0) / 1000).toFixed(0).padStart(5);
  console.log(`traced load: first result at ${first.toFixed(0)} ms\n  sent  first byte  done  (ms)`);
  const requests = new Map();
  for (const { name, ts, args } of events) {
    const { requestId, url } = args?.data ?? {};
    if (!requestId) continue;
    const request = requests.get(requestId) ?? requests.set(requestId, {}).get(requestId);
    if (name === 'ResourceSendRequest') Object.assign(request, { url, sent: ts });
    if (name === 'ResourceReceiveResponse') request.response = ts;
    if (name === 'ResourceFinish') request.done = ts;
  }
  const ours = [...requests.values()].filter((r) => r.sent && r.done && r.url.startsWith(origin));
  for (const { url, sent, response, done } of ours.sort((a, b) => a.sent - b.sent)) {
    console.log(`${ms(sent)} ${ms(response ?? done)} ${ms(done)}  ${new URL(url).pathname}`);
  }
  // Per thread of the page's process, top-level tasks clipped to [navigation, first result], and
  // inside them the time of the named V8 and Blink steps (a step nested in itself counted once).
  const threads = new Map();
  for (const e of events) {
    if (e.ph === 'M' && e.name === 'thread_name' && e.pid === navigation.pid) threads.set(`${e.pid}:${e.tid}`, { name: e.args.name, tasks: [] });
  }
  for (const e of events) if (e.ph === 'X' && e.dur) threads.get(`${e.pid}:${e.tid}`)?.tasks.push(e);
  const end = t0 + first * 1000;
  const STEPS = ['wasm.CompileLazy', 'wasm.TopTierCompilation', 'wasm.ValidateFunctionsStreaming', 'v8.compile', 'V8.CompileCode',
    'v8.callFunction', 'HandlePostMessage', 'Layout', 'UpdateLayoutTree', 'Paint', 'ParseHTML', 'MajorGC', 'MinorGC'];
  const busy = [];
  for (const { name, tasks } of threads.values()) {
    tasks.sort((a, b) => a.ts - b.ts);
    let taskEnd = -Infinity, total = 0;
    const steps = new Map();
    const stepEnd = new Map();
    for (const e of tasks) {
      const clipped = Math.min(e.ts + e.dur, end) - Math.max(e.ts, t0);
      if (clipped <= 0) continue;
      if (e.ts >= taskEnd) { taskEnd = e.ts + e.dur; total += clipped; }
      if (STEPS.includes(e.name) && e.ts >= (stepEnd.get(e.name) ?? -Infinity)) {
        stepEnd.set(e.name, e.ts + e.dur);
        steps.set(e.name, (steps.get(e.name) ?? 0) + clipped);
      }
    }
    if (total >= 10_000) busy.push({ name, total, steps });
  }
  console.log('  busy until the first result (ms), by thread:');
  for (const { name, total, steps } of busy.sort((a, b) => b.total - a.total)) {
    const parts = [...steps].sort((a, b) => b[1] - a[1]).map(([step, us]) => `${step} ${(us / 1000).toFixed(0)}`);
    console.log(`${(total / 1000).toFixed(0).padStart(5)}  ${name}${parts.length ? `: ${parts.join(', ')}` : ''}`);
  }
}
