// Drives the browser benchmark in headless Chromium (scripts/bench-web.sh builds what it serves):
// usage: node scripts/bench-web.mjs SITE_DIR DIST_DIR OUT.json
//
// 1. The bench page (SITE_DIR, served cross-origin isolated so ONNX Runtime may use threads), once
//    per configuration and round: SE Lens's wasm CPU path (SIMD128 and relaxed SIMD), ONNX Runtime Web's wasm provider on one
//    thread and on every core, and both WebGPU paths; then MobileNetV3-Large and EfficientNet-B0
//    (random weights, same fixtures) on the wasm CPU paths only. Each configuration keeps its best round's
//    median; every configuration's logits are compared with SE Lens's CPU logits, so no engine
//    wins by computing something else (exit 1 beyond 1e-3 of the largest logit).
//    PROFILE=1 also samples SE Lens's CPU page with Chromium's profiler and reports the functions
//    with the most self time (scripts/bench-web.sh keeps the wasm function names for it).
// 2. The app (DIST_DIR): bundle size (raw and gzip, weights excluded), time from navigation to the
//    first result with the default model (cold, and on returning visits), and the wasm memory the
//    engine worker holds then (the timing line's data-engine-memory; memory only grows, so that is
//    its peak).
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { gzipSync } from 'node:zlib';
import { chromium } from 'playwright-core';
import { ISOLATION, serve } from './serve.mjs';
import { timeFirstResult } from '../tests/e2e/harness.mjs';

const [site, dist, out] = process.argv.slice(2);
const RUNS = Number(process.env.RUNS ?? 10);
const ROUNDS = Number(process.env.ROUNDS ?? 2);
const GPU_RUNS = Number(process.env.GPU_RUNS ?? 3);
const PROFILE = process.env.PROFILE === '1';
const SITE_PORT = 8393;
const APP_PORT = 8394;
const ISOLATED_APP_PORT = 8395;
const CROSS_CHECK = 1e-3;
const say = (text) => process.stderr.write(`[bench-web] ${text}\n`);

const siteServer = await serve(site, SITE_PORT, '/', ISOLATION);
// The app twice: as a static host without isolation serves it (the single-thread build loads) and
// as `make run` serves it (isolated: the build with threads loads).
const appServer = await serve(dist, APP_PORT, '/');
const isolatedAppServer = await serve(dist, ISOLATED_APP_PORT, '/', ISOLATION);
const browser = await chromium.launch({
  executablePath: '/usr/bin/chromium',
  args: ['--no-sandbox', '--disable-quic', '--no-first-run', '--disable-background-networking',
    '--disable-component-update', '--disable-sync', '--enable-unsafe-webgpu'],
});

try {
  const threads = cpus().length;
  // SE Lens's SIMD128 build (what every browser with wasm SIMD runs) and its relaxed-SIMD build
  // (what Chromium runs; f32x4.relaxed_madd in the GEMM and the depthwise convolution).
  const cpuConfigs = [
    { engine: 'selens-cpu' },
    { engine: 'selens-cpu-relaxed' },
    { engine: 'ort-wasm', threads: 1 },
    ...(threads > 1 ? [
      { engine: 'selens-cpu', threads }, { engine: 'selens-cpu-relaxed', threads }, { engine: 'ort-wasm', threads },
    ] : []),
  ];
  // GPU_RUNS=0 skips the WebGPU rows (a quick loop while working on the CPU path).
  const gpuConfigs = GPU_RUNS > 0 ? [{ engine: 'selens-webgpu' }, { engine: 'ort-webgpu' }] : [];
  const best = new Map();
  const keep = (result) => {
    const key = `${result.engine}/${result.threads}`;
    if (!best.has(key) || result.medianMs < best.get(key).medianMs) best.set(key, result);
  };
  for (let round = 1; round <= ROUNDS; round++) {
    for (const config of cpuConfigs) keep(await page(config, RUNS, round));
  }
  const profile = PROFILE ? (await page(cpuConfigs[0], RUNS, 'profile', true)).profile : undefined;
  const gpu = [];
  for (const config of gpuConfigs) {
    try {
      gpu.push(await page(config, GPU_RUNS, 1, false, 1));
    } catch (error) {
      gpu.push({ ...config, error: String(error.message ?? error).split('\n')[0] });
    }
  }
  const reference = best.get('selens-cpu/1').logits;
  const scale = Math.max(...reference.map(Math.abs));
  const results = [...best.values(), ...gpu].map((result) => {
    if (!result.logits) return result;
    const diff = Math.max(...result.logits.map((v, i) => Math.abs(v - reference[i]))) / scale;
    const { logits, ...rest } = result;
    return { ...rest, maxRelDiffToSeLensCpu: diff };
  });
  // The mobile networks: the wasm CPU paths, interleaved as above, each cross-checked against SE
  // Lens's single-thread logits of the same model.
  const others = [];
  for (const model of ['mobilenetv3_large_100', 'efficientnet_b0']) {
    const bestOf = new Map();
    for (let round = 1; round <= ROUNDS; round++) {
      for (const config of cpuConfigs) {
        const result = await page({ ...config, model }, RUNS, round);
        const key = `${result.engine}/${result.threads}`;
        if (!bestOf.has(key) || result.medianMs < bestOf.get(key).medianMs) bestOf.set(key, result);
      }
    }
    const own = bestOf.get('selens-cpu/1').logits;
    const top = Math.max(...own.map(Math.abs));
    for (const { logits, ...rest } of bestOf.values()) {
      others.push({ ...rest, maxRelDiffToSeLensCpu: Math.max(...logits.map((v, i) => Math.abs(v - own[i]))) / top });
    }
  }
  const app = await measureApp();
  const report = {
    chromium: browser.version(),
    onnxruntimeWeb: JSON.parse(readFileSync('node_modules/onnxruntime-web/package.json', 'utf8')).version,
    cores: threads,
    cpu: cpus()[0]?.model ?? '',
    size: 224,
    model: 'timm seresnet50, random weights from tools/make_fixtures.py; ONNX from tools/export_onnx.py',
    results,
    others,
    app,
    profile,
  };
  writeFileSync(out, `${JSON.stringify(report, null, 2)}\n`);
  const bad = [...results, ...others].filter((r) => r.maxRelDiffToSeLensCpu > CROSS_CHECK);
  if (bad.length) {
    say(`outputs differ beyond ${CROSS_CHECK}: ${bad.map((r) => `${r.model} ${r.engine} ${r.maxRelDiffToSeLensCpu}`).join(', ')}`);
    process.exitCode = 1;
  }
  say(`wrote ${out}`);
} finally {
  await browser.close();
  siteServer.close();
  appServer.close();
  isolatedAppServer.close();
}

/** Loads the bench page for one configuration and returns what it measured. */
async function page({ engine, threads = 1, model = 'seresnet50' }, runs, round, profile = false, warmup = 2) {
  const tab = await browser.newPage();
  const cdp = profile ? await tab.context().newCDPSession(tab) : null;
  try {
    if (cdp) {
      await cdp.send('Profiler.enable');
      await cdp.send('Profiler.setSamplingInterval', { interval: 200 });
      await cdp.send('Profiler.start');
    }
    await tab.goto(`http://127.0.0.1:${SITE_PORT}/?engine=${engine}&threads=${threads}&runs=${runs}&warmup=${warmup}&model=${model}`);
    await tab.waitForFunction(() => window.benchResult || window.benchError, null, { timeout: 30 * 60_000, polling: 500 });
    const error = await tab.evaluate(() => window.benchError);
    if (error) throw new Error(`${engine}: ${error}`);
    const result = await tab.evaluate(() => window.benchResult);
    say(`round ${round}: ${model} ${engine} ×${result.threads} on ${result.backend}: median ${result.medianMs.toFixed(1)} ms`);
    result.model = model;
    if (cdp) {
      result.profile = selfTime((await cdp.send('Profiler.stop')).profile);
      for (const { share, name } of result.profile) say(`  ${(100 * share).toFixed(1).padStart(5)}%  ${name}`);
    }
    return result;
  } finally {
    await tab.close();
  }
}

/** The functions with the most self time in a CPU profile (share of all samples). */
function selfTime(profile, top = 25) {
  const nodes = new Map(profile.nodes.map((node) => [node.id, node]));
  const counts = new Map();
  for (const id of profile.samples) {
    const { functionName, url } = nodes.get(id).callFrame;
    const name = functionName || `(${url.split('/').pop() || 'program'})`;
    counts.set(name, (counts.get(name) ?? 0) + 1);
  }
  return [...counts]
    .sort((a, b) => b[1] - a[1])
    .slice(0, top)
    .map(([name, count]) => ({ name, share: count / profile.samples.length }));
}

/** The app's four builds: what a page that loads each downloads (the other builds' modules
 * excluded), and for the two Chromium loads (relaxed SIMD) three cold loads of the default model up
 * to the first result (from the server that makes the page load that build). */
async function measureApp() {
  const files = readdirSync(dist).filter((f) => /\.(wasm|js|css|html)$/.test(f));
  const build = (file) => /^(app(?:-threads)?(?:-relaxed)?)-[0-9a-f]{16}(?:_bg\.wasm|\.js)$/.exec(file)?.[1];
  const builds = [
    { name: 'one thread', prefix: 'app-relaxed', port: APP_PORT },
    { name: 'threads', prefix: 'app-threads-relaxed', port: ISOLATED_APP_PORT },
    { name: 'one thread, SIMD128', prefix: 'app' },
    { name: 'threads, SIMD128', prefix: 'app-threads' },
  ];
  const measured = [];
  for (const { name, prefix, port } of builds) {
    const bundle = files.filter((file) => [undefined, prefix].includes(build(file))).map((file) => {
      const body = readFileSync(`${dist}/${file}`);
      return { file, bytes: body.length, gzipBytes: gzipSync(body, { level: 9 }).length };
    });
    measured.push({ name, bundle, ...(port ? await coldLoads(name, port) : {}) });
  }
  return measured;
}

/** Three cold loads of the app from `port` up to the first result (the median's numbers), each
 * in a fresh browser profile, then three returning visits in each profile: the page opened again,
 * its files and its compiled wasm in the browser's caches and the service worker installed. */
async function coldLoads(name, port) {
  const loads = [];
  const returning = [];
  const firstResult = async (tab) => {
    await tab.goto(`http://127.0.0.1:${port}/?sample=fmnist-ankle-boot-0.png&backend=cpu`);
    await tab.waitForFunction(() => window.firstResultMs, null, { timeout: 120_000 });
    return tab.evaluate(() => ({
      firstResultMs: window.firstResultMs,
      // The engine worker's (src/ui/worker.rs), where the model lives; the page's own is small.
      wasmMemoryBytes: Number(document.querySelector('[data-testid="timing"]')?.dataset.engineMemory ?? NaN),
      crossOriginIsolated: self.crossOriginIsolated,
    }));
  };
  for (let i = 0; i < 3; i++) {
    const context = await browser.newContext();
    const tab = await context.newPage();
    await timeFirstResult(tab);
    loads.push(await firstResult(tab));
    for (let visit = 0; visit < 3; visit++) {
      // The browser writes the compiled wasm to its cache in the background, after the page ran.
      await tab.waitForTimeout(1500);
      returning.push((await firstResult(tab)).firstResultMs);
    }
    await context.close();
  }
  loads.sort((a, b) => a.firstResultMs - b.firstResultMs);
  returning.sort((a, b) => a - b);
  say(`app, ${name}: first result in ${loads.map((l) => l.firstResultMs.toFixed(0)).join(', ')} ms; ` +
    `returning visits ${returning.map((ms) => ms.toFixed(0)).join(', ')} ms`);
  return {
    firstResultMs: loads[1].firstResultMs,
    returningMs: returning[Math.floor(returning.length / 2)],
    wasmMemoryBytes: loads[1].wasmMemoryBytes,
    loads,
    returning,
  };
}
