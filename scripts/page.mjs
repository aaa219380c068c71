// Writes the built page, dist/index.html, from index.html (the page's source) once both wasm
// builds are in dist/ (scripts/build-web.sh): the stylesheet, crash.js and offline.js copied under
// names that carry their content's hash, the loader that picks a build, a Content-Security-Policy,
// and the web app manifest with its icons. (scripts/service-worker.mjs then writes dist/sw.js.)
//
// On a host that sends no COOP/COEP headers the first visit is not cross-origin isolated; from the
// second on the service worker adds them (www/sw.js), so the threaded build runs there too.
//
// The loader loads the build with wasm threads where the page is cross-origin isolated and may
// share memory with Web Workers, the single-thread build elsewhere (static hosts without
// COOP/COEP headers); each with relaxed SIMD where the browser has it (www/selens.js's
// `wasmBuild`, which the engine worker's build comes from too). It also defines `seLensBoot`, which www/crash.js calls to start the app again
// after a crash, and dispatches `se-lens-started` (with the wasm exports) once the app runs.
//
// The policy allows the one inline script (the loader) by its SHA-256, so it needs no
// 'unsafe-inline' for scripts and no 'unsafe-eval' ('wasm-unsafe-eval' only lets WebAssembly
// compile). Styles allow inline attributes: Yew sets `style` on elements. Requests may go to the
// page's own origin, and to the Hugging Face hub (or a mirror on this machine) only when the user
// asks for a hub model.
//
// usage: node scripts/page.mjs DIST SINGLE THREADED SINGLE_RELAXED THREADED_RELAXED
//        (the four builds' names, each NAME.js + NAME_bg.wasm in DIST)
import { createHash } from 'node:crypto';
import { copyFileSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { basename, extname } from 'node:path';

const [dist, single, threaded, singleRelaxed, threadedRelaxed] = process.argv.slice(2);
if (!threadedRelaxed) throw new Error('usage: page.mjs DIST SINGLE THREADED SINGLE_RELAXED THREADED_RELAXED');

const sha256 = (bytes) => createHash('sha256').update(bytes);

/** Copies `file` into dist as `<name>-<hash>.<ext>`; returns the new name. */
function hashed(file) {
  const body = readFileSync(file);
  const ext = extname(file);
  const name = `${basename(file, ext)}-${sha256(body).digest('hex').slice(0, 16)}${ext}`;
  copyFileSync(file, `${dist}/${name}`);
  return name;
}

// The app's default model (src/ui/model_bar.rs), which the loader has the engine download early.
const DEFAULT_MODEL = /pub const DEFAULT_MODEL: &str = "([^"]+)";/.exec(readFileSync('src/ui/model_bar.rs', 'utf8'))[1];
// Where the app's samples are (src/ui/input.rs): the one the address names is downloaded early too.
const SAMPLES = /pub const SAMPLES: &str = "([^"]+)";/.exec(readFileSync('src/ui/input.rs', 'utf8'))[1];

const loader = `
// The engine runs in a worker behind the JavaScript API, which the app uses like any page.
// (Imported statically, so that it downloads while the page is parsed.)
import { SeLens, wasmBuild } from './selens.js';
window.SeLens = SeLens;
const threads = self.crossOriginIsolated && navigator.hardwareConcurrency > 1 ? Math.min(navigator.hardwareConcurrency, 8) : 1;
/** The wasm at \`url\`, compiled as it downloads where the host sends it as application/wasm. */
async function compile(url) {
  const response = await fetch(url);
  if (!response.ok) throw new Error(\`\${url}: HTTP \${response.status}\`);
  if (response.headers.get('content-type')?.startsWith('application/wasm')) return WebAssembly.compileStreaming(response);
  return WebAssembly.compile(await response.arrayBuffer());
}
async function boot(fresh = false) {
  const build = wasmBuild(threads > 1);
  const glue = new URL(\`./\${build}.js\`, document.baseURI).href + (fresh ? \`?restart=\${Date.now()}\` : '');
  // Compiled once, for the page and for the engine worker, which starts now rather than when the
  // app asks for it, so that it is ready about when the app is.
  // Meanwhile it downloads the default model, unless the address names another one or the app
  // starts again after a crash (with the model it had), and the sample the address names.
  const module = compile(new URL(\`./\${build}_bg.wasm\`, document.baseURI));
  const address = new URLSearchParams(location.search);
  const model = fresh || address.has('model') ? undefined : '${DEFAULT_MODEL}';
  const images = !fresh && address.has('sample') ? [\`${SAMPLES}/\${address.get('sample')}\`] : [];
  SeLens.preload({ module, model, images });
  const bindings = await import(glue);
  const wasm = await bindings.default({ module_or_path: await module });
  return { bindings, wasm };
}
window.seLensBoot = boot;
const { bindings, wasm } = await boot();
window.wasmBindings = bindings;
dispatchEvent(new CustomEvent('se-lens-started', { detail: { wasm } }));
`;

const policy = [
  "default-src 'none'",
  `script-src 'self' 'wasm-unsafe-eval' 'sha256-${sha256(loader).digest('base64')}'`,
  "style-src 'self' 'unsafe-inline'",
  "img-src 'self' blob: data:",
  "media-src 'self' blob: mediastream:",
  // The CPU path's threads are Web Workers made from a script in a blob (src/cpu/threads.rs); the
  // service worker (www/sw.js) is the page's own sw.js.
  "worker-src 'self' blob:",
  "manifest-src 'self'",
  "connect-src 'self' blob: https://huggingface.co https://*.huggingface.co https://*.hf.co " +
    'http://127.0.0.1:* http://localhost:*',
  "base-uri 'none'",
  "form-action 'none'",
  "object-src 'none'",
].join('; ');

const fill = {
  '{{csp}}': policy,
  '{{style}}': `./${hashed('www/style.css')}`,
  '{{crash}}': `./${hashed('www/crash.js')}`,
  '{{offline}}': `./${hashed('www/offline.js')}`,
  '{{loader}}': loader,
};
let html = readFileSync('index.html', 'utf8');
for (const [key, value] of Object.entries(fill)) {
  if (!html.includes(key)) throw new Error(`index.html has no ${key}`);
  html = html.replaceAll(key, value);
}
writeFileSync(`${dist}/index.html`, html);

// The JavaScript API (www/selens.js, with this build's module names), its engine worker, its
// types, and the example that embeds one heatmap (www/embed/). Their names stay fixed: other
// pages import them.
let api = readFileSync('www/selens.js', 'utf8');
for (const [key, value] of Object.entries({ '{{single}}': single, '{{threaded}}': threaded, '{{singleRelaxed}}': singleRelaxed, '{{threadedRelaxed}}': threadedRelaxed })) {
  if (!api.includes(key)) throw new Error(`www/selens.js has no ${key}`);
  api = api.replaceAll(key, value);
}
writeFileSync(`${dist}/selens.js`, api);
for (const file of ['engine-worker.js', 'selens.d.ts']) copyFileSync(`www/${file}`, `${dist}/${file}`);
mkdirSync(`${dist}/embed`, { recursive: true });
copyFileSync('www/embed/index.html', `${dist}/embed/index.html`);

// Installable: a web app manifest, its URLs relative to itself (so any sub-path works), and icons
// (tools/make_icons.py).
mkdirSync(`${dist}/icons`, { recursive: true });
for (const icon of ['icon-192.png', 'icon-512.png', 'icon-maskable-512.png']) copyFileSync(`assets/icons/${icon}`, `${dist}/icons/${icon}`);
const manifest = {
  id: './',
  name: 'SE Lens',
  short_name: 'SE Lens',
  description: 'Classify images in your browser and see which channels each Squeeze-and-Excitation block amplifies',
  start_url: './',
  scope: './',
  display: 'standalone',
  background_color: '#0f1419',
  theme_color: '#0f1419',
  icons: [
    { src: 'icons/icon-192.png', sizes: '192x192', type: 'image/png', purpose: 'any' },
    { src: 'icons/icon-512.png', sizes: '512x512', type: 'image/png', purpose: 'any' },
    { src: 'icons/icon-maskable-512.png', sizes: '512x512', type: 'image/png', purpose: 'maskable' },
  ],
};
writeFileSync(`${dist}/manifest.webmanifest`, `${JSON.stringify(manifest, null, 2)}\n`);
console.log(`page: ${threaded} when cross-origin isolated, ${single} elsewhere (${threadedRelaxed}, ${singleRelaxed} with relaxed SIMD)`);
