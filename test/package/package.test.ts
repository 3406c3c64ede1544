// lwin as a package people install: `npm pack`, installed into a scratch project with only its declared
// dependencies (from the npm cache), then used as a user would: (a) the `lwin` binary, (b) the library in Node,
// (c) `lwin/stats` in Deno, (d) the browser entry bundled by esbuild, running a study in headless Chromium.
// About a minute and a half: packing builds dist/ (prepack), and the install copies ~100 packages.
import { execFile } from 'node:child_process';
import { copyFile, cp, mkdir, mkdtemp, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import * as esbuild from 'esbuild';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { launchChromium, serveDirectory } from '../../examples/browser/harness.mjs';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const FIXTURES = fileURLToPath(new URL('./fixtures/', import.meta.url));

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

function run(file: string, args: string[], cwd: string, timeoutMs = 120_000): Promise<Run> {
  const env = { ...process.env, NO_COLOR: '1', DENO_NO_UPDATE_CHECK: '1', npm_config_loglevel: 'error' };
  return new Promise((resolve, reject) => {
    execFile(file, args, { cwd, env, timeout: timeoutMs, maxBuffer: 64 << 20 }, (error, stdout, stderr) => {
      if (error && typeof error.code !== 'number') reject(new Error(`${file} ${args.join(' ')} did not finish (${error.killed ? `killed after ${timeoutMs} ms` : error.message})\n${stderr}`));
      else resolve({ code: typeof error?.code === 'number' ? error.code : 0, stdout, stderr });
    });
  });
}

/** Runs and insists on exit code 0, showing the output otherwise. */
async function ok(file: string, args: string[], cwd: string, timeoutMs?: number): Promise<string> {
  const result = await run(file, args, cwd, timeoutMs);
  if (result.code !== 0) throw new Error(`${path.basename(file)} ${args.join(' ')} exited with ${result.code}\n${result.stdout}\n${result.stderr}`);
  return result.stdout;
}

/** What `npm pack` needs of the checkout: the package's files and what builds them. */
const PACKED_FROM = ['package.json', 'README.md', 'LICENSE', 'tsconfig.json', 'tsconfig.build.json', 'bin', 'src', 'shaders'];

const lastJsonLine = (stdout: string): unknown => JSON.parse(stdout.trim().split('\n').filter((l) => l.startsWith('{')).at(-1) ?? 'null');
const denoBinary = () => path.join(path.dirname(createRequire(import.meta.url).resolve('deno/package.json')), process.platform === 'win32' ? 'deno.exe' : 'deno');

describe('the packed package, installed', () => {
  let scratch = '';
  let packed: { entryCount: number; size: number; files: { path: string }[] };

  beforeAll(async () => {
    scratch = await mkdtemp(path.join(tmpdir(), 'lwin-package-'));
    // Packed from a copy of the sources: prepack's build then writes the copy's dist/, not the checkout's, which the
    // CLI tests running beside this one may be starting `lwin` from.
    const copy = path.join(scratch, 'source');
    await mkdir(copy);
    for (const name of PACKED_FROM) await cp(path.join(ROOT, name), path.join(copy, name), { recursive: true });
    await symlink(path.join(ROOT, 'node_modules'), path.join(copy, 'node_modules'), 'dir');
    [packed] = JSON.parse(await ok('npm', ['pack', '--json', '--pack-destination', scratch], copy, 180_000)) as [typeof packed & { filename: string }];
    const tarball = (packed as unknown as { filename: string }).filename;
    await writeFile(path.join(scratch, 'package.json'), JSON.stringify({ name: 'lwin-scratch', private: true, type: 'module' }));
    await ok('npm', ['install', path.join(scratch, tarball), '--prefer-offline', '--no-audit', '--no-fund'], scratch, 180_000);
    for (const name of ['tiny-study.json', 'node-diagnosis.mjs', 'deno-stats.ts', 'browser-study.js']) await copyFile(path.join(FIXTURES, name), path.join(scratch, name));
  }, 360_000);

  afterAll(async () => {
    if (scratch) await rm(scratch, { recursive: true, force: true });
  });

  it('ships the built JavaScript, its declarations and the binary; no sources, tests or examples', () => {
    const files = packed.files.map((f) => f.path);
    expect(files).toContain('bin/lwin.js');
    expect(files).toContain('LICENSE');
    expect(files).toContain('dist/src/index.js');
    expect(files).toContain('dist/src/index.d.ts');
    expect(files).toContain('dist/src/stats/index.js');
    expect(files).toContain('dist/src/browser.js');
    expect(files.filter((f) => /^(src|test|bench|examples|\.ci)\//.test(f) || (f.endsWith('.ts') && !f.endsWith('.d.ts')))).toEqual([]);
  });

  it('(a) runs `lwin --version` and a tiny `lwin run` from the installed binary', async () => {
    const bin = path.join(scratch, 'node_modules/.bin/lwin');
    const { version } = JSON.parse(await readFile(path.join(ROOT, 'package.json'), 'utf8')) as { version: string };
    expect((await ok(bin, ['--version'], scratch)).trim()).toBe(version);
    await ok(bin, ['run', '--config', 'tiny-study.json', '--out', 'study'], scratch);
    const summary = await readFile(path.join(scratch, 'study/H_N_summary.csv'), 'utf8');
    expect(summary.split('\n')[0]).toBe('N,H_N_gru,contiguous_H_N_gru');
    expect(await readFile(path.join(scratch, 'study/report.html'), 'utf8')).toContain('<svg');
  }, 120_000);

  it('(b) imports the library in Node and diagnoses a tiny trained model', async () => {
    const result = lastJsonLine(await ok(process.execPath, ['node-diagnosis.mjs'], scratch)) as { lags: number[]; muL1Mean: number[] };
    expect(result.lags).toEqual([1, 3]);
    expect(result.muL1Mean.every((v) => Number.isFinite(v) && v > 0)).toBe(true);
  }, 120_000);

  it('(c) imports lwin/stats in Deno, with no permissions', async () => {
    const result = lastJsonLine(await ok(denoBinary(), ['run', '--no-prompt', '--node-modules-dir=manual', 'deno-stats.ts'], scratch)) as { median: number; alpha: number };
    expect(result.median).toBeCloseTo(0.5, 12);
    expect(Math.abs(result.alpha - 1.5)).toBeLessThan(0.1);
  }, 60_000);

  it('(d) bundles the browser entry with esbuild and runs a tiny study and its report in headless Chromium', async () => {
    const outdir = path.join(scratch, 'page');
    await esbuild.build({
      absWorkingDir: scratch, entryPoints: ['browser-study.js'], outdir, bundle: true, format: 'esm', platform: 'browser', target: 'es2022',
      // As the README says for bundlers: Node-only modules the page never calls become empty, typegpu's NODE_ENV a constant.
      plugins: [{
        name: 'node-only-stub',
        setup(build) {
          build.onResolve({ filter: /^(node:.*|write-file-atomic|cli-progress)$/ }, (args) => ({ path: args.path, namespace: 'node-only' }));
          build.onLoad({ filter: /.*/, namespace: 'node-only' }, () => ({ contents: 'module.exports = {};', loader: 'js' }));
        },
      }],
      external: ['webgpu'], define: { 'process.env.NODE_ENV': '"production"' }, logLevel: 'silent',
    });
    await writeFile(path.join(outdir, 'index.html'), '<!doctype html><meta charset="utf-8"><script type="module" src="browser-study.js"></script>');
    const server = await serveDirectory(outdir);
    const browser = await launchChromium();
    try {
      const page = await browser.newPage();
      const log: string[] = [];
      page.on('console', (m) => log.push(m.text()));
      await page.goto(`${server.origin}/index.html`);
      type Outcome = { lwinResult?: { cells: { cell: string; windows: number }[]; svg: number }; lwinError?: string };
      await page.waitForFunction(() => (window as unknown as Outcome).lwinResult !== undefined || (window as unknown as Outcome).lwinError !== undefined, undefined, { timeout: 90_000, polling: 250 });
      const outcome = await page.evaluate(() => ({ result: (window as unknown as Outcome).lwinResult, error: (window as unknown as Outcome).lwinError }));
      expect(outcome.error, log.join('\n')).toBeUndefined();
      expect(outcome.result!.cells.map((c) => c.cell)).toEqual(['gru']);
      expect(outcome.result!.cells[0]!.windows).toBeGreaterThan(0);
      expect(outcome.result!.svg).toBeGreaterThanOrEqual(3);
    } finally {
      await browser.close();
      await server.close();
    }
  }, 120_000);
});
