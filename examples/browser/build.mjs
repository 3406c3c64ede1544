// Bundles the browser page (main.ts and the lwin sources it imports) into examples/browser/dist/.
//   node examples/browser/build.mjs        (or: npm run build:browser)
import { copyFile, mkdir } from 'node:fs/promises';
import { fileURLToPath, pathToFileURL } from 'node:url';
import path from 'node:path';
import * as esbuild from 'esbuild';

const here = path.dirname(fileURLToPath(import.meta.url));
export const DEFAULT_OUTDIR = path.join(here, 'dist');

/**
 * Builds the page into `outdir` (default examples/browser/dist) and returns the directory to serve.
 * `webgpu` (Dawn's Node bindings) stays external: runtime.ts imports it through a variable specifier, only on Node.
 */
/**
 * The study page imports the trainer and study modules, whose file output (Node's fs, write-file-atomic) and
 * terminal progress bar (cli-progress) the page never calls: they resolve to an empty module in the browser build.
 */
const nodeOnlyStub = {
  name: 'node-only-stub',
  setup(build) {
    build.onResolve({ filter: /^(node:.*|write-file-atomic|cli-progress)$/ }, (args) => ({ path: args.path, namespace: 'node-only' }));
    build.onLoad({ filter: /.*/, namespace: 'node-only' }, () => ({ contents: 'module.exports = {};', loader: 'js' }));
  },
};

export async function buildBrowserExample({ outdir = DEFAULT_OUTDIR, minify = false } = {}) {
  await mkdir(outdir, { recursive: true });
  const result = await esbuild.build({
    entryPoints: { main: path.join(here, 'main.ts'), study: path.join(here, 'study.ts') },
    outdir,
    plugins: [nodeOnlyStub],
    bundle: true,
    format: 'esm',
    platform: 'browser',
    target: 'es2022',
    external: ['webgpu'],
    // typegpu reads process.env.NODE_ENV, which only exists on Node; bundlers are expected to replace it.
    define: { 'process.env.NODE_ENV': '"production"' },
    sourcemap: true,
    minify,
    logLevel: 'silent',
  });
  for (const warning of result.warnings) console.warn(`esbuild: ${warning.text}`);
  await copyFile(path.join(here, 'index.html'), path.join(outdir, 'index.html'));
  await copyFile(path.join(here, 'study.html'), path.join(outdir, 'study.html'));
  return { outdir, entry: path.join(outdir, 'index.html') };
}

if (process.argv[1] && import.meta.url === pathToFileURL(path.resolve(process.argv[1])).href) {
  const { outdir } = await buildBrowserExample();
  console.log(`built ${path.relative(process.cwd(), outdir) || '.'}/ (index.html, main.js, study.html, study.js); serve it over http, e.g. node examples/browser/screenshot.mjs out.png`);
}
