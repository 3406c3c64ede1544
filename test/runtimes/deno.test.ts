// Deno runs lwin's matmul from the same TypeScript sources on its own WebGPU (wgpu); its numbers must match the
// float64 reference computed here and Node's GPU (Dawn) element by element.
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { checkMatmul } from '../../src/doctor/selftest.ts';
import type { SmokeResult } from '../../src/doctor/smoke.ts';
import { useGpu } from '../support/gpu.ts';
import { RUNTIME_CASES, expectDescribes, expectMatchesNode, expectMatchesReference, requestOptions } from './agreement.ts';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const smokeScript = 'examples/deno/smoke.ts';

/** The flags smoke.ts needs; see its header for why each is there. */
const DENO_RUN_FLAGS = ['--allow-env=NODE_ENV', '--node-modules-dir=manual'];

function denoBinary(): string {
  const packageDir = path.dirname(createRequire(import.meta.url).resolve('deno/package.json'));
  const binary = path.join(packageDir, process.platform === 'win32' ? 'deno.exe' : 'deno');
  if (!existsSync(binary)) {
    throw new Error(`Deno binary missing at ${binary}: the devDependency 'deno' installs it in its postinstall; run \`npm install\`.`);
  }
  return binary;
}

interface DenoRun {
  code: number;
  stdout: string;
  stderr: string;
}

function deno(args: string[], timeoutMs = 60_000): Promise<DenoRun> {
  return new Promise((resolve, reject) => {
    const env = { ...process.env, NO_COLOR: '1', DENO_NO_UPDATE_CHECK: '1' };
    execFile(denoBinary(), args, { cwd: repoRoot, env, timeout: timeoutMs, maxBuffer: 64 << 20 }, (error, stdout, stderr) => {
      if (error && typeof error.code !== 'number') {
        const why = error.killed ? `killed after ${timeoutMs} ms` : error.message;
        reject(new Error(`deno ${args.join(' ')} did not finish (${why})\n${stderr}`));
      }
      else resolve({ code: typeof error?.code === 'number' ? error.code : 0, stdout, stderr });
    });
  });
}

function parseResultLine(run: DenoRun): SmokeResult {
  const lines = run.stdout.trim().split('\n');
  if (lines.length !== 1 || !lines[0]!.startsWith('{')) {
    throw new Error(`expected one JSON line from ${smokeScript}, got exit ${run.code}:\n${run.stdout}\n${run.stderr}`);
  }
  return JSON.parse(lines[0]!) as SmokeResult;
}

describe('Deno runs the matmul from the same sources', () => {
  const gpu = useGpu();

  for (const testCase of RUNTIME_CASES) {
    it(`${testCase.name}: Deno's values match the float64 reference and Node's GPU`, async () => {
      const options = Object.entries(requestOptions(testCase)).map(([name, value]) => `--${name}=${value}`);
      const run = await deno(['run', ...DENO_RUN_FLAGS, smokeScript, ...options]);
      const result = parseResultLine(run);
      expect(run.code, `exit status of ${smokeScript}\n${run.stderr}`).toBe(0);
      const values = expectDescribes(result, testCase, 'deno');
      expectMatchesReference('Deno', values, result, testCase);

      const node = await checkMatmul(gpu.ctx, testCase.shape, testCase.variant, testCase.seed);
      expect(node.comparison.ok, `Node's own check of ${node.shape}`).toBe(true);
      const identical = expectMatchesNode('Deno', values, node.values, testCase);
      console.info(`deno ${testCase.name}: ${result.adapter}; max |error| ${result.maxAbsError.toExponential(2)}; ${identical}/${values.length} bit-identical to Node (${gpu.acquired.adapter.name})`);
    });
  }

  it('defaults to B=2 M=19 K=13 N=70, seed 1, tiled', async () => {
    const result = parseResultLine(await deno(['run', ...DENO_RUN_FLAGS, smokeScript]));
    expect(result.ok).toBe(true);
    expect(result.shape).toEqual({ batch: 2, m: 19, k: 13, n: 70 });
    expect(result.seed).toBe(1);
    expect(result.variant).toEqual({ strategy: 'tiled', transposeB: false, bias: false });
  });

  it('exits 2 with a message on a malformed shape', async () => {
    const run = await deno(['run', ...DENO_RUN_FLAGS, smokeScript, '--shape=2x19x13']);
    expect(run.code).toBe(2);
    expect(run.stdout).toBe('');
    expect(run.stderr).toContain('shape must be BxMxKxN');
  });

  it('type-checks under Deno (its own DOM and WebGPU typings)', async () => {
    const run = await deno(['check', '--node-modules-dir=manual', smokeScript], 90_000);
    expect(run.code, run.stderr).toBe(0);
  });
});
