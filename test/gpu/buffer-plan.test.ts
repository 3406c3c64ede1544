// Buffer plans (src/gpu/buffer-plan.ts): one list of a pass's buffers sizes its chunk and allocates them. Checked
// here against what the device really holds, as the context's ledger (ctx.memory) measures it: while each pass runs,
// at its first step, the bytes it added are exactly its plan at the chunk it chose, so no buffer that grows with the
// chunk escapes the sizing, and none is allocated at another size than planned.
import { describe, expect, it, vi } from 'vitest';
import { useGpu } from '../support/gpu.ts';
import { BufferPlan } from '../../src/gpu/buffer-plan.ts';
import { buildLayout, initParams, type CellKind } from '../../src/model/index.ts';
import { MultiLagTask } from '../../src/data/task.ts';
import { diagnosticPlan, runDiagnostics } from '../../src/diagnostics/stage.ts';
import { evaluate, evaluationPlan } from '../../src/train/evaluate.ts';
import { lagRecovery, recoveryPlan } from '../../src/diagnostics/recovery.ts';
import type { GpuContext } from '../../src/gpu/context.ts';

const gpu = useGpu();

/** Runs `pass` and returns the bytes live at its first step beyond those live before it started. */
async function heldAtFirstStep(ctx: GpuContext, pass: () => Promise<unknown>): Promise<number> {
  const before = ctx.memory.live;
  let held: number | undefined;
  const step = ctx.step.bind(ctx);
  const spy = vi.spyOn(ctx, 'step').mockImplementation((label: string) => {
    held ??= ctx.memory.live - before;
    return step(label);
  });
  try {
    await pass();
  } finally {
    spy.mockRestore();
  }
  return held!;
}

function fixture(cell: CellKind) {
  const task = new MultiLagTask({ steps: 12, inputSize: 3, lags: [2, 5], coeffs: [0.8, -0.5], noiseStd: 0.3, seed: 7 });
  const data = task.diagnosticSet(5);
  const layout = buildLayout({ cell, inputSize: 3, hiddenSize: 8, layernorm: cell !== 'linear' });
  const params = Float32Array.from(initParams(layout, { seed: 5 }));
  return { data, layout, params };
}

describe('what each pass holds is its plan, as the context measured it', () => {
  const cases = (['const', 'gru', 'lstm', 'linear'] as const).flatMap((cell) => [2, 3].map((chunk) => ({ cell, chunk })));

  it.each(cases)('diagnostics: $cell, batches of $chunk', async ({ cell, chunk }) => {
    const { data, layout, params } = fixture(cell);
    const lags = [1, 3, 7];
    const options = { lags, firstOrder: true, batch: chunk, wSeed: 1, seed: 2, transportSamples: 0 };
    let batch = 0;
    const held = await heldAtFirstStep(gpu.ctx, async () => {
      batch = (await runDiagnostics(gpu.ctx, layout, params, data, options)).memory.batch;
    });
    expect(batch).toBe(chunk);
    expect(held).toBe(diagnosticPlan(layout, data.steps, lags.length, false, true).total(chunk));
  });

  it.each(cases)('evaluation with gate terms: $cell, chunks of $chunk', async ({ cell, chunk }) => {
    const { data, layout, params } = fixture(cell);
    const plan = evaluationPlan(layout, data.steps, true);
    const buffer = gpu.ctx.upload('test/params', params);
    try {
      let used = 0;
      const held = await heldAtFirstStep(gpu.ctx, async () => {
        used = (await evaluate(gpu.ctx, layout, buffer, data, { gates: true, memoryBudget: chunk * plan.bytesPerSequence })).chunk;
      });
      expect(used).toBe(chunk);
      expect(held).toBe(plan.total(chunk));
    } finally {
      buffer.destroy();
    }
  });

  it.each(cases)('lag recovery: $cell, chunks of $chunk rows', async ({ cell, chunk }) => {
    const { data, layout, params } = fixture(cell);
    const plan = recoveryPlan(layout, data.steps);
    const buffer = gpu.ctx.upload('test/params', params);
    const probe = { x: data.x, count: data.count, steps: data.steps, inputSize: 3, starts: [0, 4] };
    try {
      const held = await heldAtFirstStep(gpu.ctx, () => lagRecovery(gpu.ctx, layout, buffer, probe, [0.6, -0.48, 0.64], 5, { memoryBudget: chunk * plan.bytesPerSequence }));
      expect(held).toBe(plan.total(chunk));
    } finally {
      buffer.destroy();
    }
  });
});

describe('BufferPlan', () => {
  const plan = new BufferPlan('test pass', [
    { label: 'a', perSequence: 12 },
    { label: 'b', perSequence: 0, fixed: 6 },
    { label: 'c', perSequence: 0 },
  ]);

  it('sizes by the bytes per sequence and totals what the device creates (4-byte multiples, at least 4)', () => {
    expect(plan.perSequence).toEqual({ a: 12, b: 0, c: 0 });
    expect(plan.bytesPerSequence).toBe(12);
    expect(plan.total(3)).toBe(36 + 8 + 4);
  });

  it.each([
    { name: 'a label twice', make: () => new BufferPlan('p', [{ label: 'x', perSequence: 1 }, { label: 'x', perSequence: 2 }]), message: "p: buffer 'x' is planned twice" },
    { name: 'negative bytes', make: () => new BufferPlan('p', [{ label: 'x', perSequence: -4 }]), message: "p: buffer 'x' has perSequence = -4 bytes; expected a whole number ≥ 0" },
    { name: 'fractional bytes', make: () => new BufferPlan('p', [{ label: 'x', perSequence: 4, fixed: 0.5 }]), message: "p: buffer 'x' has fixed = 0.5 bytes" },
    { name: 'an unplanned label', make: () => plan.bytes('d', 1), message: "test pass: no buffer 'd' in the plan; planned: a, b, c" },
    { name: 'an upload of another size', make: () => plan.allocate(gpu.ctx, 1, { b: new Float32Array(2) }), message: "test pass: upload to 'b' has 8 bytes, the plan has 6 for 1 sequences" },
    { name: 'an upload to no planned buffer', make: () => plan.allocate(gpu.ctx, 1, { d: new Float32Array(1) }), message: "no buffer 'd' in the plan" },
  ])('refuses $name, saying so', ({ make, message }) => {
    const live = gpu.ctx.memory.live;
    expect(make).toThrow(message);
    expect(gpu.ctx.memory.live, 'nothing is left allocated').toBe(live);
  });
});
