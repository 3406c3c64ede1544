#!/usr/bin/env node
// lwin's command line. Runs the built JavaScript (dist/, made by `npm run build`; `npm pack` and `.ci/setup` build
// it). In a checkout, dist/ older than any source file (or absent: a fresh clone) would run stale code, so then the
// TypeScript sources run through tsx instead, slower to start but current.
import { existsSync, readdirSync, statSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const built = new URL('../dist/src/cli/index.js', import.meta.url);
const sources = ['../src/', '../shaders/'].map((dir) => fileURLToPath(new URL(dir, import.meta.url)));

/** The newest modification time of the checkout's .ts sources; 0 in an installed package (it ships no sources). */
function newestSource() {
  let newest = 0;
  for (const dir of sources.filter(existsSync)) {
    for (const name of readdirSync(dir, { recursive: true })) {
      if (name.endsWith('.ts')) newest = Math.max(newest, statSync(`${dir}${name}`).mtimeMs);
    }
  }
  return newest;
}

// `lwin --version` alone needs none of the commands: answered from package.json (which LWIN_VERSION also reads).
const args = process.argv.slice(2);
if (args.length === 1 && (args[0] === '--version' || args[0] === '-V')) {
  const { createRequire } = await import('node:module');
  console.log(createRequire(import.meta.url)('../package.json').version);
} else if (existsSync(built) && statSync(built).mtimeMs >= newestSource()) {
  await import(built.href);
} else {
  const { register } = await import('tsx/esm/api');
  register();
  await import('../src/cli/index.ts');
}
