// One engine, one model, timed in this page: SE Lens (its wasm CPU path or WebGPU) or ONNX Runtime
// Web (its wasm or WebGPU execution provider) on the same SE-ResNet-50 weights and the same input.
// scripts/bench-web.mjs loads the page once per configuration and compares the results.
// SE Lens's CPU path on threads runs where the app runs it, in a worker (this same module).

const params = new URLSearchParams(location.search);
const ENGINE = params.get('engine') ?? 'selens-cpu';
const THREADS = Number(params.get('threads') ?? 1);
const RUNS = Number(params.get('runs') ?? 10);
const WARMUP = Number(params.get('warmup') ?? 2);
// The benchmark's model unless a quick experiment asks for another folder under models/.
const MODEL = `models/${params.get('model') ?? 'seresnet50'}`;
const SIZE = Number(params.get('size') ?? 224);
const CHANNELS = Number(params.get('channels') ?? 3);

/** A fixed input, [1, CHANNELS, SIZE, SIZE], O(1) values like a normalised image. */
function input() {
  const data = new Float32Array(CHANNELS * SIZE * SIZE);
  for (let i = 0; i < data.length; i++) data[i] = Math.sin(i * 0.001) + 0.5 * Math.cos(i * 0.37);
  return data;
}

async function bytes(path) {
  const response = await fetch(path);
  if (!response.ok) throw new Error(`${path}: HTTP ${response.status}`);
  return new Uint8Array(await response.arrayBuffer());
}

/** SE Lens: `run(data)` resolves to the logits. With THREADS > 1, its build with wasm threads;
 * `relaxed`, its relaxed-SIMD build (engine `selens-cpu-relaxed`). */
async function selens(backend, relaxed = false) {
  const pkg = `./pkg${THREADS > 1 ? '-threads' : ''}${relaxed ? '-relaxed' : ''}/bench-web.js`;
  const glue = new URL(pkg, import.meta.url).href;
  const { default: init, Engine, startCpuThreads, cpuThreads } = await import(glue);
  const wasm = await init();
  if (THREADS > 1) {
    if (!self.crossOriginIsolated) throw new Error('threads need a cross-origin isolated page');
    await Promise.race([startCpuThreads(glue, THREADS), new Promise((resolve) => setTimeout(resolve, 10_000))]);
    if (cpuThreads() < THREADS) throw new Error(`only ${cpuThreads()} of ${THREADS} threads started`);
  }
  const engine = await Engine.load(await bytes(`${MODEL}/config.json`), await bytes(`${MODEL}/model.safetensors`), backend);
  return {
    backend: engine.backend(),
    fallback: engine.fallbackReason() ?? null,
    run: (data) => engine.run(data, SIZE, SIZE),
    memory: () => wasm.memory.buffer.byteLength,
  };
}

/** ONNX Runtime Web with one execution provider (`wasm` or `webgpu`). */
async function onnxRuntime(provider) {
  const ort = await import('./ort/ort.all.min.mjs');
  ort.env.wasm.wasmPaths = new URL('./ort/', location.href).href;
  ort.env.wasm.numThreads = THREADS;
  const session = await ort.InferenceSession.create(await bytes(`${MODEL}.onnx`), {
    executionProviders: [provider],
    graphOptimizationLevel: 'all',
  });
  return {
    backend: `${provider} ${ort.env.versions?.web ?? ''}`.trim(),
    fallback: null,
    run: async (data) => {
      const feeds = { [session.inputNames[0]]: new ort.Tensor('float32', data, [1, CHANNELS, SIZE, SIZE]) };
      const output = await session.run(feeds);
      return output[session.outputNames[0]].getData();
    },
    memory: () => null,
  };
}

async function main() {
  const started = performance.now();
  const engine = {
    'selens-cpu': () => selens('cpu'),
    'selens-cpu-relaxed': () => selens('cpu', true),
    'selens-webgpu': () => selens('webgpu'),
    'ort-wasm': () => onnxRuntime('wasm'),
    'ort-webgpu': () => onnxRuntime('webgpu'),
  }[ENGINE];
  if (!engine) throw new Error(`unknown engine ${ENGINE}`);
  const bench = await engine();
  const loadMs = performance.now() - started;
  const data = input();
  let logits;
  for (let i = 0; i < WARMUP; i++) logits = await bench.run(data);
  const times = [];
  for (let i = 0; i < RUNS; i++) {
    const t0 = performance.now();
    logits = await bench.run(data);
    times.push(performance.now() - t0);
  }
  times.sort((a, b) => a - b);
  return {
    engine: ENGINE,
    threads: ENGINE.endsWith('webgpu') ? 1 : THREADS,
    crossOriginIsolated: self.crossOriginIsolated,
    backend: bench.backend,
    fallback: bench.fallback,
    loadMs,
    runs: RUNS,
    warmup: WARMUP,
    medianMs: times[Math.floor(times.length / 2)],
    minMs: times[0],
    wasmMemoryBytes: bench.memory(),
    logits: Array.from(logits),
  };
}

/** `main()` in a worker running this module. */
function inWorker() {
  return new Promise((resolve, reject) => {
    const worker = new Worker(new URL(`bench.mjs${location.search}`, import.meta.url), { type: 'module' });
    worker.onmessage = ({ data }) => (data.error ? reject(data.error) : resolve(data.result));
    worker.onerror = (event) => reject(event.message);
  });
}

if (typeof document === 'undefined') {
  main().then((result) => postMessage({ result }), (error) => postMessage({ error: String(error?.stack ?? error) }));
} else {
  (ENGINE.startsWith('selens-cpu') && THREADS > 1 ? inWorker() : main()).then(
    (result) => {
      window.benchResult = result;
      document.getElementById('result').textContent = JSON.stringify({ ...result, logits: `${result.logits.length} values` }, null, 2);
    },
    (error) => {
      window.benchError = String(error?.stack ?? error);
      document.getElementById('result').textContent = window.benchError;
    },
  );
}
