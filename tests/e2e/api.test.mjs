// End-to-end: SE Lens's JavaScript API (dist/selens.js and its engine worker) in headless Chromium,
// as a web developer or a teacher would use it: the embed example (www/embed/), every kind of
// image and model source, supersede, a crash, bad input, and the page's thread kept free while a
// 108 MB SE-ResNet-50 loads and runs. Served cross-origin isolated (wasm threads in the worker) and
// as a plain static host (single-thread build). Run by `make test` (node --test).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { ISOLATION, serve } from '../../scripts/serve.mjs';
import { classified, explained, exported, launch, recordConsole } from './harness.mjs';

const BASE = '/se-lens/';
const ISOLATED = 'http://127.0.0.1:8395';
const PLAIN = 'http://127.0.0.1:8396';
const FIXTURES = 'http://127.0.0.1:8397';
const MODEL = 'assets/models/seresnet10-fmnist';
const SAMPLE = 'fmnist-trouser-2.png';

let servers;
let browser;

before(async () => {
  const fixtures = readFileSync('target/fixtures-dir', 'utf8').trim();
  servers = await Promise.all([
    serve('dist', 8395, BASE, ISOLATION),
    serve('dist', 8396, BASE),
    // The full-size random-weight fixtures (tools/make_fixtures.py), from another origin, as a
    // model host would serve them.
    serve(fixtures, 8397, '/', { 'access-control-allow-origin': '*' }),
  ]);
  browser = await launch();
});

after(async () => {
  await browser?.close();
  for (const server of servers ?? []) server.close();
});

/** A page of `origin`'s build at `path`, its errors collected; `init` runs before the page's scripts. */
async function open(origin, path, init) {
  const page = await browser.newPage();
  if (init) await page.addInitScript(init);
  recordConsole(page);
  const errors = [];
  page.on('pageerror', (error) => errors.push(error.message));
  await page.goto(`${origin}${BASE}${path}`);
  return { page, errors };
}

/** Runs `body(lens, arg)` in `page` with a fresh `SeLens` (`options`) that has loaded the default
 * model; closes it after. */
function withLens(page, body, arg, options = {}) {
  return page.evaluate(async ({ body, arg, options, model }) => {
    const { SeLens, SupersededError } = await import(new URL('../selens.js', document.baseURI).href);
    const lens = await SeLens.create(options);
    try {
      await lens.load(model);
      // eslint-disable-next-line no-new-func
      return await new Function('lens', 'arg', 'SupersededError', `return (${body})(lens, arg, SupersededError);`)(lens, arg, SupersededError);
    } finally {
      lens.close();
    }
  }, { body: body.toString(), arg, options, model: `../${MODEL}` });
}

const largest = (a, b) => a.reduce((m, v, i) => Math.max(m, Math.abs(v - b[i])), 0);

for (const [build, origin] of [['threads', ISOLATED], ['single-thread', PLAIN]]) {
  test(`the embed example draws the app's heatmap of layer3.0.se, and the API gives the app's gates (${build} build)`, async () => {
    const app = await open(origin, `?sample=${SAMPLE}`);
    await classified(app.page);
    const appRun = await exported(app.page);
    const appPixels = await app.page.getByTestId('heatmap-layer3.0.se').evaluate((canvas) =>
      Array.from(canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height).data));

    const embed = await open(origin, 'embed/');
    await explained(embed.page, 'the embed example', embed.page.waitForFunction(
      () => document.getElementById('label').textContent !== '…', null, { timeout: 60_000 }));
    const embedPixels = await embed.page.locator('#heatmap').evaluate((canvas) =>
      Array.from(canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height).data));
    assert.equal(embedPixels.length, appPixels.length, 'same heatmap size');
    assert.deepEqual(embedPixels, appPixels, 'the same colours, cell by cell');
    assert.equal(await embed.page.textContent('#label'), appRun.top[0].label);
    await embed.page.screenshot({ path: `target/e2e/embed-${build}.png` });

    const api = await withLens(embed.page, async (lens, sample) => {
      const r = await lens.classify(`../assets/samples/${sample}`);
      return { model: lens.model, top: r.top, threads: r.threads, simd: r.simd, timings: r.timings_ms,
        excitations: r.excitations.map((e) => ({ block: e.block, values: Array.from(e.values), typed: e.values instanceof Float32Array })) };
    }, SAMPLE);
    assert.deepEqual(api.model.blocks.map((b) => b.name), appRun.excitations.map((e) => e.block));
    assert.equal(api.model.backend, 'cpu', 'auto keeps the CPU over a software GPU');
    assert.match(api.model.fallbackReason, /software/);
    assert.equal(api.threads, build === 'threads' ? 2 : 1, 'threads in the worker where the page is isolated');
    assert.equal(api.simd, 'relaxed', 'Chromium has relaxed SIMD: its build runs');
    for (const [i, e] of api.excitations.entries()) {
      assert.ok(e.typed, 'gates come as Float32Array');
      const difference = largest(e.values, appRun.excitations[i].values);
      assert.ok(difference <= 1e-6, `${e.block}: API vs app ${difference}`);
    }
    assert.deepEqual(api.top.map((p) => p.index), appRun.top.map((p) => p.index));
    assert.deepEqual(app.errors.concat(embed.errors), []);
    console.log(`${build}: API = app within 1e-6 on ${api.excitations.length} blocks; forward ${api.timings.forward.toFixed(1)} ms on ${api.threads} thread(s)`);
    await app.page.close();
    await embed.page.close();
  });
}

test('preload downloads the model and images ahead; each is fetched once, and a missing image still rejects with its status', async () => {
  const { page, errors } = await open(PLAIN, 'embed/');
  // The example's own engine first finishes (with the trouser sample), then a fresh one preloads.
  await page.waitForFunction(() => document.getElementById('label').textContent !== '…', null, { timeout: 60_000 });
  const fetched = [];
  page.on('request', (request) => fetched.push(request.url()));
  const result = await page.evaluate(async ({ model, sample }) => {
    const { SeLens } = await import(new URL('../selens.js', document.baseURI).href);
    SeLens.preload({ model, images: [sample, '../assets/samples/no-such-image.png'] });
    const lens = await SeLens.create({ backend: 'cpu' });
    try {
      const info = await lens.load(model);
      const run = await lens.classify(sample);
      // The second use of a URL fetches it again (a prefetch is taken once).
      const again = await lens.classify(sample);
      const missing = await lens.classify('../assets/samples/no-such-image.png').then(() => 'no error', (e) => e.message);
      return { blocks: info.blocks.length, top: run.top[0].label, same: run.top[0].prob === again.top[0].prob, missing };
    } finally {
      lens.close();
    }
  }, { model: `../${MODEL}`, sample: '../assets/samples/fmnist-ankle-boot-0.png' });
  assert.deepEqual([result.blocks, result.top, result.same], [4, 'Ankle boot', true]);
  assert.match(result.missing, /cannot fetch .*no-such-image\.png: HTTP 404/);
  const count = (suffix) => fetched.filter((url) => url.endsWith(suffix)).length;
  // The weights once (the load took the read-ahead); the sample once for the prefetch and once for
  // the second classify; the missing image once ahead and once more when asked for.
  assert.deepEqual([count('/model.safetensors'), count('/fmnist-ankle-boot-0.png'), count('/no-such-image.png')], [1, 2, 2]);
  assert.deepEqual(errors, []);
  await page.close();
});

for (const [build, origin] of [['threads', ISOLATED], ['single-thread', PLAIN]]) {
  test(`a browser without relaxed SIMD runs the SIMD128 build, with the relaxed build's classes and gates (${build} build)`, async () => {
    const run = (lens, sample) => lens.classify(`../assets/samples/${sample}`).then((r) => ({
      top: r.top.map((p) => p.index), simd: r.simd, threads: r.threads,
      excitations: r.excitations.map((e) => Array.from(e.values)) }));
    const relaxed = await open(origin, 'embed/');
    const withRelaxed = await withLens(relaxed.page, run, SAMPLE);
    // As in a browser whose WebAssembly does not know relaxed SIMD: www/selens.js's probe fails.
    const plain = await open(origin, 'embed/', () => {
      const validate = WebAssembly.validate;
      const relaxedMadd = (bytes) => bytes.some((b, i) => b === 0xfd && bytes[i + 1] === 0x85 && bytes[i + 2] === 0x02);
      WebAssembly.validate = (bytes) => !relaxedMadd(new Uint8Array(bytes)) && validate(bytes);
    });
    const withoutRelaxed = await withLens(plain.page, run, SAMPLE);
    assert.equal(withRelaxed.simd, 'relaxed');
    assert.equal(withoutRelaxed.simd, 'simd128');
    assert.equal(withoutRelaxed.threads, withRelaxed.threads);
    assert.deepEqual(withoutRelaxed.top, withRelaxed.top);
    // Fused and unfused multiply-adds differ in the last bits only (the CPU parity tolerance).
    const difference = Math.max(...withRelaxed.excitations.map((gates, i) => largest(gates, withoutRelaxed.excitations[i])));
    assert.ok(difference <= 1e-4, `gates differ by ${difference}`);
    assert.deepEqual(relaxed.errors.concat(plain.errors), []);
    console.log(`${build}: the SIMD128 build's gates within ${difference.toExponential(1)} of the relaxed build's`);
    await relaxed.page.close();
    await plain.page.close();
  });
}

test('every image and model source gives the same gates; ablation, supersede, bad input and a crash are handled', async () => {
  const { page, errors } = await open(ISOLATED, 'embed/');
  const onnxFile = Array.from(readFileSync('tests/fixtures/onnx/single_conv_se/model.onnx'));
  const labels = ['a', 'b', 'c', 'd', 'e'];
  const result = await withLens(page, async (lens, arg, SupersededError) => {
    const { sample } = arg;
    const url = `../assets/samples/${sample}`;
    const blob = await (await fetch(url)).blob();
    const bitmap = await createImageBitmap(blob);
    const canvas = new OffscreenCanvas(bitmap.width, bitmap.height);
    canvas.getContext('2d').drawImage(bitmap, 0, 0);
    const pixels = canvas.getContext('2d').getImageData(0, 0, bitmap.width, bitmap.height);
    const img = document.getElementById('picture');
    await img.decode();
    const gates = (r) => r.excitations.flatMap((e) => Array.from(e.values));
    const reference = gates(await lens.classify(url));
    const same = {};
    for (const [name, image] of Object.entries({ blob, bitmap, pixels, img })) {
      const g = gates(await lens.classify(image));
      same[name] = g.every((v, i) => v === reference[i]);
    }
    // A model from its two files as Blobs.
    const folder = '../assets/models/seresnet10-fmnist';
    const files = await Promise.all(['config.json', 'model.safetensors'].map(async (f) => (await fetch(`${folder}/${f}`)).blob()));
    const info = await lens.load({ config: files[0], weights: files[1] });
    // An ONNX file with its preprocessing and labels given.
    const onnx = await lens.load({ onnx: new Uint8Array(arg.onnx), name: 'single_conv_se.onnx' },
      { onnx: { input_size: [32, 40], channel_order: 'bgr', labels: arg.labels } });
    const onnxRun = await lens.classify(blob);
    await lens.load({ config: files[0], weights: files[1] });
    same.fromFiles = gates(await lens.classify(blob)).every((v, i) => v === reference[i]);
    // Ablating a block: a second run whose gates there are ones.
    const ablated = await lens.classify(blob, { ablate: ['layer4.0.se'] });
    const ones = ablated.ablated.excitations.find((e) => e.block === 'layer4.0.se').values.every((v) => v === 1);
    // Supersede: the second call for a view wins; another view is untouched.
    const first = lens.classify(url).then(() => 'resolved', (e) => (e instanceof SupersededError ? 'superseded' : e.message));
    const other = lens.classify(url, { view: 'other' }).then(() => 'resolved', (e) => e.message);
    const second = await lens.classify(blob);
    // Bad input: a clear message, and the engine keeps working.
    const message = (promise) => promise.then(() => 'no error', (e) => e.message);
    const bad = {
      notAnImage: await message(lens.classify(new Blob(['not a png'], { type: 'image/png' }))),
      missingImage: await message(lens.classify('../assets/samples/no-such-image.png')),
      unknownBlock: await message(lens.classify(blob, { ablate: ['layer9.se'] })),
      badOption: await message(lens.classify(blob, { heatmaps: 'rainbow' })),
      badModel: await message(lens.load({ config: new Blob(['{']), weights: new Blob(['x']) })),
      badSource: await message(lens.load(42)),
    };
    const backend = await lens.setBackend('cpu');
    const stillWorks = gates(await lens.classify(blob)).every((v, i) => v === reference[i]);
    // A panic in the engine: the worker comes back with the same model and runs the image again.
    let restarted = null;
    lens.onrestart = (event) => { restarted = event.message; };
    const afterCrash = gates(await lens.classify(blob, { debug: 'panic' }));
    return {
      onnx: { inputSize: onnx.inputSize, labels: onnx.labels, blocks: onnx.blocks.map((b) => b.name), top: onnxRun.top[0].label },
      same, blocks: info.blocks.length, ones, first: await first, other: await other, second: second.top[0].label,
      bad, backend, stillWorks, restarted, crashLength: afterCrash.length - reference.length,
      // A fresh worker's first run may start before its CPU threads: a few ulps of summation order.
      crashDiff: afterCrash.reduce((m, v, i) => Math.max(m, Math.abs(v - reference[i])), 0),
    };
  }, { sample: SAMPLE, onnx: onnxFile, labels });
  assert.deepEqual(result.same, { blob: true, bitmap: true, pixels: true, img: true, fromFiles: true });
  assert.equal(result.blocks, 4);
  // The ONNX file loaded with the options given: its open input size, its class names, its SE blocks.
  assert.deepEqual(result.onnx.inputSize, [3, 32, 40]);
  assert.deepEqual(result.onnx.labels, labels);
  assert.deepEqual(result.onnx.blocks, ['stage1.ese', 'stage2.se']);
  assert.ok(labels.includes(result.onnx.top));
  assert.ok(result.ones, 'the ablated block runs with gates of one');
  assert.deepEqual([result.first, result.other, result.second], ['superseded', 'resolved', 'Trouser']);
  assert.match(result.bad.notAnImage, /not an image/);
  assert.match(result.bad.missingImage, /cannot fetch .*no-such-image\.png: HTTP 404/);
  assert.match(result.bad.unknownBlock, /no SE block 'layer9\.se'/);
  assert.match(result.bad.badOption, /rainbow/);
  assert.notEqual(result.bad.badModel, 'no error');
  assert.match(result.bad.badSource, /a model source is/);
  assert.deepEqual(result.backend, { backend: 'cpu', adapter: null, fallbackReason: null, note: null });
  assert.ok(result.stillWorks, 'the engine works after bad input and a change of backend');
  assert.match(result.restarted, /deliberate panic/);
  assert.equal(result.crashLength, 0);
  assert.ok(result.crashDiff <= 1e-6, `after the restart, the same model and image give the same gates (${result.crashDiff})`);
  assert.deepEqual(errors, []);
  await page.close();
});

test("the page's thread stays free while the API loads a 108 MB SE-ResNet-50 and classifies ten images", async () => {
  for (const [build, origin] of [['threads', ISOLATED], ['single-thread', PLAIN]]) {
    const { page, errors } = await open(origin, 'embed/');
    await page.evaluate(() => {
      window.longTasks = [];
      new PerformanceObserver((list) => window.longTasks.push(...list.getEntries().map((e) => e.duration)))
        .observe({ type: 'longtask' });
      const button = document.createElement('button');
      button.id = 'probe';
      button.textContent = 'click me';
      window.clickDelays = [];
      button.addEventListener('click', (event) => window.clickDelays.push(performance.now() - event.timeStamp));
      document.body.append(button);
    });
    const run = page.evaluate(async (model) => {
      const { SeLens } = await import(new URL('../selens.js', document.baseURI).href);
      const started = performance.now();
      const lens = await SeLens.create();
      await lens.load(model);
      const loaded = performance.now() - started;
      const tops = [];
      for (let i = 0; i < 10; i++) tops.push((await lens.classify(document.getElementById('picture'))).top[0].index);
      lens.close();
      return { loaded, total: performance.now() - started, tops };
    }, `${FIXTURES}/seresnet50`);
    // Clicks while it runs, as a user would.
    const clicks = (async () => {
      for (let i = 0; i < 8; i++) {
        await new Promise((resolve) => setTimeout(resolve, 400));
        await page.click('#probe', { timeout: 5_000 }).catch(() => {});
      }
    })();
    const { loaded, total, tops } = await run;
    await clicks;
    const { longTasks, clickDelays } = await page.evaluate(() => ({ longTasks: window.longTasks, clickDelays: window.clickDelays }));
    const longest = Math.max(0, ...longTasks);
    console.log(`${build}: SE-ResNet-50 (108 MB) loaded in ${loaded.toFixed(0)} ms, ten images in ${(total - loaded).toFixed(0)} ms; ` +
      `page's long tasks: ${longTasks.length} (longest ${longest.toFixed(0)} ms); clicks handled after ${clickDelays.map((d) => d.toFixed(0)).join(', ')} ms`);
    assert.equal(tops.length, 10);
    assert.ok(longest <= 50 || longTasks.length === 0, `a main-thread task took ${longest} ms`);
    assert.ok(clickDelays.length >= 4, `${clickDelays.length} clicks handled`);
    assert.ok(Math.max(...clickDelays) < 100, `a click waited ${Math.max(...clickDelays)} ms`);
    assert.deepEqual(errors, []);
    await page.close();
  }
});
