// What the e2e suites (app.test.mjs, offline.test.mjs) and the stress command (stress.mjs) share:
// Chromium launched as they need it, a page's state in words, so that a wait that expires says what
// the page was doing instead of only that it timed out, and a run's exported numbers.
import { chromium } from 'playwright-core';

const ARGS = [
  '--no-sandbox', '--disable-quic', '--no-first-run', '--disable-background-networking',
  '--disable-component-update', '--disable-sync', '--enable-unsafe-webgpu',
];

/** Debian's Chromium, headless, quiet on the network; WebGPU on (SwiftShader here). Each of its
 * contexts is a fresh profile, like an incognito window. */
export function launch(extraArgs = []) {
  return chromium.launch({ executablePath: '/usr/bin/chromium', args: [...ARGS, ...extraArgs] });
}

/** The same Chromium with a profile kept in `dir`, as a user's browser has: one context, which
 * Chromium may install web apps from. */
export function launchProfile(dir, options = {}) {
  return chromium.launchPersistentContext(dir, { executablePath: '/usr/bin/chromium', args: ARGS, ...options });
}

const CONSOLE_LINES = 15;
const consoles = new WeakMap();

/** Keeps `page`'s last console lines and page errors for {@link describe}. */
export function recordConsole(page) {
  const lines = [];
  consoles.set(page, lines);
  const keep = (line) => {
    lines.push(`${new Date().toISOString().slice(11, 23)} ${line}`);
    if (lines.length > CONSOLE_LINES) lines.shift();
  };
  page.on('console', (message) => keep(`[${message.type()}] ${message.text()}`));
  page.on('pageerror', (error) => keep(`[pageerror] ${error.message}`));
  page.on('crash', () => keep('[crash] the page crashed'));
  page.on('requestfailed', (request) => keep(`[requestfailed] ${request.url()}: ${request.failure()?.errorText}`));
}

/** What `page` shows and does now: status, runs, timing, error, threads, last console lines. */
export async function describe(page) {
  let state;
  try {
    state = await page.evaluate(() => {
      const text = (id) => document.querySelector(`[data-testid="${id}"]`)?.textContent?.trim() ?? null;
      let threads = null;
      try { threads = window.wasmBindings?.cpuThreads?.() ?? null; } catch (e) { threads = `error: ${e}`; }
      return {
        url: location.href,
        crossOriginIsolated: self.crossOriginIsolated,
        appStarted: Boolean(window.wasmBindings),
        cpuThreads: threads,
        status: text('status'),
        dataRun: document.querySelector('[data-testid="status"]')?.dataset.run ?? null,
        timing: text('timing'),
        backend: text('backend-badge'),
        fallback: text('fallback-reason'),
        error: text('error'),
        stalled: text('stalled'),
        crash: text('crash'),
      };
    }, null, { timeout: 5_000 });
  } catch (e) {
    // A page whose thread never comes back cannot answer: that too is worth knowing.
    state = { unresponsive: `the page did not answer within 5 s (${e.message.split('\n')[0]})` };
  }
  const lines = consoles.get(page) ?? [];
  return [
    ...Object.entries(state).filter(([, v]) => v !== null && v !== '').map(([k, v]) => `  ${k}: ${v}`),
    `  last console lines (${lines.length}):`,
    ...lines.map((line) => `    ${line}`),
  ].join('\n');
}

/** From `page`'s next navigation, records in `window.firstResultMs` when its first
 * classification completed (milliseconds from navigation start). */
export function timeFirstResult(page) {
  return page.addInitScript(() => {
    new MutationObserver(() => {
      if (!window.firstResultMs && document.querySelector('[data-testid="status"][data-run="1"]')) {
        window.firstResultMs = performance.now();
      }
    }).observe(document, { subtree: true, childList: true, attributes: true });
  });
}

/** Waits until `page` has completed its `run`-th classification; if it does not within
 * `timeout`, the error says what the page was doing. */
export async function classified(page, run = 1, timeout = 60_000) {
  await explained(page, `classification ${run}`,
    page.locator(`[data-testid="status"][data-run="${run}"]`).waitFor({ timeout }));
}

/** `wait`, whose failure carries `page`'s state. */
export async function explained(page, what, wait) {
  try {
    return await wait;
  } catch (error) {
    error.message = `${what}: ${error.message.split('\n')[0]}\nthe page:\n${await describe(page)}`;
    throw error;
  }
}

/** The exported excitations.json of `page`'s current run. */
export async function exported(page) {
  const href = await page.getByTestId('excitation-json').getAttribute('href');
  return page.evaluate(async (url) => (await fetch(url)).json(), href);
}

/** The largest difference between two runs' exported gates (`a`, `b`: {@link exported}), after
 * checking that they tap the same blocks. */
export function gateDifference(a, b) {
  let largest = 0;
  for (const [i, tap] of a.excitations.entries()) {
    if (tap.block !== b.excitations[i]?.block) throw new Error(`block ${i}: ${tap.block} vs ${b.excitations[i]?.block}`);
    for (const [c, value] of tap.values.entries()) largest = Math.max(largest, Math.abs(value - b.excitations[i].values[c]));
  }
  return largest;
}

/** Classifies `sample` again until the page's timing line says the CPU path ran on `threads`
 * threads (the engine worker's threads join as they start); returns the last run's number. */
export async function classifiedOnThreads(page, sample, threads, run) {
  for (let attempt = 0; attempt < 20; attempt++) {
    await page.getByTestId(`sample-${sample}`).click();
    run += 1;
    await classified(page, run);
    if ((await page.getByTestId('timing').textContent()).includes(`wasm relaxed SIMD, ${threads} threads`)) return run;
  }
  throw new Error(`the CPU path never ran on ${threads} threads:\n${await describe(page)}`);
}
