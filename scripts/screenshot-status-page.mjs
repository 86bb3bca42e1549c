// Screenshot of the demo's live status page for the README: starts `greenhub demo --load`, lets
// the page collect several seconds of data in headless Chromium, and writes docs/status-page.png.
//
//   npm run build && node scripts/screenshot-status-page.mjs
//
// Needs Chromium (CHROMIUM=/path/to/chromium, default /usr/bin/chromium) and playwright-core (a
// dev dependency).
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const root = fileURLToPath(new URL('..', import.meta.url));
const out = `${root}docs/status-page.png`;
const demo = spawn(process.execPath, ['dist/cli/main.js', 'demo', '--port', '0', '--load', '30', '--quiet'], {
  cwd: root,
  stdio: ['ignore', 'pipe', 'inherit'],
});
try {
  const port = await new Promise((resolve, reject) => {
    let text = '';
    demo.stdout.setEncoding('utf8').on('data', (chunk) => {
      text += chunk;
      const m = text.match(/\{"listening":(\d+)\}/);
      if (m) resolve(Number(m[1]));
    });
    demo.once('exit', (code) => reject(new Error(`the demo exited with ${code} before listening`)));
  });
  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--no-first-run',
      '--disable-background-networking',
    ],
  });
  try {
    const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    await page.goto(`http://127.0.0.1:${port}/`);
    // Ten updates: every chart has a few seconds of history under load.
    await page.waitForFunction('window.greenhubStatus.updates >= 10', null, { timeout: 30_000 });
    await page.screenshot({ path: out, fullPage: true });
    console.log(`wrote ${out}`);
  } finally {
    await browser.close();
  }
} finally {
  demo.kill('SIGTERM');
}
