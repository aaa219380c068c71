// Writes DIST/sw.js, the service worker (www/sw.js), for the build in DIST: the list of its files
// to cache for offline use; which of them are the wasm builds with relaxed SIMD (RELAXED_FILES)
// and which their SIMD128 twins (SIMD128_FILES), with www/selens.js's probe for relaxed SIMD
// (RELAXED_SIMD), so that a browser caches only the builds it can load; and BUILD, a hash of all
// of them (names and bytes), which names the cache and makes the script differ byte for byte
// whenever any file does, which is how browsers find a new deploy. Run last by
// scripts/build-web.sh, when DIST holds everything else.
//
// usage: node scripts/service-worker.mjs DIST
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, relative, sep } from 'node:path';

const [dist] = process.argv.slice(2);
if (!dist) throw new Error('usage: service-worker.mjs DIST');

const files = readdirSync(dist, { recursive: true, withFileTypes: true })
  .filter((entry) => entry.isFile())
  .map((entry) => relative(dist, join(entry.parentPath ?? entry.path, entry.name)).split(sep).join('/'))
  .filter((file) => file !== 'sw.js')
  .sort();
const hash = createHash('sha256');
for (const file of files) hash.update(file).update('\0').update(readFileSync(join(dist, file))).update('\0');
const build = hash.digest('hex').slice(0, 16);

// app-<hash> and app-threads-<hash> (SIMD128), app-relaxed-<hash> and app-threads-relaxed-<hash>.
const wasmBuild = (file) => /^app(?:-threads)?(-relaxed)?-[0-9a-f]{16}(?:_bg\.wasm|\.js)$/.exec(file);
const relaxedFiles = files.filter((file) => wasmBuild(file)?.[1]);
const simd128Files = files.filter((file) => wasmBuild(file) && !wasmBuild(file)[1]);
if (!relaxedFiles.length || relaxedFiles.length !== simd128Files.length) throw new Error(`${dist}: not two sets of wasm builds`);
// The probe, as www/selens.js defines it (one definition for the page, the API and this worker).
const probe = /^export const RELAXED_SIMD = (WebAssembly\.validate\([\s\S]*?\)\));$/m.exec(readFileSync(join(dist, 'selens.js'), 'utf8'));
if (!probe) throw new Error('www/selens.js defines no RELAXED_SIMD probe');

writeFileSync(join(dist, 'sw.js'), [
  `const BUILD = '${build}';`,
  `const FILES = ${JSON.stringify(files)};`,
  `const RELAXED_FILES = ${JSON.stringify(relaxedFiles)};`,
  `const SIMD128_FILES = ${JSON.stringify(simd128Files)};`,
  `const RELAXED_SIMD = ${probe[1]};`,
  readFileSync('www/sw.js', 'utf8'),
].join('\n'));
console.log(`service worker: build ${build}, ${files.length - relaxedFiles.length} files cached for offline use (of ${files.length}: one SIMD variant)`);
