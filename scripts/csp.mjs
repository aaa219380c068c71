// Adds a Content-Security-Policy to the built page (dist/index.html), run by build-web.sh after
// Trunk. Trunk writes one inline module script (the wasm loader); it is allowed by its SHA-256, so
// the policy needs no 'unsafe-inline' for scripts and no 'unsafe-eval' ('wasm-unsafe-eval' only
// lets WebAssembly compile). Styles allow inline attributes: Yew sets `style` on elements.
// Requests may go to the page's own origin, and to the Hugging Face hub (or a mirror on this
// machine) only when the user asks for a hub model.
import { createHash } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';

const file = process.argv[2] ?? 'dist/index.html';
let html = readFileSync(file, 'utf8');
if (html.includes('http-equiv="Content-Security-Policy"')) throw new Error(`${file} already has a CSP`);
const hashes = [...html.matchAll(/<script(?![^>]*\bsrc=)[^>]*>([\s\S]*?)<\/script>/g)]
  .map(([, body]) => `'sha256-${createHash('sha256').update(body, 'utf8').digest('base64')}'`);
const policy = [
  "default-src 'none'",
  `script-src 'self' 'wasm-unsafe-eval' ${hashes.join(' ')}`,
  "style-src 'self' 'unsafe-inline'",
  "img-src 'self' blob: data:",
  "media-src 'self' blob: mediastream:",
  // The CPU path's threads are Web Workers made from a script in a blob (src/cpu/threads.rs).
  "worker-src blob:",
  "connect-src 'self' blob: https://huggingface.co https://*.huggingface.co https://*.hf.co " +
    'http://127.0.0.1:* http://localhost:*',
  "base-uri 'none'",
  "form-action 'none'",
  "object-src 'none'",
].join('; ');
html = html.replace(/(<meta charset="utf-8"\s*\/?>)/, `$1\n    <meta http-equiv="Content-Security-Policy" content="${policy}" />`);
if (!html.includes('Content-Security-Policy')) throw new Error(`${file}: no <meta charset> to put the CSP after`);
writeFileSync(file, html);
console.log(`CSP: ${hashes.length} inline script(s) allowed by hash`);
