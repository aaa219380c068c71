import { chromium } from 'playwright-core';
import { ISOLATION, serve } from './serve.mjs';
const server = await serve('target/bench-site', 8503, '/', ISOLATION);
const browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: ['--no-sandbox'] });
for (const q of process.argv.slice(2)) {
  const page = await browser.newPage();
  await page.goto(`http://127.0.0.1:8503/?${q}`);
  await page.waitForFunction(() => window.benchResult || window.benchError, null, { timeout: 300000 });
  const r = await page.evaluate(() => window.benchResult ?? window.benchError);
  console.log(q, r.medianMs?.toFixed(2), r.minMs?.toFixed(2), r.error ?? '', r.logits ? r.logits.slice(0, 3).map((v) => v.toFixed(5)).join(' ') : '');
  await page.close();
}
await browser.close(); server.close();
