// SE Lens's JavaScript API: Squeeze-and-Excitation networks in any web page, in a Web Worker.
//
//   import { SeLens } from './selens.js';
//   const lens = await SeLens.create({ backend: 'auto' });
//   await lens.load('hf:timm/seresnet50.a1_in1k');
//   const r = await lens.classify(imageOrBlobOrUrl);
//   r.top; r.excitations; r.timings_ms;
//
// Types: selens.d.ts beside this file. The engine (the app's wasm module) runs in a dedicated
// worker (engine-worker.js), with wasm threads where the page is cross-origin isolated; nothing
// heavy runs on the page's thread. If the engine crashes (a panic or a trap), the worker is
// started again with the same model and the interrupted requests run again; `onrestart` says so.
// `make dist` writes this file with the names of the build's wasm modules filled in.
const BUILD = {
  single: '{{single}}',
  threaded: '{{threaded}}',
  singleRelaxed: '{{singleRelaxed}}',
  threadedRelaxed: '{{threadedRelaxed}}',
};

/**
 * Whether this browser runs WebAssembly's relaxed SIMD: it validates a function that returns
 * `f32x4.relaxed_madd` of three `f32x4.splat(0)`. Where it does, the builds with relaxed SIMD
 * run (their GEMM's multiply-add is one instruction where the CPU has FMA: src/cpu/packed_gemm.rs).
 */
export const RELAXED_SIMD = WebAssembly.validate(Uint8Array.of(
  0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00, // "\0asm", version 1
  0x01, 0x05, 0x01, 0x60, 0x00, 0x01, 0x7b, // types: () -> v128
  0x03, 0x02, 0x01, 0x00, // one function of that type
  0x0a, 0x1c, 0x01, 0x1a, 0x00, // its code: 26 bytes, no locals
  0x43, 0x00, 0x00, 0x00, 0x00, 0xfd, 0x13, // f32.const 0, f32x4.splat
  0x43, 0x00, 0x00, 0x00, 0x00, 0xfd, 0x13,
  0x43, 0x00, 0x00, 0x00, 0x00, 0xfd, 0x13,
  0xfd, 0x85, 0x02, 0x0b, // f32x4.relaxed_madd, end
));

/**
 * The name of the app's wasm build (NAME.js and NAME_bg.wasm beside this file) for a page with
 * threads (cross-origin isolated) or without, with relaxed SIMD where the browser has it.
 */
export function wasmBuild(threaded) {
  return BUILD[(threaded ? 'threaded' : 'single') + (RELAXED_SIMD ? 'Relaxed' : '')];
}

/** The error of a classification that a newer one for the same view replaced. */
export class SupersededError extends Error {
  constructor(message = 'superseded by a newer request') {
    super(message);
    this.name = 'SupersededError';
  }
}

/** Decoded images the engine worker keeps for the app (src/ui/worker.rs `KEPT_IMAGES`). */
const KEPT_IMAGES = 4;

/** `url` made absolute against the page (or worker) that uses the API: the engine worker fetches it. */
const absolute = (url) => new URL(url, typeof document === 'undefined' ? self.location.href : document.baseURI).href;

export class SeLens {
  #backend;
  #hub;
  #threads;
  #worker = null;
  /** The compiled wasm the worker instantiates (or a promise of it), or null (it fetches and
   * compiles its build). */
  #module = null;
  /** What the worker downloads as it starts (`preload`), once: { model, images }. */
  #prefetch;
  #nextId = 1;
  /** id → { message, resolve, reject, onProgress, retried } */
  #pending = new Map();
  /** key → image (Blob or ImageData) of `decode`, newest last. */
  #images = new Map();
  #nextImageKey = 1;
  /** The last successful load's message, to load again after a restart. */
  #loadMessage = null;
  #ready = null;
  #closed = false;
  /** view → number of its newest classify call. */
  #calls = new Map();
  /** What the loaded model is (`load`'s result), or null. */
  model = null;
  /** Called with `{ message }` when the engine crashed and was started again. */
  onrestart = null;

  /**
   * Starts the engine worker (or takes the one `preload` started). `backend`: 'auto' (WebGPU
   * where the browser has it, else the CPU), 'webgpu' or 'cpu'. `threads`: the CPU path's threads
   * (default: up to 8 where the page is cross-origin isolated, else 1). `hub`: a Hugging Face
   * mirror's base URL for `hf:` ids. `module`: SE Lens's wasm already compiled on the page (the
   * app passes its own), or a promise of it, so the worker need not compile it again; used where
   * it is the build the worker needs.
   */
  static async create({ backend = 'auto', threads, hub, module } = {}) {
    let lens = SeLens.#spare;
    SeLens.#spare = null;
    if (lens?.#threads !== SeLens.#threadsFor(threads)) {
      lens?.close();
      lens = SeLens.#started(threads, module);
    }
    lens.#backend = backend;
    lens.#hub = hub;
    await lens.#ready;
    return lens;
  }

  /**
   * Starts an engine worker now, which the next `create` with the same `threads` takes: the
   * page's loader calls it with the promise of its own compiled module, so the worker starts and
   * reads its JavaScript while the page compiles the wasm, and instantiates the same module then.
   * `model`: the URL of a model folder to download and read meanwhile, which a later `load` of
   * the same URL takes (the loader names the app's default model); `images`: image URLs to
   * download meanwhile, for the first `classify` or `decode` of each (the sample the address names).
   */
  static preload({ threads, module, model, images = [] } = {}) {
    SeLens.#spare?.close();
    SeLens.#spare = SeLens.#started(threads, module, { model: model && absolute(model), images: images.map(absolute) });
    // A failed start shows in `create`, which takes this one.
    SeLens.#spare.#ready.catch(() => {});
  }

  /** A started engine worker, not taken yet by `create` (see `preload`). */
  static #spare = null;

  static #threadsFor(threads) {
    const isolated = self.crossOriginIsolated && navigator.hardwareConcurrency > 1;
    return isolated ? Math.max(1, threads ?? Math.min(navigator.hardwareConcurrency, 8)) : 1;
  }

  static #started(threads, module, prefetch = {}) {
    const lens = new SeLens();
    lens.#threads = SeLens.#threadsFor(threads);
    lens.#module = module ?? null;
    lens.#prefetch = prefetch;
    lens.#ready = lens.#start();
    return lens;
  }

  /**
   * Loads a model: a URL (a timm folder with config.json and model.safetensors, or an .onnx
   * file), 'hf:owner/name', `{ config, weights }` or `{ onnx, name, data }` (Blobs, Files,
   * ArrayBuffers or Uint8Arrays). `onnx`: how an ONNX file's input is prepared (OnnxOptions; it
   * carries no preprocessing of its own). Resolves to what the model is (ModelInfo).
   */
  async load(source, { onProgress, onnx } = {}) {
    if (onnx && typeof onnx === 'object') onnx = JSON.stringify(onnx);
    if (typeof source === 'string' && !source.startsWith('hf:')) source = absolute(source);
    const message = { type: 'load', source, backend: this.#backend, hub: this.#hub, onnx };
    this.model = await this.#request(message, [], onProgress);
    this.#loadMessage = message;
    return this.model;
  }

  /**
   * Classifies an image: a URL, a Blob or File, an ImageBitmap, an ImageData, or an <img>,
   * <canvas> or <video>. Options: `view` (a newer classification for the same view supersedes
   * an older one, which rejects with SupersededError; default 'default'), `topK` (5), `ablate`
   * (SE blocks whose gates are set to ones in a second run, `ablated`), `heatmaps` ('block' or
   * 'absolute': each block's heatmap as ImageData), `onProgress(done, all)`.
   */
  async classify(image, { view = 'default', onProgress, debug, ...options } = {}) {
    // The newest call for a view wins, whichever image is ready first.
    const call = (this.#calls.get(view) ?? 0) + 1;
    this.#calls.set(view, call);
    if (typeof image === 'string') {
      image = absolute(image);   // the engine worker fetches it
    } else if (!(image instanceof Blob || image instanceof ImageBitmap || image instanceof ImageData)) {
      image = await createImageBitmap(image);
    }
    if (this.#calls.get(view) !== call) throw new SupersededError();
    return this.#request({ type: 'classify', view, image, options, debug }, [], onProgress);
  }

  /** Sets the backend ('auto', 'webgpu', 'cpu') up again for the loaded model. */
  async setBackend(backend) {
    this.#backend = backend;
    if (this.#loadMessage) this.#loadMessage = { ...this.#loadMessage, backend };
    const reply = await this.#request({ type: 'job', view: 'backend', job: JSON.stringify({ job: 'set_backend', backend }) });
    const { name, adapter, fallback_reason: fallbackReason, note } = JSON.parse(reply.json);
    return { backend: name, adapter, fallbackReason, note };
  }

  /**
   * The app's own views (src/ui/protocol.rs): `job` is a Job's JSON, `image` `{ key }` (of
   * `decode`), `files` `[{ file, path }]`. Resolves to `{ json, pixels }`. Not a stable API.
   */
  job({ view = 'default', job, image, files, onProgress, debug }) {
    const call = (this.#calls.get(view) ?? 0) + 1;
    this.#calls.set(view, call);
    return this.#request({ type: 'job', view, job, image, files, debug }, [], onProgress);
  }

  /** Decodes an image (a Blob, an ImageData, or a URL the worker fetches) in the engine worker,
   * which keeps it for `job`s: `{ key, width, height }`. The app's; not a stable API. */
  async decode(image) {
    const key = this.#nextImageKey++;
    if (typeof image === 'string') image = absolute(image);
    // The images the engine keeps, to decode again in a restarted one.
    this.#images.set(key, image);
    for (const old of [...this.#images.keys()].slice(0, -KEPT_IMAGES)) this.#images.delete(old);
    return { key, ...(await this.#request({ type: 'decode', image, key })) };
  }

  /** Stops `view`'s running request at its next step (it rejects). */
  cancel(view) {
    this.#calls.set(view, (this.#calls.get(view) ?? 0) + 1);
    this.#worker?.postMessage({ type: 'cancel', view });
  }

  /** Stops the engine worker; pending requests reject. */
  close() {
    this.#closed = true;
    this.#worker?.terminate();
    for (const { reject } of this.#pending.values()) reject(new Error('SE Lens was closed'));
    this.#pending.clear();
  }

  async #start() {
    const worker = new Worker(new URL('./engine-worker.js', import.meta.url), { type: 'module', name: 'se-lens-engine' });
    this.#worker = worker;
    worker.onmessage = ({ data }) => this.#receive(worker, data);
    worker.onerror = (event) => {
      event.preventDefault();
      this.#crashed(worker, event.message || 'the engine worker failed');
    };
    const name = wasmBuild(this.#threads > 1);
    const glue = new URL(`./${name}.js`, import.meta.url).href;
    // The worker reads the module's JavaScript (and downloads what `preload` names) while the
    // wasm still compiles.
    worker.postMessage({ type: 'prepare', glue, ...this.#prefetch });
    this.#prefetch = {};
    // The threaded build imports its (shared) memory; the single-thread one makes its own.
    const threaded = (m) => WebAssembly.Module.imports(m).some((i) => i.kind === 'memory');
    const module = await Promise.resolve(this.#module).catch(() => null);
    this.#module = module instanceof WebAssembly.Module && threaded(module) === this.#threads > 1 ? module : null;
    const wasm = this.#module ?? new URL(`./${name}_bg.wasm`, import.meta.url).href;
    return this.#send({ type: 'init', glue, wasm, threads: this.#threads });
  }

  #send(message, transfer = [], onProgress) {
    const id = this.#nextId++;
    return new Promise((resolve, reject) => {
      this.#pending.set(id, { message, resolve, reject, onProgress, retried: false });
      this.#worker.postMessage({ ...message, id }, transfer);
    });
  }

  async #request(message, transfer = [], onProgress) {
    if (this.#closed) throw new Error('SE Lens was closed');
    await this.#ready;
    return this.#send(message, transfer, onProgress);
  }

  #receive(worker, data) {
    if (worker !== this.#worker) return;
    if (data.crashed !== undefined) return this.#crashed(worker, data.crashed);
    const entry = this.#pending.get(data.id);
    if (!entry) return;
    if (data.progress) return entry.onProgress?.(...data.progress);
    this.#pending.delete(data.id);
    if (data.ok) entry.resolve(data.result);
    else entry.reject(data.superseded ? new SupersededError(data.error) : new Error(data.error));
  }

  /** The engine died: a fresh worker, the last model loaded, and every interrupted request again
   * (once: a request that crashes the engine twice rejects). */
  async #crashed(worker, message) {
    if (worker !== this.#worker || this.#closed) return;
    worker.terminate();
    const interrupted = [...this.#pending.values()].filter((p) => p.message.type !== 'init');
    this.#pending.clear();
    // Requests made meanwhile wait for the model, not only for the worker.
    const loadMessage = this.#loadMessage;
    const images = [...this.#images];
    this.#ready = this.#start()
      .then(() => loadMessage && this.#send(loadMessage))
      .then(() => Promise.all(images.map(([key, image]) => this.#send({ type: 'decode', image, key }))));
    try {
      await this.#ready;
    } catch (error) {
      for (const p of interrupted) p.reject(new Error(`the engine crashed (${message}) and did not come back: ${error.message}`));
      return;
    }
    this.onrestart?.({ message });
    for (const p of interrupted) {
      if (p.retried) {
        p.reject(new Error(`the engine crashed again on this request: ${message}`));
        continue;
      }
      // Run again without the debug switch that asked for the crash.
      const { debug, ...again } = p.message;
      const id = this.#nextId++;
      this.#pending.set(id, { ...p, message: again, retried: true });
      this.#worker.postMessage({ ...again, id });
    }
  }
}
