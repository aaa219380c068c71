// The engine worker: a dedicated module worker that owns SE Lens's engine (the app's own wasm
// module, whose `EngineHost` is src/ui/worker.rs), so no model parse or forward pass ever runs on
// the page's thread. www/selens.js starts it and is the only thing that talks to it.
//
// Protocol (one message per request, one reply per request):
//   → { type: 'prepare', glue, model, images }       (no reply: starts reading the module's JavaScript, which `init` then finds
//                                                       read, downloading the model folder `model`, which `init` then
//                                                       reads, for the `load` of that URL, and the image URLs `images`,
//                                                       for the first `decode` or `classify` of each)
//   → { id, type: 'init', glue, wasm, threads }      ← { id, ok, result: { threads } }  (wasm: a URL or a compiled Module)
//   → { id, type: 'load', source, backend, hub }     ← { id, progress: [loaded, total] }…, { id, ok, result: ModelInfo }
//   → { id, type: 'classify', view, image, options } ← { id, progress: [done, all] }…, { id, ok, result: Classification }  (image: as for `decode`)
//   → { id, type: 'job', view, job, image, files }   ← { id, progress }…, { id, ok, result: { json, pixels } }  (the app's views: src/ui/protocol.rs; image: { key })
//   → { id, type: 'decode', image, key }             ← { id, ok, result: { width, height } }  (the app's images, kept here under `key` for its jobs; image: a Blob, an ImageData or a URL)
//   → { type: 'cancel', view }                       (no reply: the view's running request stops at its next step)
//   Any request may carry `debug: 'panic'`: the engine panics first (the tests of the crash recovery).
//   ← { id, ok: false, error, superseded }           (a request that failed, or a newer one for its view replaced)
//   ← { crashed: message }                           (the engine panicked or trapped: this worker is dead)
// Results' gates are Float32Arrays in JavaScript's memory, transferred, not copied.
let host = null;
/** Resolves when the CPU path's threads are up (at once in the single-thread build). */
let threadsUp = Promise.resolve();
/** view → id of the newest classify request for it: an older one stops at its next block. */
const latest = new Map();

// The panic hook (src/ui/browser.rs `report_panics`) calls this before the instance aborts.
self.seLensCrashed = (message) => postMessage({ crashed: String(message) });
const trapped = (error) => error instanceof WebAssembly.RuntimeError;
addEventListener('error', (event) => { if (trapped(event.error)) postMessage({ crashed: String(event.error) }); });
addEventListener('unhandledrejection', (event) => { if (trapped(event.reason)) postMessage({ crashed: String(event.reason) }); });

async function init({ glue, wasm, threads }) {
  const bindings = await import(glue);
  await bindings.default({ module_or_path: wasm });
  // The CPU path's threads: workers of this worker, on its memory. A load waits until they have
  // all joined (up to 10 s), so a model runs on all of them from its first run and `auto` times
  // the CPU path as it will run; the page never waits for them.
  if (threads > 1) {
    threadsUp = Promise.race([bindings.startCpuThreads(glue, threads), new Promise((r) => setTimeout(r, 10_000))]);
  }
  host = new bindings.EngineHost();
  // The model `prepare` downloads, read now, while the page starts: its `load` then only sets
  // up the backend.
  if (prefetched) {
    prefetched.read = prefetched.files.then(async (files) => {
      if (!files) return false;
      await host.read(files);
      return true;
    }).catch(() => false);
  }
  return { threads };
}

/** A model folder downloading since `prepare`: { url, files: Promise<{ config, weights } | null>,
 * read: Promise<boolean> once `init` started reading it }. */
let prefetched = null;

/** Image URL → Promise<Blob | null>: downloading since `prepare`, taken by its first use. */
const prefetchedImages = new Map();

function prepare({ glue, model, images = [] }) {
  import(glue).catch(() => {});
  for (const url of images) prefetchedImages.set(url, fetch(url).then((r) => (r.ok ? r.blob() : null), () => null));
  if (typeof model !== 'string' || model.endsWith('.onnx')) return;
  const bytes = (url) => fetch(url).then((r) => (r.ok ? r.arrayBuffer() : Promise.reject(new Error(r.statusText))));
  const files = Promise.all([bytes(`${model}/config.json`), bytes(`${model}/model.safetensors`)])
    .then(([config, weights]) => ({ config, weights, name: model }), () => null);
  prefetched = { url: model, files };
}

/** An image as the engine decodes it: a URL (made absolute by selens.js) is fetched here, so the
 * page's thread is not on the way (or was, since `prepare`; a failed download is tried again, and
 * then says what went wrong). */
async function imageFrom(image) {
  if (typeof image !== 'string') return image;
  const early = await prefetchedImages.get(image);
  prefetchedImages.delete(image);
  if (early) return early;
  const response = await fetch(image).catch((error) => { throw new Error(`cannot fetch ${image}: ${error.message}`); });
  if (!response.ok) throw new Error(`cannot fetch ${image}: HTTP ${response.status}`);
  return response.blob();
}

/** Blobs among a model's files become bytes (the engine reads bytes). */
async function modelSource(source) {
  if (typeof source === 'string' || source === null || typeof source !== 'object') return source;
  const bytes = async (value) => (value instanceof Blob ? new Uint8Array(await value.arrayBuffer()) : value);
  const out = {};
  for (const [key, value] of Object.entries(source)) {
    if (key === 'data' && value && !(value instanceof Blob)) {
      out.data = {};
      for (const [name, file] of Object.entries(value)) out.data[name] = await bytes(file);
    } else {
      out[key] = await bytes(value);
    }
  }
  return out;
}

/** The buffers of a result's arrays, to transfer. */
function buffers(result) {
  if (result.pixels) return [result.pixels.buffer];
  const list = [];
  for (const run of [result, result.ablated].filter(Boolean)) {
    if (run.logits) list.push(run.logits.buffer);
    for (const e of run.excitations ?? []) list.push(e.values.buffer, ...(e.heatmap ? [e.heatmap.data.buffer] : []));
  }
  return list;
}

self.onmessage = async ({ data: request }) => {
  const { id, type } = request;
  const progress = (a, b) => postMessage({ id, progress: [a, b ?? null] });
  try {
    let result;
    if (type === 'cancel') return latest.set(request.view, null);
    if (type === 'prepare') return prepare(request);
    if (type !== 'init' && !host) throw new Error('the engine is not started');
    if (request.debug === 'panic') host.debugPanic();
    const wanted = () => latest.get(request.view) === id;
    if (request.view !== undefined) latest.set(request.view, id);
    if (type === 'init') {
      result = await init(request);
    } else if (type === 'load') {
      // This model, if `init` read it ahead (a null source) or `prepare` downloaded it and that
      // worked; else the engine fetches the URL itself, and says what went wrong.
      const early = prefetched?.url === request.source ? prefetched : null;
      prefetched = null;
      const read = await early?.read;
      const source = read ? null : ((early && (await early.files)) ?? (await modelSource(request.source)));
      await threadsUp;
      result = await host.load(source, request.backend, request.hub, progress, request.onnx);
    } else if (type === 'classify') {
      result = await host.classify(await imageFrom(request.image), request.options ?? {}, progress, wanted);
      if (!wanted()) throw new Error('superseded by a newer request');
    } else if (type === 'decode') {
      result = await host.decode(await imageFrom(request.image), request.key);
    } else if (type === 'job') {
      // A chosen folder's files: a worker does not see their paths below the folder.
      const files = (request.files ?? []).map(({ file, path }) => Object.defineProperty(file, 'webkitRelativePath', { value: path }));
      result = await host.job(request.job, request.image, files, progress, wanted);
      if (!wanted()) throw new Error('superseded by a newer request');
    } else {
      throw new Error(`unknown request '${type}'`);
    }
    postMessage({ id, ok: true, result }, result && typeof result === 'object' ? buffers(result) : []);
  } catch (error) {
    if (trapped(error)) return postMessage({ crashed: String(error) });
    const message = String(error?.message ?? error);
    postMessage({ id, ok: false, error: message, superseded: message.startsWith('superseded') });
  }
};
