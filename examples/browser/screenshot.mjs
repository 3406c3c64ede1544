// Builds and serves the browser page, runs it in headless Chromium and saves a PNG screenshot.
//   node examples/browser/screenshot.mjs <out.png> [query] [--page=index.html] [--no-build] [--timeout=90000]
// e.g. node examples/browser/screenshot.mjs shot.png 'shape=4x33x17x90&seed=3&bias'
// The screenshot is taken once the page sets window.lwinResult or window.lwinError; the result's summary is
// printed. Exit status: 0 ok, 1 the page reported a mismatch or an error (the screenshot is still saved), 2 usage.
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { DEFAULT_OUTDIR, buildBrowserExample } from './build.mjs';
import { launchChromium, runPage, serveDirectory } from './harness.mjs';

const USAGE = 'usage: node examples/browser/screenshot.mjs <out.png> [query] [--page=index.html] [--no-build] [--timeout=ms]';

function parseArgs(argv) {
  const options = { out: undefined, query: '', page: 'index.html', build: true, timeoutMs: 90_000 };
  const positional = [];
  for (const arg of argv) {
    if (arg === '--no-build') options.build = false;
    else if (arg.startsWith('--page=')) options.page = arg.slice('--page='.length);
    else if (arg.startsWith('--timeout=')) options.timeoutMs = Number(arg.slice('--timeout='.length));
    else if (arg.startsWith('--')) throw new Error(`unknown option ${arg}\n${USAGE}`);
    else positional.push(arg);
  }
  if (positional.length < 1 || positional.length > 2) throw new Error(USAGE);
  [options.out, options.query = ''] = positional;
  if (!options.out.toLowerCase().endsWith('.png')) throw new Error(`the screenshot path must end in .png, got ${options.out}`);
  if (!Number.isFinite(options.timeoutMs) || options.timeoutMs <= 0) throw new Error(`--timeout must be a positive number of ms\n${USAGE}`);
  options.query = options.query.replace(/^\?/, '');
  return options;
}

async function main(options) {
  const outdir = options.build ? (await buildBrowserExample()).outdir : DEFAULT_OUTDIR;
  const server = await serveDirectory(outdir);
  let browser;
  try {
    browser = await launchChromium();
    const url = `${server.origin}/${options.page}${options.query ? `?${options.query}` : ''}`;
    const run = await runPage(browser, url, { timeoutMs: options.timeoutMs });
    await mkdir(path.dirname(path.resolve(options.out)), { recursive: true });
    await run.page.screenshot({ path: options.out, fullPage: true });
    const { result, error } = run;
    if (error !== undefined) {
      console.error(`page error: ${error}`);
      return 1;
    }
    const summary = `${result.ok ? 'ok' : 'FAIL'}: ${result.adapter}, shape ${result.shape.batch}x${result.shape.m}x${result.shape.k}x${result.shape.n}, ` +
      `seed ${result.seed}, max |error| ${result.maxAbsError.toExponential(2)}`;
    console.log(`${summary}\nscreenshot: ${options.out}`);
    return result.ok ? 0 : 1;
  } finally {
    await browser?.close();
    await server.close();
  }
}

let options;
try {
  options = parseArgs(process.argv.slice(2));
} catch (error) {
  console.error(error.message);
  process.exit(2);
}
process.exitCode = await main(options);
