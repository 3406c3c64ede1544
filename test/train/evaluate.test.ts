// Evaluation streamed in chunks (sequencesPerChunk): loss and R² against float64 per-sequence sums, and the same
// numbers whatever the chunk size.
//
// Tolerances: ŷ is an f32 recurrence that agrees with the float64 reference to ~1e-6 of its scale (forward tests),
// so SSE agrees to ~1e-5 relative; 1e-4 leaves room. Chunking changes neither ŷ (each sequence is computed alone)
// nor the order of the float64 sums, so loss and R² are equal exactly; the gate means are f32 GPU sums per chunk,
// so their grouping moves them by f32 rounding (1e-6 relative).
import { describe, expect, it } from 'vitest';
import { useGpu } from '../support/gpu.ts';
import { buildLayout, initParams } from '../../src/model/index.ts';
import { MultiLagTask } from '../../src/data/task.ts';
import { referenceForward } from '../../src/reference/cells/index.ts';
import { EvaluationBuffers, evaluate, evaluationPlan } from '../../src/train/evaluate.ts';

const gpu = useGpu();

describe.each(['gru', 'lstm'] as const)('evaluation in chunks: %s, 5 sequences', (cell) => {
  const task = new MultiLagTask({ steps: 20, inputSize: 3, lags: [2, 5], coeffs: [0.8, -0.5], noiseStd: 0.3, seed: 7 });
  const data = task.diagnosticSet(5);
  const layout = buildLayout({ cell, inputSize: 3, hiddenSize: 8, layernorm: true });
  const params = Float32Array.from(initParams(layout, { seed: 5 }));

  it('chunks of 2 give the loss and R² of the float64 per-sequence sums, and of one chunk', async () => {
    const perSequence = evaluationPlan(layout, data.steps, true).bytesPerSequence;
    const buffer = gpu.ctx.upload('test/params', params);
    const chunked = await evaluate(gpu.ctx, layout, buffer, data, { gates: true, memoryBudget: 2 * perSequence });
    const whole = await evaluate(gpu.ctx, layout, buffer, data, { gates: true });
    // Inputs already on the device (the trainer's training-R² sequences) are read from there, chunk by chunk: here
    // other inputs than data.x's, so the numbers are those of the data with those inputs.
    const otherX = task.trainingSet(4).x;
    const deviceX = gpu.ctx.upload('test/x', otherX);
    const resident = await evaluate(gpu.ctx, layout, buffer, data, { gates: true, memoryBudget: 2 * perSequence, maxSequences: 4, deviceX });
    const uploaded = await evaluate(gpu.ctx, layout, buffer, { ...data, x: otherX }, { gates: true, memoryBudget: 2 * perSequence, maxSequences: 4 });
    deviceX.destroy();
    buffer.destroy();
    expect([chunked.chunk, whole.chunk]).toEqual([2, 5]);
    expect(resident).toEqual(uploaded);
    expect(resident.loss).not.toBe(chunked.loss);

    let sse = 0;
    let sumY = 0;
    let sumY2 = 0;
    for (let s = 0; s < data.count; s++) {
      const slice = { x: data.x.subarray(s * 20 * 3, (s + 1) * 20 * 3), batch: 1, steps: 20 };
      const yHat = referenceForward(layout, params, slice).yHat;
      for (let t = 0; t < 20; t++) {
        const y = data.y[s * 20 + t]!;
        sse += (yHat[t]! - y) ** 2;
        sumY += y;
        sumY2 += y * y;
      }
    }
    const m = data.count * 20;
    const loss = sse / m;
    const r2 = 1 - sse / (sumY2 - (sumY * sumY) / m);
    expect(Math.abs(chunked.loss - loss), `loss: gpu ${chunked.loss}, float64 ${loss}`).toBeLessThanOrEqual(1e-4 * loss);
    expect(Math.abs(chunked.r2 - r2), `R²: gpu ${chunked.r2}, float64 ${r2}`).toBeLessThanOrEqual(1e-4 * Math.abs(1 - r2));
    expect(chunked.loss).toBe(whole.loss);
    expect(chunked.r2).toBe(whole.r2);
    for (const [name, mean] of Object.entries(whole.gates!)) {
      expect(Math.abs(chunked.gates![name]! - mean), `mean ${name}`).toBeLessThanOrEqual(1e-6 * Math.abs(mean) + 1e-9);
    }
  });
});

describe('evaluation buffers kept between calls (a trainer\'s)', () => {
  const task = new MultiLagTask({ steps: 20, inputSize: 3, lags: [2, 5], coeffs: [0.8, -0.5], noiseStd: 0.3, seed: 7 });
  const layout = buildLayout({ cell: 'gru', inputSize: 3, hiddenSize: 8, layernorm: true });
  const params = Float32Array.from(initParams(layout, { seed: 5 }));

  it('give the numbers fresh buffers give, reused by a smaller set and replaced for a larger one', async () => {
    const buffer = gpu.ctx.upload('test/params', params);
    const kept = new EvaluationBuffers(gpu.ctx);
    const six = task.diagnosticSet(6);
    const three = task.validationSet(3, 1);
    const before = gpu.ctx.memory.live;
    const first = await evaluate(gpu.ctx, layout, buffer, six, { buffers: kept });
    const afterFirst = gpu.ctx.memory.live;
    // a smaller set reuses the six sequences' buffers (whose stale contents it must not read): nothing new
    const second = await evaluate(gpu.ctx, layout, buffer, three, { buffers: kept });
    expect(gpu.ctx.memory.live).toBe(afterFirst);
    expect(afterFirst).toBeGreaterThan(before);
    expect(second).toEqual(await evaluate(gpu.ctx, layout, buffer, three));
    expect(first).toEqual(await evaluate(gpu.ctx, layout, buffer, six));
    // a larger one replaces them
    const nine = task.diagnosticSet(9);
    expect(await evaluate(gpu.ctx, layout, buffer, nine, { buffers: kept })).toEqual(await evaluate(gpu.ctx, layout, buffer, nine));
    expect(gpu.ctx.memory.live).toBeGreaterThan(afterFirst);
    const live = gpu.ctx.memory.live;
    kept.destroy(); // gives back the nine sequences' set
    expect(live - gpu.ctx.memory.live).toBe(evaluationPlan(layout, 20, false).total(9));
    buffer.destroy();
  });
});
