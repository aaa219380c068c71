// A static file server for dist/ on 127.0.0.1 with correct MIME types (wasm!).
// usage: node scripts/serve.mjs DIR PORT [BASE]   e.g. BASE=/se-lens/ to mimic a sub-path host.
// From the command line (`make run`) it sends the cross-origin isolation headers, so the app loads
// its build with wasm threads; a static host without them gets the single-thread build.
// The e2e tests also use it, with a CORS header, as a stand-in for the Hugging Face hub.
import { createServer } from 'node:http';
import { readFile, stat } from 'node:fs/promises';
import { extname, join, normalize, resolve } from 'node:path';

const TYPES = {
  '.html': 'text/html; charset=utf-8', '.js': 'text/javascript', '.mjs': 'text/javascript',
  '.css': 'text/css', '.wasm': 'application/wasm', '.json': 'application/json',
  '.png': 'image/png', '.jpg': 'image/jpeg', '.svg': 'image/svg+xml', '.ico': 'image/x-icon',
  '.safetensors': 'application/octet-stream', '.txt': 'text/plain; charset=utf-8',
  '.webmanifest': 'application/manifest+json', '.ts': 'text/plain; charset=utf-8', '.md': 'text/markdown; charset=utf-8',
};

/** The headers that make a page cross-origin isolated (SharedArrayBuffer, so wasm threads). */
export const ISOLATION = {
  'cross-origin-opener-policy': 'same-origin',
  'cross-origin-embedder-policy': 'require-corp',
};

export function serve(dir, port, base = '/', headers = {}) {
  const root = resolve(dir);
  const server = createServer(async (request, response) => {
    const path = decodeURIComponent(new URL(request.url, 'http://x').pathname);
    if (!path.startsWith(base)) return send(response, 404, 'not found');
    let file = normalize(join(root, path.slice(base.length)));
    if (!file.startsWith(root)) return send(response, 403, 'forbidden');
    try {
      if ((await stat(file)).isDirectory()) file = join(file, 'index.html');
      const body = await readFile(file);
      response.writeHead(200, {
        'content-type': TYPES[extname(file)] ?? 'application/octet-stream',
        'content-length': body.length,
        ...headers,
      });
      response.end(body);
    } catch {
      send(response, 404, 'not found');
    }
  });
  return new Promise((ready) => server.listen(port, '127.0.0.1', () => ready(server)));
}

function send(response, status, text) {
  response.writeHead(status, { 'content-type': 'text/plain' });
  response.end(text);
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const [dir = 'dist', port = '8080', base = '/'] = process.argv.slice(2);
  await serve(dir, Number(port), base, ISOLATION);
  console.log(`SE Lens is served at http://127.0.0.1:${port}${base}  (Ctrl-C to stop)`);
}
