// `make e2e-stress`: opens the built app (dist/) N times in fresh pages, alternating its two builds
// (cross-origin isolated, so wasm threads; and a plain static host, one thread), each on a sample
// given in the URL, and reports how many pages reached their first result and how long it took
// (from navigation start). A page that does not get there within TIMEOUT seconds is described
// (status, runs, threads, console) and counted as a failure; the exit status is 1 if any was.
//
//   N=300 KEEP=0 PARALLEL=1 BACKEND=auto TIMEOUT=60 node tests/e2e/stress.mjs
//
// KEEP pages stay open behind the newest (as the e2e suite leaves them); PARALLEL pages load at
// once. Results: target/e2e-stress.json.
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { ISOLATION, serve } from '../../scripts/serve.mjs';
import { classified, describe, launch, recordConsole, timeFirstResult } from './harness.mjs';

const env = (name, fallback) => Number(process.env[name] ?? fallback);
const N = env('N', 300);
const KEEP = env('KEEP', 0);
const PARALLEL = env('PARALLEL', 1);
const TIMEOUT = env('TIMEOUT', 60) * 1000;
const BACKEND = process.env.BACKEND ?? 'auto';
const BASE = '/se-lens/';
const BUILDS = [
  { name: 'threads (cross-origin isolated)', port: 8491, headers: ISOLATION },
  { name: 'one thread (plain static host)', port: 8492, headers: {} },
];

const samples = JSON.parse(readFileSync('dist/assets/samples/index.json', 'utf8')).map((s) => s.file ?? s);
const servers = await Promise.all(BUILDS.map((b) => serve('dist', b.port, BASE, b.headers)));
const browser = await launch();
const results = BUILDS.map(() => ({ times: [], failures: [] }));
const open = [];
let started = 0;

async function load(i) {
  const which = i % BUILDS.length;
  const build = BUILDS[which];
  const sample = samples[Math.floor(i / BUILDS.length) % samples.length];
  const page = await browser.newPage();
  recordConsole(page);
  await timeFirstResult(page);
  try {
    await page.goto(`http://127.0.0.1:${build.port}${BASE}?sample=${sample}&backend=${BACKEND}`);
    await classified(page, 1, TIMEOUT);
    results[which].times.push(await page.evaluate(() => window.firstResultMs));
  } catch (error) {
    const what = `load ${i + 1} (${build.name}, ${sample}): ${error.message.split('\n')[0]}\n${await describe(page)}`;
    console.log(`FAILED ${what}`);
    results[which].failures.push(what);
  }
  open.push(page);
  while (open.length > KEEP) await open.shift().close();
}

const wall = Date.now();
await Promise.all(Array.from({ length: PARALLEL }, async () => {
  while (started < N) {
    const i = started++;
    await load(i);
    if ((i + 1) % 50 === 0) console.log(`${i + 1} of ${N} loads (${((Date.now() - wall) / 1000).toFixed(0)} s)`);
  }
}));
await browser.close();
servers.forEach((s) => s.close());

const quantile = (sorted, q) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
const summary = BUILDS.map((build, k) => {
  const { times, failures } = results[k];
  const sorted = [...times].sort((a, b) => a - b);
  const loads = times.length + failures.length;
  const ms = sorted.length ? {
    min: sorted[0], median: quantile(sorted, 0.5), p95: quantile(sorted, 0.95), max: sorted.at(-1),
  } : null;
  const spread = ms ? Object.entries(ms).map(([k, v]) => `${k} ${v.toFixed(0)}`).join(', ') : 'none';
  console.log(`${build.name}: ${times.length} of ${loads} loads reached a first result; ms from navigation: ${spread}`);
  return { build: build.name, loads, reached: times.length, ms, failures };
});
console.log(`(N=${N} KEEP=${KEEP} PARALLEL=${PARALLEL} BACKEND=${BACKEND}, ${((Date.now() - wall) / 1000).toFixed(0)} s)`);
mkdirSync('target', { recursive: true });
writeFileSync('target/e2e-stress.json', JSON.stringify({ N, KEEP, PARALLEL, BACKEND, summary }, null, 2));
process.exit(summary.every((s) => s.failures.length === 0) ? 0 : 1);
