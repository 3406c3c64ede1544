// The training set kept on the device: batches gathered there equal gatherBatch's on the host, across parts; and a
// run that keeps its set there trains to the same bits as one that gathers on the host.
import { afterEach, describe, expect, it, vi } from 'vitest';
import { gpuLikeContext, useGpu } from '../support/gpu.ts';
import { ResidentSet, keepsResident, residentOrNone, RESIDENT_BYTES } from '../../src/train/resident.ts';
import { GpuContext } from '../../src/gpu/index.ts';
import { batchBuffers, epochPermutation, gatherBatch } from '../../src/data/batches.ts';
import type { SequenceData } from '../../src/data/dataset.ts';
import { MultiLagTask } from '../../src/data/task.ts';
import { train } from '../../src/train/trainer.ts';
import { memorySink } from '../../src/train/sink.ts';
import { parseTrainConfig } from '../../src/train/config.ts';
import { Rng } from '../../src/util/random.ts';

const gpu = useGpu();
afterEach(() => vi.unstubAllEnvs());

describe('ResidentSet', () => {
  // 13 sequences of T=5, D=3, with K=2 targets per step; parts of 4 sequences (the last holds 1)
  const [N, T, D, K] = [13, 5, 3, 2];
  const rng = new Rng(3);
  const data: SequenceData = {
    x: Float32Array.from({ length: N * T * D }, () => rng.normal()), y: Float32Array.from({ length: N * T * K }, () => rng.normal()),
    count: N, steps: T, inputSize: D, source: 'test data',
  };

  it('gathers a batch from its parts as the host does, the same sequence twice included', async () => {
    const set = new ResidentSet(gpu.ctx, data, 6, 4 * 4 * T * D);
    const [x, y] = [gpu.ctx.storage('x', 6 * T * D * 4), gpu.ctx.storage('y', 6 * T * K * 4)];
    try {
      expect(set.parts.map((p) => [p.first, p.count])).toEqual([[0, 4], [4, 4], [8, 4], [12, 1]]);
      for (const indices of [Uint32Array.from([12, 0, 7, 7, 3, 9]), epochPermutation(N, new Rng(8)).subarray(0, 5)]) {
        const step = gpu.ctx.step('gather');
        set.record(step, indices, x, y);
        const got = { x: step.readF32(x, 0, indices.length * T * D), y: step.readF32(y, 0, indices.length * T * K) };
        await step.submit();
        const want = gatherBatch(data, indices, batchBuffers(data, 6));
        expect([...(await got.x)]).toEqual([...want.x]);
        expect([...(await got.y)]).toEqual([...want.y]);
      }
      expect(set.leadingInputs(4)).toBe(set.parts[0]!.x);
      expect(set.leadingInputs(5)).toBeUndefined();
    } finally {
      set.destroy();
      x.destroy();
      y.destroy();
    }
  });

  it('is given up, its buffers freed, where the device reports running out of memory while it is made', async () => {
    const ctx = new GpuContext(gpu.ctx.device);
    const live = ctx.memory.live;
    const kept = await residentOrNone(ctx, data, 4);
    expect(kept).toBeInstanceOf(ResidentSet);
    kept!.destroy();
    const pop = vi.spyOn(ctx.device, 'popErrorScope').mockImplementationOnce(async () => ({ message: 'out of memory' }) as GPUError);
    try {
      expect(await residentOrNone(ctx, data, 4)).toBeUndefined();
      expect(ctx.memory.live).toBe(live);
    } finally {
      pop.mockRestore();
    }
  });

  it('is kept on GPUs up to RESIDENT_BYTES, not on CPU adapters; LWIN_RESIDENT decides instead', () => {
    expect(gpu.ctx.softwareAdapter).toBe(true);
    expect(keepsResident(gpu.ctx, 4 * (data.x.length + data.y.length))).toBe(false);
    vi.stubEnv('LWIN_RESIDENT', 'on');
    expect(keepsResident(gpu.ctx, 4 * (data.x.length + data.y.length))).toBe(true);
    vi.stubEnv('LWIN_RESIDENT', 'maybe');
    expect(() => keepsResident(gpu.ctx, 4 * (data.x.length + data.y.length))).toThrow(/LWIN_RESIDENT=maybe: use 'on'/);
    vi.stubEnv('LWIN_RESIDENT', '');
    expect(keepsResident(gpuLikeContext(gpu), RESIDENT_BYTES)).toBe(true);
    expect(keepsResident(gpuLikeContext(gpu), RESIDENT_BYTES + 4)).toBe(false);
  });
});

describe('training on a resident set', () => {
  it('gives the parameters and curves of host-gathered batches, bit for bit', async () => {
    const task = new MultiLagTask({ steps: 16, inputSize: 3, lags: [2, 5], coeffs: [0.6, 0.5], noiseStd: 0.3, seed: 4 });
    const data = { train: task.trainingSet(40), validation: (epoch: number) => task.validationSet(16, epoch) };
    const config = parseTrainConfig({
      cell: 'gru', hidden: 8, layernorm: true, orthogonal: true, constS: 0.5, optimizer: { name: 'adamw', lr: 1e-2, weightDecay: 1e-4, clip: 1 },
      epochs: 2, batch: 16, seed: 3, checkpointEvery: 100, gateLogEvery: 1,
    });
    const run = async (resident: 'on' | 'off') => {
      vi.stubEnv('LWIN_RESIDENT', resident);
      const result = await train(gpu.ctx, config, data, { sink: memorySink() });
      result.optimizer.destroy();
      return result;
    };
    const [host, device] = [await run('off'), await run('on')];
    expect([...device.params]).toEqual([...host.params]);
    expect(device.curve).toEqual(host.curve);
    expect(device.gates).toEqual(host.gates);
    // A device without room for the set: the run says so and gathers on the host, to the same bits.
    vi.stubEnv('LWIN_RESIDENT', 'on');
    const pop = vi.spyOn(gpu.ctx.device, 'popErrorScope').mockImplementationOnce(async () => ({ message: 'out of memory' }) as GPUError);
    const lines: string[] = [];
    try {
      const result = await train(gpu.ctx, config, data, { sink: memorySink(), log: (line) => lines.push(line) });
      result.optimizer.destroy();
      expect([...result.params]).toEqual([...host.params]);
    } finally {
      pop.mockRestore();
    }
    expect(lines).toEqual([expect.stringMatching(/^the training set \(.+\) did not fit beside the model on .+: batches are gathered on the host$/)]);
  });
});
