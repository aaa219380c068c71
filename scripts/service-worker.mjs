// Writes DIST/sw.js, the service worker (www/sw.js), for the build in DIST: the list of its files
// to cache for offline use, and BUILD, a hash of all of them (names and bytes), which names the
// cache and makes the script differ byte for byte whenever any file does, which is how browsers
// find a new deploy. Run last by scripts/build-web.sh, when DIST holds everything else.
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

writeFileSync(join(dist, 'sw.js'), [
  `const BUILD = '${build}';`,
  `const FILES = ${JSON.stringify(files)};`,
  readFileSync('www/sw.js', 'utf8'),
].join('\n'));
console.log(`service worker: build ${build}, ${files.length} files cached for offline use`);
