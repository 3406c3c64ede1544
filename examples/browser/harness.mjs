// Serving the built page and driving it in headless Chromium: shared by test/runtimes/browser.test.ts and
// screenshot.mjs so both run the page exactly the same way.
import { constants } from 'node:fs';
import { access, readFile } from 'node:fs/promises';
import { createServer } from 'node:http';
import path from 'node:path';
import { chromium } from 'playwright-core';

export const CHROMIUM_PATH = '/usr/bin/chromium';

/**
 * WebGPU is off by default in Chromium on Linux. Chromium blocklists lavapipe for WebGPU (forcing it with
 * --ignore-gpu-blocklist crashes the GPU process), so the adapter is Chromium's bundled SwiftShader; ANGLE still
 * composites through Vulkan on lavapipe. Developer features make adapter.info carry a description, for the report.
 * The rest keeps a test browser from reaching out to the network or prompting.
 */
export const CHROMIUM_ARGS = [
  '--enable-unsafe-webgpu',
  '--enable-webgpu-developer-features',
  '--enable-features=Vulkan,VulkanFromANGLE',
  '--use-angle=vulkan',
  '--no-sandbox',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
];

const CONTENT_TYPES = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.map': 'application/json; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.wasm': 'application/wasm',
  '.png': 'image/png',
  '.svg': 'image/svg+xml',
};

/** Serves `root` read-only on 127.0.0.1 at a free port. */
export async function serveDirectory(root) {
  const base = path.resolve(root);
  const server = createServer(async (request, response) => {
    const pathname = decodeURIComponent(new URL(request.url ?? '/', 'http://localhost').pathname);
    const file = path.resolve(base, `.${pathname.endsWith('/') ? `${pathname}index.html` : pathname}`);
    if (request.method !== 'GET' && request.method !== 'HEAD') {
      response.writeHead(405, { allow: 'GET, HEAD' }).end();
      return;
    }
    if (file !== base && !file.startsWith(base + path.sep)) {
      response.writeHead(403).end();
      return;
    }
    try {
      const body = await readFile(file);
      const type = CONTENT_TYPES[path.extname(file)] ?? 'application/octet-stream';
      response.writeHead(200, { 'content-type': type, 'content-length': body.length, 'cache-control': 'no-store' });
      response.end(request.method === 'HEAD' ? undefined : body);
    } catch {
      response.writeHead(404, { 'content-type': 'text/plain; charset=utf-8' }).end(`not found: ${pathname}\n`);
    }
  });
  await new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', resolve);
  });
  const { port } = server.address();
  return {
    origin: `http://127.0.0.1:${port}`,
    close: () => new Promise((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    }),
  };
}

/** Launches headless Chromium with WebGPU on; fails with install instructions when the browser is missing. */
export async function launchChromium({ executablePath = CHROMIUM_PATH, args = [] } = {}) {
  try {
    await access(executablePath, constants.X_OK);
  } catch {
    throw new Error(
      `Chromium not found at ${executablePath}. The browser check needs the system Chromium: install it with ` +
        '`apt-get install chromium` (Debian/Ubuntu), as root. Playwright\'s own browser downloads are not used.',
    );
  }
  // Playwright gives each launch a fresh temporary profile (user data dir) and removes it on close.
  return chromium.launch({ executablePath, headless: true, args: [...CHROMIUM_ARGS, ...args] });
}

/**
 * Opens `url` in a new page and waits for window.lwinResult or window.lwinError. Returns the page (still open, for
 * screenshots) and the page's console output, which helps explain a missing adapter.
 */
export async function runPage(browser, url, { timeoutMs = 90_000, viewport = { width: 1000, height: 640 } } = {}) {
  const page = await browser.newPage({ viewport });
  const log = [];
  page.on('console', (message) => log.push(`[console.${message.type()}] ${message.text()}`));
  page.on('pageerror', (error) => log.push(`[pageerror] ${error.message}`));
  await page.goto(url);
  try {
    await page.waitForFunction(() => window.lwinResult !== undefined || window.lwinError !== undefined, undefined, {
      timeout: timeoutMs,
      polling: 100,
    });
  } catch (error) {
    throw new Error(`The page set neither lwinResult nor lwinError within ${timeoutMs} ms (${url}).\n${log.join('\n')}`, {
      cause: error,
    });
  }
  const { result, error } = await page.evaluate(() => ({ result: window.lwinResult, error: window.lwinError }));
  return { page, result, error, log };
}
