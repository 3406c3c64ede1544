// The paper preset's shapes (T=1024, H=128, D=16, 128 lags up to 256) on a device with WebGPU's default limits
// (128 MiB per storage binding, 256 MiB per buffer): every pass sizes its chunks from the adapter's limits
// (sequencesPerChunk), so nothing asks for a buffer the smallest conforming adapter cannot bind.
//
// Sequence counts are tiny (they do not change any per-sequence buffer); the study reads them from .npy files so
// that the validation set is as small as the rest (the task's is at least 256 sequences).
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { gpuLikeContext, useGpu } from '../support/gpu.ts';
import { gaussianInputs, gpuGradient } from '../support/cells.ts';
import { referenceBackward } from '../../src/reference/cells/index.ts';
import { compareToReference, describeComparison } from '../../src/reference/compare.ts';
import { gradientTolerance } from '../../src/doctor/tolerances.ts';
import { gradKernel } from '../../shaders/grad.ts';
import { ResidentSet } from '../../src/train/resident.ts';
import { gatherBatch } from '../../src/data/batches.ts';
import { PAPER_PRESET, resolveStudy } from '../../src/study/config.ts';
import { runStudy } from '../../src/study/run.ts';
import { MultiLagTask } from '../../src/data/task.ts';
import { writeNpy } from '../../src/io/npy.ts';
import { buildLayout, initParams } from '../../src/model/index.ts';
import { evaluate, evaluationPlan, EVAL_BATCH, EVAL_BATCH_PLAIN } from '../../src/train/evaluate.ts';
import { GATE_METRICS } from '../../src/train/curves.ts';
import type { CellKind } from '../../src/model/cells.ts';
import { diagnosticPlan } from '../../src/diagnostics/stage.ts';
import { recoveryPlan } from '../../src/diagnostics/recovery.ts';
import { sequencesPerChunk } from '../../src/gpu/chunks.ts';
import { Rng } from '../../src/util/random.ts';

const gpu = useGpu({ defaultLimits: true });
const MiB = 2 ** 20;

describe('a device with WebGPU default limits', () => {
  it('binds at most 128 MiB per storage buffer and holds at most 256 MiB per buffer', () => {
    expect(gpu.ctx.device.limits.maxStorageBufferBindingSize).toBe(128 * MiB);
    expect(gpu.ctx.device.limits.maxBufferSize).toBe(256 * MiB);
  });

  it.each(['gru', 'lstm'] as const)('%s at the paper shapes: every pass chooses chunks whose buffers fit one binding', (cell) => {
    const { steps: T, inputSize: D } = PAPER_PRESET.task;
    const layout = buildLayout({ cell, inputSize: D, hiddenSize: PAPER_PRESET.model.hidden, layernorm: true });
    const passes = {
      evaluation: { buffers: evaluationPlan(layout, T, true).perSequence, cap: EVAL_BATCH },
      'evaluation without gate terms': { buffers: evaluationPlan(layout, T, false).perSequence, cap: EVAL_BATCH_PLAIN },
      diagnostics: { buffers: diagnosticPlan(layout, T, PAPER_PRESET.lagGrid.num, true, true).perSequence, budget: PAPER_PRESET.diagMemoryBudget },
      'lag recovery': { buffers: recoveryPlan(layout, T).perSequence },
    };
    for (const [pass, request] of Object.entries(passes)) {
      const chunk = sequencesPerChunk(gpu.ctx.device.limits, { pass, count: PAPER_PRESET.diagSequences, ...request });
      expect(chunk, pass).toBeGreaterThan(1);
      // The case: 256 sequences of gate terms (4·256·1024·128 floats for gru) did not fit; 2 MiB per sequence does, 64 at a time.
      if (pass === 'evaluation') expect(chunk).toBe(cell === 'gru' ? 64 : 85);
      // The training R²'s 1024 sequences in one forward call: 64 KiB of inputs each, 64 MiB in all.
      if (pass === 'evaluation without gate terms') expect(chunk).toBe(1024);
      for (const [label, bytes] of Object.entries(request.buffers)) expect(chunk * bytes, `${pass}: ${chunk} × ${label}`).toBeLessThanOrEqual(128 * MiB);
    }
  });
});

describe('evaluation of more sequences than one chunk holds, at the default limits', () => {
  // gru, H=16, T=4096: the gate terms take 4·4·T·H = 1 MiB per sequence, so 128 fit one binding and 129 need two
  // chunks. (The paper's H=128, T=1024 gives 2 MiB and chunks of 64, at 8 times the cost per sequence.)
  const [N, T, D, H] = [129, 4096, 1, 16];
  const layout = buildLayout({ cell: 'gru', inputSize: D, hiddenSize: H, layernorm: true });
  const rng = new Rng(4);
  const data = { x: Float32Array.from({ length: N * T * D }, () => rng.normal()), y: Float32Array.from({ length: N * T }, () => rng.normal()), count: N, steps: T, inputSize: D };
  const last = { ...data, count: 1, x: data.x.subarray((N - 1) * T * D), y: data.y.subarray((N - 1) * T) };

  // test/train/evaluate.test.ts holds chunked evaluation to the float64 reference; here the chunks are the
  // adapter's, and the whole set must give what its two parts give evaluated apart (the same GPU sums, so only
  // float64 rounding of the combination differs: 1e-12).
  it('chunks of 128 + 1 give the loss, R² and gate means of the first 128 and the last sequence evaluated apart', async () => {
    const buffer = gpu.ctx.upload('test/params', Float32Array.from(initParams(layout, { seed: 3 })));
    const chunked = await evaluate(gpu.ctx, layout, buffer, data, { gates: true });
    const first = await evaluate(gpu.ctx, layout, buffer, data, { gates: true, maxSequences: N - 1 });
    const alone = await evaluate(gpu.ctx, layout, buffer, last, { gates: true });
    buffer.destroy();
    expect([chunked.chunk, first.chunk]).toEqual([N - 1, N - 1]);

    const close = (got: number, want: number, what: string) => expect(Math.abs(got - want), `${what}: ${got} vs ${want}`).toBeLessThanOrEqual(1e-12 * Math.abs(want));
    const loss = ((N - 1) * first.loss + alone.loss) / N;
    close(chunked.loss, loss, 'loss');
    let [sumY, sumY2] = [0, 0];
    for (const y of data.y) [sumY, sumY2] = [sumY + y, sumY2 + y * y];
    close(chunked.r2, 1 - (loss * N * T) / (sumY2 - (sumY * sumY) / (N * T)), 'R²');
    for (const [name, mean] of Object.entries(chunked.gates!)) close(mean, ((N - 1) * first.gates![name]! + alone.gates![name]!) / N, `mean ${name}`);
  });
});

describe('lwin run --preset paper at tiny sequence counts, at the default limits', () => {
  it('trains, evaluates (gate statistics included), diagnoses 128 lags up to 256 and writes the summaries', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'lwin-paper-shapes-'));
    try {
      const { steps: T, inputSize: D } = PAPER_PRESET.task;
      const task = new MultiLagTask(PAPER_PRESET.task);
      const files: Record<string, string> = {};
      for (const [name, set] of [['', task.trainingSet(1)], ['diag', task.diagnosticSet(1)]] as const) {
        files[`${name}x`] = join(dir, `${name}x.npy`);
        files[`${name}y`] = join(dir, `${name}y.npy`);
        await writeFile(files[`${name}x`]!, writeNpy([set.count, T, D], set.x));
        await writeFile(files[`${name}y`]!, writeNpy([set.count, T], set.y));
      }
      const config = resolveStudy('paper', {
        cells: ['gru', 'lstm'], trainSequences: 1, diagSequences: 1, epochs: 1, batch: 1, transportSamples: 1,
        data: { x: files.x, y: files.y, diagX: files.diagx, diagY: files.diagy },
      });
      const out = join(dir, 'out');
      const records = await runStudy(gpu.ctx, config, out, { report: false });
      for (const record of records) {
        expect(record.diagnostics.memory.batch, record.cell).toBe(1);
        expect(record.stats.lags.map((l) => l.ell)).toHaveLength(128);
        expect(Math.max(...record.stats.lags.map((l) => l.ell))).toBe(256);
        const gates = (await readFile(join(out, record.cell, `gate_stats_${record.cell}.csv`), 'utf8')).trim().split('\n');
        // Long format (the reference's): one row per metric of the one logged epoch, 0-based.
        const metrics = GATE_METRICS[record.cell as CellKind].map(([, metric]) => metric);
        expect(gates, `${record.cell} gate statistics`).toHaveLength(1 + metrics.length);
        expect(gates[0]).toBe('epoch,metric,value');
        for (const [i, metric] of metrics.entries()) {
          const [epoch, name, value] = gates[i + 1]!.split(',');
          expect([epoch, name], gates[i + 1]).toEqual(['0', metric]);
          expect(Number.isFinite(Number(value)), gates[i + 1]).toBe(true);
        }
      }
      expect((await readFile(join(out, 'H_N_summary.csv'), 'utf8')).split('\n')[0]).toContain('H_N_lstm');
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('the GPUs\' training forms within the default limits', () => {
  // The staged weight gradients (8 KiB of workgroup memory, 256 threads) and the resident set's gather, as a GPU
  // runs them, on this device requested with WebGPU's default limits.
  it('gru B=3 T=21 H=70 D=5: staged weight gradients and a resident batch, against float64', async () => {
    const asGpu = gpuLikeContext(gpu);
    const [B, T, H, D] = [3, 21, 70, 5];
    const layout = buildLayout({ cell: 'gru', inputSize: D, hiddenSize: H, layernorm: true });
    const p = Float32Array.from(initParams(layout, { seed: 8 }));
    const x = gaussianInputs(B, T, D, 9);
    const y = gaussianInputs(B, T, 1, 10);
    expect(gradKernel(asGpu.softwareAdapter)).toBe('staged');
    const got = await gpuGradient(asGpu, layout, p, x, y, B, T);
    const ref = referenceBackward(layout, p, { x, y, batch: B, steps: T });
    const c = compareToReference(got.grad, ref.grad, gradientTolerance(layout, ref.grad));
    expect(c.ok, describeComparison('staged ∂L/∂θ at default limits', c)).toBe(true);

    const data = { x, y, count: B, steps: T, inputSize: D, source: 'test' };
    const set = new ResidentSet(asGpu, data, 2);
    const [bx, by] = [asGpu.storage('bx', 2 * T * D * 4), asGpu.storage('by', 2 * T * 4)];
    try {
      const step = asGpu.step('gather');
      set.record(step, Uint32Array.from([2, 0]), bx, by);
      const read = step.readF32(bx);
      await step.submit();
      expect([...(await read)]).toEqual([...gatherBatch(data, [2, 0]).x]);
    } finally {
      set.destroy();
      bx.destroy();
      by.destroy();
    }
  });
});
