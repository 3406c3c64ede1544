// `npm run gpu-kit`: packs everything one benchmark run on a borrowed GPU machine needs into .gpu-kit/kit.tar.xz,
// for a machine with no package registry and no Node.js (bench/gpu/README.md says how the kit is used):
//   node                   this machine's Node 20 binary for linux-x64
//   node_modules/webgpu/   the `webgpu` package's loader with only its linux-x64 dawn.node
//   lwin.mjs, bench.mjs, summarize.mjs
//                          lwin's CLI, its bench and the kit's summary, each bundled by esbuild into one file that
//                          loads that dawn.node through the `webgpu` package beside it (bench.mjs carries TF.js for
//                          its peers part)
//   torch_anchor.py        the same GRU/LSTM sizes through torch.nn (cuDNN), where the machine has PyTorch
//   debs/                  the Vulkan loader and GL dispatch packages, for a machine that lacks them (NOTES.md)
//   NOTES.md, manifest.json
// Prints the kit's size; refuses to write a kit over the 64 MiB that travels to the GPU machine.
import { execFileSync } from 'node:child_process';
import { copyFile, mkdir, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import * as esbuild from 'esbuild';

const ROOT = resolve(import.meta.dirname, '../..');
const KIT_DIR = resolve(process.env.LWIN_KIT_DIR ?? join(ROOT, '.gpu-kit'));
const STAGE = join(KIT_DIR, 'stage');
const CACHE = join(KIT_DIR, 'cache');
const ARCHIVE = join(KIT_DIR, 'kit.tar.xz');
const LIMIT_BYTES = 64 * 2 ** 20;
/** What the GPU machine's documentation unpacks where `ldconfig -p` shows no libvulkan (loader plus GL dispatch). */
const LOADER_PACKAGES = ['libvulkan1', 'libglvnd0', 'libegl1', 'libglx0', 'libgl1', 'libopengl0', 'libgles2'];
const MiB = (bytes: number) => `${(bytes / 2 ** 20).toFixed(1)} MiB`;

function checkNode(): void {
  const major = Number(process.versions.node.split('.')[0]);
  if (process.platform !== 'linux' || process.arch !== 'x64' || major !== 20) {
    throw new Error(
      `the kit carries the Node binary that runs this build (${process.execPath}: ${process.platform}-${process.arch}, ` +
        `Node ${process.versions.node}); the GPU machine needs linux-x64 Node 20. Run \`npm run gpu-kit\` with such a Node ` +
        '(e.g. `npx -p node@20 npm run gpu-kit` on linux-x64).',
    );
  }
}

async function bundle(): Promise<void> {
  // Worker threads (src/diagnostics/worker-pool.ts: the exact transport, validation sets) load their module beside the bundles
  // that start them.
  const entries = { lwin: 'src/cli/index.ts', bench: 'bench/index.ts', summarize: 'bench/gpu/summarize.ts', 'host-worker': 'src/diagnostics/host-worker.ts' };
  const result = await esbuild.build({
    entryPoints: Object.fromEntries(Object.entries(entries).map(([name, file]) => [name, join(ROOT, file)])),
    outdir: STAGE,
    outExtension: { '.js': '.mjs' },
    bundle: true,
    format: 'esm',
    platform: 'node',
    target: 'node20',
    // runtime.ts imports `webgpu` through a variable specifier; it resolves to node_modules/webgpu in the kit.
    external: ['webgpu'],
    // CommonJS dependencies call require() for Node's built-ins (commander, cli-progress) and read __filename
    // (write-file-atomic): give the ES module bundle both.
    banner: {
      js: [
        "import { createRequire as __lwinCreateRequire } from 'node:module';",
        "import { fileURLToPath as __lwinFileURLToPath } from 'node:url';",
        'const require = __lwinCreateRequire(import.meta.url);',
        'const __filename = __lwinFileURLToPath(import.meta.url);',
        "const __dirname = __lwinFileURLToPath(new URL('.', import.meta.url));",
      ].join(' '),
    },
    define: { 'process.env.NODE_ENV': '"production"' },
    logLevel: 'error',
  });
  for (const warning of result.warnings) console.warn(`esbuild: ${warning.text}`);
}

async function copyDawn(): Promise<void> {
  const from = join(ROOT, 'node_modules/webgpu');
  const to = join(STAGE, 'node_modules/webgpu');
  await mkdir(join(to, 'dist/linux-x64'), { recursive: true });
  for (const file of ['index.js', 'package.json', 'LICENSE.md']) await copyFile(join(from, file), join(to, file));
  await copyFile(join(from, 'dist/linux-x64/dawn.node'), join(to, 'dist/linux-x64/dawn.node'));
}

/** The loader packages, fetched once into the cache with apt (amd64, as the GPU machine's documentation does). */
async function loaderPackages(): Promise<string[]> {
  const dir = join(CACHE, 'debs');
  await mkdir(dir, { recursive: true });
  const have = () => readdir(dir).then((files) => files.filter((f) => f.endsWith('.deb')));
  const missing = async () => {
    const files = await have();
    return LOADER_PACKAGES.filter((p) => !files.some((f) => f.startsWith(`${p}_`)));
  };
  if ((await missing()).length) {
    const arch = ['-oAPT::Architecture=amd64', '-oAPT::Architectures=amd64'];
    const download = (extra: string[]) => execFileSync('apt-get', [...arch, ...extra, 'download', ...LOADER_PACKAGES], { cwd: dir, stdio: 'pipe' });
    try {
      download([]);
    } catch {
      // No package lists on this machine yet: fetch them into a private folder rather than the system's.
      const lists = join(CACHE, 'apt-lists');
      await mkdir(join(lists, 'partial'), { recursive: true });
      execFileSync('apt-get', [...arch, `-oDir::State::Lists=${lists}`, 'update'], { stdio: 'pipe' });
      download([`-oDir::State::Lists=${lists}`]);
    }
  }
  const left = await missing();
  if (left.length) throw new Error(`apt-get could not download ${left.join(', ')}; the kit needs them for a GPU machine without a Vulkan loader`);
  await mkdir(join(STAGE, 'debs'), { recursive: true });
  const files = await have();
  for (const f of files) await copyFile(join(dir, f), join(STAGE, 'debs', f));
  return files;
}

function gitCommit(): string {
  try {
    const commit = execFileSync('git', ['rev-parse', 'HEAD'], { cwd: ROOT, encoding: 'utf8' }).trim();
    const dirty = execFileSync('git', ['status', '--porcelain', '--untracked-files=no'], { cwd: ROOT, encoding: 'utf8' }).trim();
    return dirty ? `${commit}+uncommitted` : commit;
  } catch {
    return 'unknown';
  }
}

async function main(): Promise<void> {
  checkNode();
  const started = performance.now();
  await rm(STAGE, { recursive: true, force: true });
  await mkdir(STAGE, { recursive: true });
  await bundle();
  await copyDawn();
  await copyFile(process.execPath, join(STAGE, 'node'));
  for (const file of ['torch_anchor.py', 'NOTES.md']) await copyFile(join(ROOT, 'bench/gpu', file), join(STAGE, file));
  const debs = await loaderPackages();
  const pkg = JSON.parse(await readFile(join(ROOT, 'package.json'), 'utf8')) as { version: string };
  const webgpu = JSON.parse(await readFile(join(ROOT, 'node_modules/webgpu/package.json'), 'utf8')) as { version: string };
  const tfjs = JSON.parse(await readFile(join(ROOT, 'node_modules/@tensorflow/tfjs-core/package.json'), 'utf8')) as { version: string };
  const manifest = { lwin: pkg.version, commit: gitCommit(), built: new Date().toISOString(), node: process.version, webgpu: webgpu.version, tfjs: tfjs.version, debs };
  await writeFile(join(STAGE, 'manifest.json'), `${JSON.stringify(manifest, null, 2)}\n`);
  await rm(ARCHIVE, { force: true });
  // xz: the Node binary is most of the kit (≈ 100 MiB raw, ≈ 24 MiB at level 6, ≈ 33 MiB at level 0, which is
  // several times faster to make: LWIN_KIT_COMPRESSION=fast, for the kit's own test).
  const level = process.env.LWIN_KIT_COMPRESSION === 'fast' ? '-0' : '-6';
  execFileSync('tar', ['-C', STAGE, '-cf', ARCHIVE, `--use-compress-program=xz -T0 ${level}`, '.'], { stdio: 'inherit' });
  await rm(STAGE, { recursive: true, force: true });
  const size = (await stat(ARCHIVE)).size;
  if (size > LIMIT_BYTES) throw new Error(`the kit is ${MiB(size)}, over the ${MiB(LIMIT_BYTES)} that travels to a GPU machine`);
  const seconds = ((performance.now() - started) / 1000).toFixed(0);
  console.log(`gpu-kit: ${ARCHIVE} ${MiB(size)} (${size} bytes; limit ${MiB(LIMIT_BYTES)}), commit ${manifest.commit}, built in ${seconds} s`);
  console.log('on the GPU machine: bash bench/gpu/run.sh OUTDIR, with .gpu-kit/kit.tar.xz carried there (bench/gpu/README.md)');
}

if (!existsSync(join(ROOT, 'node_modules/webgpu/dist/linux-x64/dawn.node'))) {
  throw new Error('node_modules/webgpu/dist/linux-x64/dawn.node is missing: run `npm install` first');
}
await main();
