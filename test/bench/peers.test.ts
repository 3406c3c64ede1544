// The peers bench (bench/peers.ts) at a tiny size: both libraries really train on the same batch on this device.
// Times are not checked against each other (a shared machine makes that a flaky test); that both are measured,
// finite and positive, and that both losses start on one scale and fall, is what can be checked.
import { execFile } from 'node:child_process';
import { resolve } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { useGpu } from '../support/gpu.ts';
import { benchPeer, PEER_CELLS } from '../../bench/peers.ts';

const gpu = useGpu();
const TINY = { batch: 2, steps: 8, hidden: 4, input: 3 };

describe('peers bench', () => {
  it.each(PEER_CELLS.map((cell) => ({ cell })))('$cell at B=2 T=8 H=4 D=3: lwin and TF.js both train on the same batch', async ({ cell }) => {
    const r = await benchPeer(gpu.ctx, cell, TINY, 2);
    expect(r.cell).toBe(cell);
    const positive = { lwinMsPerBatch: r.lwinMsPerBatch, tfjsMsPerBatch: r.tfjsMsPerBatch, ratio: r.ratio, lwinRate: r.lwinSequenceStepsPerSecond, tfjsRate: r.tfjsSequenceStepsPerSecond };
    for (const [name, value] of Object.entries(positive)) expect(Number.isFinite(value) && value > 0, `${name} = ${value}`).toBe(true);
    expect(r.ratio).toBeCloseTo(r.tfjsMsPerBatch / r.lwinMsPerBatch, 10);
    expect([r.lwinStepMs.length, r.tfjsStepMs.length]).toEqual([2, 2]);
    // y ~ N(0, 1) and both readouts start near 0, so each initial MSE is near 1: the same scale within a factor 4.
    for (const [name, loss] of [['lwin', r.lwinInitialLoss], ['TF.js', r.tfjsInitialLoss]] as const) {
      expect(loss > 0.25 && loss < 4, `${name} initial MSE ${loss}`).toBe(true);
    }
    // Two Adam steps on the same batch lower its loss in both: each timed step did forward, BPTT and an update.
    expect(r.lwinLastLoss, 'lwin').toBeLessThan(r.lwinInitialLoss);
    expect(r.tfjsLastLoss, 'TF.js').toBeLessThan(r.tfjsInitialLoss);
  }, 60_000);

  it('refuses cells with no TF.js counterpart, naming the ones it has', async () => {
    const run = promisify(execFile)('npx', ['tsx', 'bench/index.ts', 'peers', '--cells', 'const,diag'], { cwd: resolve(import.meta.dirname, '../..') });
    await expect(run).rejects.toThrow(/--cells const,diag: the peers bench has TF.js counterparts only for gru and lstm/);
  }, 60_000);
});
