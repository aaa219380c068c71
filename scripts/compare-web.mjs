// Before/after checks of a change in the browser, interleaved in one run (this machine's noise is
// ±30% between runs, so only ratios within one run mean anything):
//
//   node scripts/compare-web.mjs first-result OLD_DIST NEW_DIST [ROUNDS]
//       cold loads of two builds of the app up to the first result with the default model, both
//       builds (single-thread on a plain host, threads cross-origin isolated), alternating.
//   node scripts/compare-web.mjs load OLD_DIST NEW_DIST [ROUNDS]
//       a fresh engine worker (the API, single-thread build, CPU) loading the default model from
//       its two files' bytes three times: the first load (code still cold) and the third, alternating.
//   node scripts/compare-web.mjs bench THREADS SITE_A SITE_B [SITE_C…] [--rounds N] [--engine E] [--model M]
//       the bench page's SE Lens CPU path (scripts/bench-web.sh's target/bench-site layout, one
//       site folder per variant), alternating; engine `selens-cpu` (default) or
//       `selens-cpu-relaxed`, model `seresnet50` (default), `mobilenetv3_large_100` or
//       `efficientnet_b0`.
//
// An older build comes from a worktree: `git worktree add /tmp/old REV && (cd /tmp/old &&
// scripts/build-web.sh)` gives /tmp/old/dist (copy /tmp/old/target/bench-site after `make bench`
// there for `bench`). Prints each variant's medians, sorted, and their median.
import { chromium } from 'playwright-core';
import { ISOLATION, serve } from './serve.mjs';
import { timeFirstResult } from '../tests/e2e/harness.mjs';

const [mode, ...rest] = process.argv.slice(2);
const roundsFlag = rest.indexOf('--rounds');
const ROUNDS = roundsFlag >= 0 ? Number(rest.splice(roundsFlag, 2)[1]) : 6;
/** `--name value` taken out of the arguments, or `fallback`. */
const flag = (name, fallback) => (rest.includes(name) ? rest.splice(rest.indexOf(name), 2)[1] : fallback);
const ENGINE = flag('--engine', 'selens-cpu');
const MODEL = flag('--model', 'seresnet50');
const browser = await chromium.launch({
  executablePath: '/usr/bin/chromium',
  args: ['--no-sandbox', '--disable-quic', '--no-first-run', '--enable-unsafe-webgpu'],
});
const servers = [];
let port = 8701;
const times = new Map();
const record = (name, ms) => times.set(name, [...(times.get(name) ?? []), ms]);

try {
  if (mode === 'first-result') {
    const [oldDist, newDist, rounds = ROUNDS] = rest;
    const variants = [];
    for (const [name, dir] of [['old', oldDist], ['new', newDist]]) {
      for (const [build, headers] of [['single', {}], ['threads', ISOLATION]]) {
        variants.push({ name: `${name} ${build}`, port });
        servers.push(await serve(dir, port++, '/', headers));
      }
    }
    for (let round = 0; round < Number(rounds); round++) {
      for (const variant of round % 2 ? [...variants].reverse() : variants) {
        const context = await browser.newContext();
        const tab = await context.newPage();
        await timeFirstResult(tab);
        await tab.goto(`http://127.0.0.1:${variant.port}/?sample=fmnist-ankle-boot-0.png&backend=cpu`);
        await tab.waitForFunction(() => window.firstResultMs, null, { timeout: 120_000 });
        record(variant.name, await tab.evaluate(() => window.firstResultMs));
        await context.close();
      }
    }
  } else if (mode === 'load') {
    const [oldDist, newDist, rounds = ROUNDS] = rest;
    const variants = [];
    for (const [name, dir] of [['old', oldDist], ['new', newDist]]) {
      variants.push({ name, port });
      servers.push(await serve(dir, port++, '/'));
    }
    for (let round = 0; round < Number(rounds); round++) {
      for (const variant of round % 2 ? [...variants].reverse() : variants) {
        const context = await browser.newContext();
        const tab = await context.newPage();
        await tab.goto(`http://127.0.0.1:${variant.port}/embed/`);
        await tab.waitForFunction(() => document.getElementById('label').textContent !== '…', null, { timeout: 60_000 });
        const times = await tab.evaluate(async (model) => {
          const { SeLens } = await import(new URL('../selens.js', document.baseURI).href);
          const lens = await SeLens.create({ backend: 'cpu' });
          const bytes = (file) => fetch(`../${model}/${file}`).then((r) => r.arrayBuffer());
          const times = [];
          for (let load = 0; load < 3; load++) {
            const [config, weights] = await Promise.all([bytes('config.json'), bytes('model.safetensors')]);
            const start = performance.now();
            await lens.load({ config, weights });
            times.push(performance.now() - start);
          }
          lens.close();
          return times;
        }, 'assets/models/seresnet10-fmnist');
        record(`${variant.name} first load`, times[0]);
        record(`${variant.name} third load`, times[2]);
        await context.close();
      }
    }
  } else if (mode === 'bench') {
    const [threads, ...sites] = rest;
    const variants = [];
    for (const dir of sites) {
      variants.push({ name: dir, port });
      servers.push(await serve(dir, port++, '/', ISOLATION));
    }
    for (let round = 0; round < ROUNDS; round++) {
      for (const variant of round % 2 ? [...variants].reverse() : variants) {
        const tab = await browser.newPage();
        await tab.goto(`http://127.0.0.1:${variant.port}/?engine=${ENGINE}&model=${MODEL}&threads=${threads}&runs=10&warmup=2`);
        await tab.waitForFunction(() => window.benchResult || window.benchError, null, { timeout: 600_000, polling: 200 });
        const { benchResult, benchError } = await tab.evaluate(() => ({ benchResult: window.benchResult, benchError: window.benchError }));
        if (benchError) throw new Error(`${variant.name}: ${benchError}`);
        record(variant.name, benchResult.medianMs);
        await tab.close();
      }
    }
  } else {
    throw new Error('usage: compare-web.mjs first-result|load OLD_DIST NEW_DIST [ROUNDS] | bench THREADS SITE… [--rounds N]');
  }
  for (const [name, list] of times) {
    const sorted = [...list].sort((a, b) => a - b);
    console.log(`${name}: ${sorted.map((ms) => ms.toFixed(0)).join(', ')} ms; median ${sorted[Math.floor(sorted.length / 2)].toFixed(0)} ms`);
  }
} finally {
  await browser.close();
  for (const server of servers) server.close();
}
