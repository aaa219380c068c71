// The README's pictures, taken from the built app in headless Chromium: the screenshot at the top
// and the tour's image series (assets/screenshot.png, assets/tour/*.png). `make screenshots`.
import { mkdirSync } from 'node:fs';
import { ISOLATION, serve } from './serve.mjs';
import { classified, launch, recordConsole } from '../tests/e2e/harness.mjs';

const PORT = 8393;
const TOUR = 'assets/tour';
const PHOTO = 'tests/fixtures/preprocess/chelsea.png';

mkdirSync(TOUR, { recursive: true });
const server = await serve('dist', PORT, '/', ISOLATION);
const browser = await launch();
try {
  const page = await browser.newPage({ viewport: { width: 1200, height: 860 } });
  recordConsole(page);
  const shot = async (name) => {
    await page.screenshot({ path: `${TOUR}/${name}.png` });
    console.log(`${TOUR}/${name}.png`);
  };
  /** Scrolls so that the element with this test id starts `margin` pixels below the top. */
  const scrollTo = (testId, margin) => page.getByTestId(testId).evaluate((element, margin) =>
    window.scrollTo(0, element.getBoundingClientRect().top + window.scrollY - margin), margin);

  // 1. A sample: its prediction and every SE block's gates.
  await page.goto(`http://127.0.0.1:${PORT}/?sample=fmnist-ankle-boot-0.png&backend=cpu`);
  await classified(page);
  await page.screenshot({ path: 'assets/screenshot.png' });
  await scrollTo('heatmap-layer1.0.se', 90);
  await page.getByTestId('heatmap-layer1.0.se').hover({ position: { x: 250, y: 10 } });
  await shot('1-gates');

  // 2. A channel: its feature map before and after its gate.
  await page.getByTestId('heatmap-layer1.0.se').click({ position: { x: 60, y: 6 } });
  await page.getByTestId('channel-detail').waitFor();
  await scrollTo('channel-detail', 120);
  await shot('2-channel');

  // 3. A photo of one's own, brought to the dataset's look first.
  await page.getByTestId('file-input').setInputFiles(PHOTO);
  await classified(page, 2);
  await page.evaluate(() => window.scrollTo(0, 0));
  await shot('3-photo');

  // 4. One SE block step by step: squeeze, excitation, gate, scale.
  await page.getByTestId('teach-open').click();
  await page.getByTestId('teach-gate').waitFor();
  await scrollTo('teach', 20);
  await shot('4-steps');

  // 5. Two images compared: B − A for every block.
  await page.getByTestId('sample-fmnist-ankle-boot-0.png').click();
  await classified(page, 3);
  await page.getByTestId('pin').click();
  await page.getByTestId('sample-fmnist-sandal-8.png').click();
  await classified(page, 4);
  await page.getByTestId('compare').waitFor();
  await scrollTo('compare', 20);
  await shot('5-compare');
} finally {
  await browser.close();
  server.close();
}
