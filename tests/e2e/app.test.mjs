// End-to-end: the built dist/ served from a sub-path, driven in Debian's headless Chromium.
// Playwright gives every launch a fresh profile. Run by `make test` (node --test); screenshots land in target/e2e/.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { chromium } from 'playwright-core';
import { serve } from '../../scripts/serve.mjs';

const PORT = 8391;
const BASE = '/se-lens/';
const URL = `http://127.0.0.1:${PORT}${BASE}`;
const SHOTS = 'target/e2e';

let server;
let browser;

before(async () => {
  mkdirSync(SHOTS, { recursive: true });
  server = await serve('dist', PORT, BASE);
  browser = await chromium.launch({
    executablePath: '/usr/bin/chromium',
    args: [
      '--no-sandbox', '--disable-quic', '--no-first-run', '--disable-background-networking',
      '--disable-component-update', '--disable-sync', '--enable-unsafe-webgpu',
    ],
  });
});

after(async () => {
  await browser?.close();
  server?.close();
});

async function open(query = '') {
  const page = await browser.newPage({ viewport: { width: 1100, height: 700 } });
  const errors = [];
  page.on('pageerror', (error) => errors.push(error.message));
  await page.goto(URL + query);
  return { page, errors };
}

test('the app loads from a sub-path and runs the squeeze on WebGPU', async () => {
  const { page, errors } = await open();
  const badge = page.getByTestId('backend-badge');
  await badge.waitFor({ timeout: 60_000 });
  assert.equal(await page.locator('h1').textContent(), 'SE Lens');
  assert.equal(await badge.textContent(), 'webgpu');
  const status = await page.getByTestId('status').textContent();
  assert.match(status, /Squeezed 64 channels on webgpu/);
  const diff = Number(status.match(/= ([0-9.e+-]+)$/)[1]);
  assert.ok(diff < 1e-4, `GPU and CPU disagree: ${status}`);
  assert.equal(await page.locator('.bar').count(), 64);
  await page.screenshot({ path: `${SHOTS}/app-webgpu.png`, fullPage: true });
  assert.deepEqual(errors, []);
});

test('backend=cpu runs on the CPU', async () => {
  const { page, errors } = await open('?backend=cpu');
  const badge = page.getByTestId('backend-badge');
  await badge.waitFor({ timeout: 60_000 });
  assert.equal(await badge.textContent(), 'cpu');
  assert.equal(await page.locator('.bar').count(), 64);
  await page.screenshot({ path: `${SHOTS}/app-cpu.png`, fullPage: true });
  assert.deepEqual(errors, []);
});
