// Replaces Trunk's wasm loader in the built page (dist/index.html, run by build-web.sh before
// csp.mjs) with one that picks the build: the one with wasm threads (built by build-web.sh beside
// Trunk's) where the page is cross-origin isolated and may share memory with Web Workers, Trunk's
// single-thread one elsewhere (static hosts without COOP/COEP headers). It also defines
// `seLensBoot`, which www/crash.js calls to start the app again after a crash.
// usage: node scripts/loader.mjs dist/index.html NAME  (the threaded build: NAME.js, NAME_bg.wasm)
import { readFileSync, writeFileSync } from 'node:fs';

const [file = 'dist/index.html', threaded] = process.argv.slice(2);
if (!threaded) throw new Error('usage: loader.mjs INDEX_HTML THREADED_NAME');
let html = readFileSync(file, 'utf8');
const glue = html.match(/import init, \* as bindings from '(\.\/app-[0-9a-f]+\.js)';/)?.[1];
const wasm = html.match(/module_or_path: '(\.\/app-[0-9a-f]+_bg\.wasm)'/)?.[1];
if (!glue || !wasm) throw new Error(`${file}: Trunk's loader not found (a new Trunk version?)`);

const loader = `<script type="module">
const threads = self.crossOriginIsolated && navigator.hardwareConcurrency > 1 ? Math.min(navigator.hardwareConcurrency, 8) : 1;
const build = threads > 1 ? { glue: './${threaded}.js', wasm: './${threaded}_bg.wasm' } : { glue: '${glue}', wasm: '${wasm}' };
async function boot(fresh = false) {
  const glue = new URL(build.glue, document.baseURI).href + (fresh ? \`?restart=\${Date.now()}\` : '');
  const bindings = await import(glue);
  const wasm = await bindings.default({ module_or_path: new URL(build.wasm, document.baseURI) });
  if (threads > 1) bindings.startCpuThreads(glue, threads);
  return { bindings, wasm };
}
window.seLensBoot = boot;
const { bindings, wasm } = await boot();
window.wasmBindings = bindings;
dispatchEvent(new CustomEvent('TrunkApplicationStarted', { detail: { wasm } }));
</script>`;

const before = html;
html = html
  .replace(/<script type="module">[\s\S]*?TrunkApplicationStarted[\s\S]*?<\/script>/, loader)
  .replace(/<link rel="modulepreload"[^>]*>/, '')
  .replace(/<link rel="preload" href="[^"]*_bg\.wasm"[^>]*>/, '');
if (html === before || !html.includes('seLensBoot')) throw new Error(`${file}: could not replace the loader`);
writeFileSync(file, html);
console.log(`loader: ${threaded} when cross-origin isolated, ${glue.slice(2)} elsewhere`);
