// `npm run bench -- kernels,cells` at a tiny size: each cell's recurrent kernels are given as a share of lwin's matmul
// timed just before and after that cell, and the printed shares are those of the saved figures.
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import type { CellBenchResult } from '../../bench/cells.ts';
import type { KernelBenchResult } from '../../bench/kernels.ts';

const scratch = mkdtempSync(join(tmpdir(), 'lwin-bench-cells-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

describe('cells bench', () => {
  it('gives each cell its own matmul calibration, taken around its profiled steps', async () => {
    const json = join(scratch, 'bench.json');
    const args = ['tsx', 'bench/index.ts', 'kernels,cells', '--cells', 'const,shared', '--cell-size', '8x32x16x4', '--kernel-scale', '0.25', '--json', json];
    const { stdout } = await promisify(execFile)('npx', args, { cwd: resolve(import.meta.dirname, '../..') });
    const saved = JSON.parse(readFileSync(json, 'utf8')) as { kernels: KernelBenchResult[]; cells: CellBenchResult[] };
    expect(saved.cells.map((c) => c.cell)).toEqual(['const', 'shared']);
    const lines = stdout.split('\n').filter((l) => l.includes("recurrent kernels' dot products"));
    expect(lines).toHaveLength(2);
    saved.cells.forEach((cell, i) => {
      const around = cell.matmulGflopsAround!;
      expect(Number.isFinite(around) && around > 0, `${cell.cell}: ${around}`).toBe(true);
      // printed: "forward F (P%), backward G (Q%) GFLOP/s (% of lwin's matmul measured around this cell, M GFLOP/s: A before, B after)"
      const m = /forward ([\d.]+) \((\d+)%\), backward ([\d.]+) \((\d+)%\) GFLOP\/s \(% of lwin's matmul measured around this cell, ([\d.]+) GFLOP\/s: ([\d.]+) before, ([\d.]+) after\)/.exec(lines[i]!);
      expect(m, lines[i]).not.toBeNull();
      const [, , fwShare, , bwShare, mean, before, after] = m!.map(Number);
      expect(mean).toBeCloseTo(around, 2);
      expect(mean).toBeCloseTo((before! + after!) / 2, 1);
      expect(fwShare).toBe(Math.round((100 * cell.recurrentGflops!.forward) / around));
      expect(bwShare).toBe(Math.round((100 * cell.recurrentGflops!.backward) / around));
    });
  }, 300_000);
});
