// bin/lwin.js chooses what to run: the built dist/ when it is at least as new as every source, the TypeScript
// through tsx when dist/ is absent (a fresh clone) or stale (sources edited since the build), and `--version` alone
// from package.json without loading either. Checked on a copy of bin/ with stand-in entry points that say which ran.
import { execFile } from 'node:child_process';
import { copyFile, mkdir, mkdtemp, rm, symlink, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterEach, describe, expect, it } from 'vitest';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const OLD = new Date('2020-01-01T00:00:00Z');
const NEW = new Date('2024-01-01T00:00:00Z');

async function checkout(dist: 'absent' | 'older' | 'newer'): Promise<string> {
  const dir = await mkdtemp(path.join(tmpdir(), 'lwin-bin-'));
  await mkdir(path.join(dir, 'bin'));
  await copyFile(path.join(ROOT, 'bin/lwin.js'), path.join(dir, 'bin/lwin.js'));
  await writeFile(path.join(dir, 'package.json'), JSON.stringify({ name: 'lwin', version: '9.8.7', type: 'module' }));
  await symlink(path.join(ROOT, 'node_modules'), path.join(dir, 'node_modules'), 'dir');
  for (const folder of ['src/cli', 'shaders']) await mkdir(path.join(dir, folder), { recursive: true });
  await writeFile(path.join(dir, 'src/cli/index.ts'), "const from: string = 'sources'; console.log(from);\n");
  await writeFile(path.join(dir, 'shaders/kernel.ts'), 'export {};\n');
  for (const file of ['src/cli/index.ts', 'shaders/kernel.ts']) await utimes(path.join(dir, file), NEW, NEW);
  if (dist !== 'absent') {
    await mkdir(path.join(dir, 'dist/src/cli'), { recursive: true });
    const built = path.join(dir, 'dist/src/cli/index.js');
    await writeFile(built, "console.log('dist');\n");
    const when = dist === 'newer' ? new Date('2025-01-01T00:00:00Z') : OLD;
    await utimes(built, when, when);
  }
  return dir;
}

describe('bin/lwin.js', () => {
  let dir = '';
  afterEach(async () => {
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it.each([
    { name: 'runs dist/ when it is newer than every source', dist: 'newer', args: ['run'], expected: 'dist' },
    { name: 'runs the sources through tsx on a fresh clone (no dist/)', dist: 'absent', args: ['run'], expected: 'sources' },
    { name: 'runs the sources through tsx when a source is newer than dist/', dist: 'older', args: ['run'], expected: 'sources' },
    { name: 'answers --version from package.json alone', dist: 'absent', args: ['--version'], expected: '9.8.7' },
    { name: 'answers -V from package.json alone', dist: 'newer', args: ['-V'], expected: '9.8.7' },
    { name: 'passes --version with a command on to the CLI', dist: 'newer', args: ['run', '--version'], expected: 'dist' },
  ] as const)('$name', async ({ dist, args, expected }) => {
    dir = await checkout(dist);
    const { stdout } = await promisify(execFile)(process.execPath, [path.join(dir, 'bin/lwin.js'), ...args], { timeout: 60_000 });
    expect(stdout.trim()).toBe(expected);
  }, 60_000);
});
