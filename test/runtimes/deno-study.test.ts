// A tiny study run by Deno (examples/deno/study.ts, Deno's own WebGPU) against the same study run here in Node (Dawn):
// the H_N summary must be identical and every number of the per-cell summaries must agree. Both adapters are
// lavapipe here, but the WGSL goes through different compilers (naga vs Tint), which may round f32 differently:
// numbers are held to 1e-6 relative (the kernels' own tolerances are of that order), the integer windows exactly.
import { execFile } from 'node:child_process';
import { createRequire } from 'node:module';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { useGpu } from '../support/gpu.ts';
import { resolveStudy } from '../../src/study/config.ts';
import { runStudy } from '../../src/study/run.ts';
import { parseCsv } from '../../src/io/study-files.ts';

const gpu = useGpu();
const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const TINY = {
  cells: ['const', 'gru'],
  task: { steps: 32, inputSize: 3, lags: [2, 4, 8], coeffs: [0.6, 0.5, 0.4], noiseStd: 0.3, seed: 5 },
  trainSequences: 64, diagSequences: 24, model: { hidden: 8 }, epochs: 2, batch: 32,
  lagGrid: { min: 1, max: 16, num: 8 }, transportSamples: 2, psiSubsample: 600,
};

function denoBinary(): string {
  const dir = path.dirname(createRequire(import.meta.url).resolve('deno/package.json'));
  return path.join(dir, process.platform === 'win32' ? 'deno.exe' : 'deno');
}

describe('a study in Deno', () => {
  it('matches the same study run in Node', async () => {
    const work = await mkdtemp(path.join(tmpdir(), 'lwin-deno-study-'));
    try {
      const configFile = path.join(work, 'tiny.json');
      await writeFile(configFile, JSON.stringify(TINY));
      const stdout = await new Promise<string>((resolve, reject) => {
        execFile(
          denoBinary(),
          ['run', '-A', '--node-modules-dir=manual', 'examples/deno/study.ts', '--out', path.join(work, 'deno'), '--config', configFile],
          { cwd: repoRoot, env: { ...process.env, NO_COLOR: '1', DENO_NO_UPDATE_CHECK: '1' }, timeout: 180_000, maxBuffer: 16 << 20 },
          (error, out, err) => (error ? reject(new Error(`deno study failed: ${error.message}\n${err}`)) : resolve(out)),
        );
      });
      const line = JSON.parse(stdout.trim().split('\n').at(-1)!);
      expect(line.runtime).toMatch(/^Deno /);
      expect(line.cells).toEqual(['const', 'gru']);

      await runStudy(gpu.ctx, resolveStudy('quick', TINY), path.join(work, 'node'));
      const read = (side: string, file: string) => readFile(path.join(work, side, file), 'utf8');
      expect(await read('deno', 'H_N_summary.csv')).toBe(await read('node', 'H_N_summary.csv'));
      for (const cell of ['const', 'gru']) {
        const node = parseCsv(await read('node', `${cell}/${cell}_summary.csv`), `node ${cell}`);
        const deno = parseCsv(await read('deno', `${cell}/${cell}_summary.csv`), `deno ${cell}`);
        expect(deno.header).toEqual(node.header);
        node.rows.forEach((row, r) => row.forEach((value, c) => {
          const a = Number(value);
          const b = Number(deno.rows[r]![c]);
          if (Number.isNaN(a)) expect(deno.rows[r]![c], `${cell} ${node.header[c]} row ${r}`).toBe(value);
          else expect(Math.abs(a - b), `${cell} ${node.header[c]} row ${r}: node ${a}, deno ${b}`).toBeLessThanOrEqual(1e-6 * Math.abs(a) + 1e-12);
        }));
      }
    } finally {
      await rm(work, { recursive: true, force: true });
    }
  });
});
