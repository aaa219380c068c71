// End-to-end: the built dist/ as a plain static host serves it (no COOP/COEP headers) from a
// sub-path, /tools/se-lens/, and what its service worker (www/sw.js) makes of it, in one browser
// profile from visit to visit: threads from the second visit on, installable, offline, and a new
// deploy picked up cleanly. The steps run in order and build on each other. Run by `make test`.
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, cpSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { serve } from '../../scripts/serve.mjs';
import { classified, classifiedOnThreads, explained, exported, gateDifference, launchProfile, recordConsole } from './harness.mjs';

const PORT = 8393;
const HUB_PORT = 8394;
const BASE = '/tools/se-lens/';
const URL = `http://127.0.0.1:${PORT}${BASE}`;
const HUB = `http://127.0.0.1:${HUB_PORT}`;
const SHOTS = 'target/e2e';
const HUB_DIR = 'target/e2e/offline-hub';
const NEXT_DIST = 'target/e2e/offline-next-dist';
const PROFILE = 'target/e2e/offline-profile';
const TINY = 'tests/fixtures/models/seresnet18_tiny';
const PHOTO = 'tests/fixtures/preprocess/chelsea.png';
const SAMPLE = 'fmnist-pullover-1.png';

let site;
let hub;
let context;
let page;
const errors = [];

before(async () => {
  mkdirSync(`${HUB_DIR}/timm/seresnet18_tiny/resolve/main`, { recursive: true });
  for (const file of ['config.json', 'model.safetensors']) copyFileSync(`${TINY}/${file}`, `${HUB_DIR}/timm/seresnet18_tiny/resolve/main/${file}`);
  // The next deploy: this build with one change to its page, and its service worker written anew.
  rmSync(NEXT_DIST, { recursive: true, force: true });
  cpSync('dist', NEXT_DIST, { recursive: true });
  const html = readFileSync(`${NEXT_DIST}/index.html`, 'utf8');
  writeFileSync(`${NEXT_DIST}/index.html`, html.replace('<head>', '<head>\n    <meta name="se-lens-deploy" content="next" />'));
  execFileSync('node', ['scripts/service-worker.mjs', NEXT_DIST]);

  site = await serve('dist', PORT, BASE);
  hub = await serve(HUB_DIR, HUB_PORT, '/', { 'access-control-allow-origin': '*' });
  rmSync(PROFILE, { recursive: true, force: true });
  context = await launchProfile(PROFILE, { viewport: { width: 1100, height: 800 } });
  page = context.pages()[0] ?? await context.newPage();
  recordConsole(page);
  page.on('pageerror', (error) => errors.push(error.message));
  page.on('console', (message) => {
    if (/Content Security Policy|Refused to/.test(message.text())) errors.push(message.text());
  });
});

after(async () => {
  await context?.close();
  stop(site);
  stop(hub);
});

function stop(server) {
  server?.closeAllConnections();
  server?.close();
}

/** `wait`, whose failure says what the page was doing. */
const explain = (what, wait) => explained(page, what, wait);

/** The service worker's build and COEP mode, asked from the page. */
function worker() {
  return page.evaluate(() => new Promise((resolve) => {
    navigator.serviceWorker.addEventListener('message', (event) => {
      if (event.data?.type === 'status') resolve({ build: event.data.build, coep: event.data.coep });
    });
    navigator.serviceWorker.controller.postMessage({ type: 'status' });
  }));
}

/** The build a dist/ folder's sw.js carries. */
const buildOf = (dist) => readFileSync(`${dist}/sw.js`, 'utf8').match(/const BUILD = '([0-9a-f]+)'/)[1];

/** The page's own threads for its CPU path: `Math.min(cores, 8)` where it is isolated. */
const threadsWanted = () => page.evaluate(() => Math.min(navigator.hardwareConcurrency, 8));

describe('a plain static host at a sub-path, with the service worker', () => {
  let single;

  test('first visit: one thread; second: cross-origin isolated, threaded, the same numbers', async () => {
    await page.goto(`${URL}?sample=${SAMPLE}&backend=cpu`);
    await classified(page);
    assert.equal(await page.evaluate(() => self.crossOriginIsolated), false);
    assert.match(await page.getByTestId('timing').textContent(), /on the CPU \(wasm relaxed SIMD, 1 thread\)/);
    single = await exported(page);
    // The worker installs (every file of the build cached) and takes this page over.
    await explain('the service worker', page.waitForFunction(() => navigator.serviceWorker.controller !== null, null, { timeout: 60_000 }));
    assert.equal((await worker()).build, buildOf('dist'));
    assert.equal(await page.getByTestId('update-notice').count(), 0, 'a first install is no update');

    await page.reload();
    await classified(page);
    assert.equal(await page.evaluate(() => self.crossOriginIsolated), true, 'the worker made the page cross-origin isolated');
    const threads = await threadsWanted();
    assert.ok(threads > 1, 'this test needs two cores');
    await classifiedOnThreads(page, SAMPLE, threads, 1);
    assert.match(await page.getByTestId('timing').textContent(), new RegExp(`on the CPU \\(wasm relaxed SIMD, ${threads} threads\\)`));
    const threaded = await exported(page);
    assert.deepEqual(threaded.top.map((t) => t.label), single.top.map((t) => t.label));
    const diff = gateDifference(threaded, single);
    assert.ok(diff < 1e-6, `one thread and ${threads} differ by ${diff}`);
    console.log(`second visit: cross-origin isolated, ${threads} threads, gates within ${diff.toExponential(1)} of the first visit's`);
    await page.screenshot({ path: `${SHOTS}/offline-threads.png` });
    // Only SE Lens's page gets the headers: another navigation in the worker's scope keeps the
    // host's response as it is.
    const other = await context.newPage();
    const response = await other.goto(`${URL}assets/samples/index.json`);
    assert.equal(response.status(), 200);
    assert.equal(response.headers()['cross-origin-opener-policy'], undefined);
    assert.equal(await other.evaluate(() => self.crossOriginIsolated), false);
    await other.close();
  });

  test('installable: the manifest parses and Chromium reports no installability error', async () => {
    const cdp = await context.newCDPSession(page);
    const manifest = await cdp.send('Page.getAppManifest');
    assert.deepEqual(manifest.errors, []);
    assert.equal(new globalThis.URL(manifest.url).pathname, `${BASE}manifest.webmanifest`);
    const { installabilityErrors } = await cdp.send('Page.getInstallabilityErrors');
    assert.deepEqual(installabilityErrors, []);
    assert.equal(await page.evaluate(() => navigator.serviceWorker.controller?.scriptURL), `${URL}sw.js`);
    await cdp.detach();
  });

  test('a hub model downloads under the worker\'s COEP, and everything works offline', async () => {
    await page.goto(`${URL}?hub=${encodeURIComponent(HUB)}&backend=cpu`);
    await explain('the model', page.getByText('Model ready').waitFor({ timeout: 60_000 }));
    assert.equal(await page.evaluate(() => self.crossOriginIsolated), true);
    assert.equal((await worker()).coep, 'credentialless');
    await page.getByTestId('hub-id').fill('timm/seresnet18_tiny');
    await page.getByTestId('hub-load').click();
    await explain('the hub model', page.getByText('Model ready: seresnet18').waitFor({ timeout: 60_000 }));

    // No network at all from here on: both servers gone, the browser offline.
    stop(site);
    stop(hub);
    await context.setOffline(true);
    await page.goto(`${URL}?hub=${encodeURIComponent(HUB)}&sample=${SAMPLE}&backend=cpu`);
    await classified(page);
    assert.equal(await page.getByTestId('top1-label').textContent(), single.top[0].label);
    await page.getByTestId('file-input').setInputFiles(PHOTO);
    await classified(page, 2);
    assert.match(await page.getByTestId('status').textContent(), /Classified chelsea\.png/);
    await page.getByTestId('hub-id').fill('timm/seresnet18_tiny');
    await page.getByTestId('hub-load').click();
    await classified(page, 3);
    assert.match(await page.locator('[data-testid="model-select"] option:checked').textContent(), /seresnet18_tiny/);
    assert.equal(await page.locator('canvas[data-testid^="heatmap-"]').count(), 8);
    await page.screenshot({ path: `${SHOTS}/offline.png`, fullPage: true });
    console.log('offline: the app, a sample, an upload and a cached hub model, with no server running');
  });

  test('a new deploy: the page says so, and after reload runs the new build only', async () => {
    await context.setOffline(false);
    site = await serve(NEXT_DIST, PORT, BASE);
    const before = buildOf('dist');
    const next = buildOf(NEXT_DIST);
    assert.notEqual(next, before);
    // The visit that finds the new worker still runs the build it started with.
    await page.goto(`${URL}?sample=${SAMPLE}`);
    await classified(page);
    await explain('the new-version notice', page.getByTestId('update-notice').waitFor({ timeout: 60_000 }));
    assert.match(await page.getByTestId('update-notice').textContent(), /A new version of SE Lens is ready/);
    assert.equal(await page.locator('meta[name="se-lens-deploy"]').count(), 0);
    assert.equal((await worker()).build, before);
    await page.screenshot({ path: `${SHOTS}/offline-update.png` });

    await Promise.all([page.waitForEvent('load'), page.getByTestId('update-reload').click()]);
    await classified(page);
    assert.equal(await page.locator('meta[name="se-lens-deploy"]').count(), 1);
    assert.equal((await worker()).build, next);
    const appCaches = (await page.evaluate(() => caches.keys())).filter((name) => name.startsWith('se-lens-app-'));
    assert.deepEqual(appCaches, [`se-lens-app-${next}`], 'the old build\'s cache is gone');
    assert.equal(await page.getByTestId('update-notice').count(), 0);
    assert.deepEqual(errors, []);
  });
});

