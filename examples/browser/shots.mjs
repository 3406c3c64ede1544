// Screenshots of lwin's pages in headless Chromium (the issue's "see it" evidence):
//   node examples/browser/shots.mjs study <out.png> [study-config.json]   the browser study page after its run
//   node examples/browser/shots.mjs report <report.html> <out.png> [heading]   a report written by `lwin report`/`lwin run`
//                                                                         (only the section whose heading starts so)
import { mkdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { buildBrowserExample } from './build.mjs';
import { launchChromium, serveDirectory } from './harness.mjs';

const USAGE = 'usage: node examples/browser/shots.mjs study <out.png> [config.json] | report <report.html> <out.png> [section heading]';

async function shootStudy(out, configFile) {
  const config = configFile ? await readFile(configFile, 'utf8') : '';
  const { outdir } = await buildBrowserExample();
  const server = await serveDirectory(outdir);
  const browser = await launchChromium();
  try {
    const page = await browser.newPage({ viewport: { width: 1100, height: 800 } });
    await page.goto(`${server.origin}/study.html${config ? `?config=${encodeURIComponent(config)}` : ''}`);
    await page.waitForFunction(() => window.lwinStudy !== undefined || window.lwinError !== undefined, undefined, { timeout: 1_800_000, polling: 500 });
    await page.screenshot({ path: out, fullPage: true });
    const error = await page.evaluate(() => window.lwinError);
    if (error) throw new Error(`the study page failed: ${error}`);
  } finally {
    await browser.close();
    await server.close();
  }
}

async function shootReport(report, out, heading) {
  const browser = await launchChromium();
  try {
    const page = await browser.newPage({ viewport: { width: 1200, height: 900 } });
    await page.goto(pathToFileURL(path.resolve(report)).href);
    if (!heading) {
      await page.screenshot({ path: out, fullPage: true });
      return;
    }
    const startsWith = new RegExp(`^\\s*${heading.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}`, 'i');
    const section = page.locator('body > section').filter({ has: page.locator('h2', { hasText: startsWith }) });
    if ((await section.count()) === 0) throw new Error(`no section of ${report} has a heading starting with "${heading}"`);
    await section.first().screenshot({ path: out });
  } finally {
    await browser.close();
  }
}

const [what, a, b, c] = process.argv.slice(2);
if (what === 'study' && a) {
  await mkdir(path.dirname(path.resolve(a)), { recursive: true });
  await shootStudy(a, b);
  console.log(`screenshot: ${a}`);
} else if (what === 'report' && a && b) {
  await mkdir(path.dirname(path.resolve(b)), { recursive: true });
  await shootReport(a, b, c);
  console.log(`screenshot: ${b}`);
} else {
  console.error(USAGE);
  process.exit(2);
}
