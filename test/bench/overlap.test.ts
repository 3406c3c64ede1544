// Steps merged into one (Step.merge), one after the other or interleaved op by op, compute what each computes alone:
// the same gradients, losses and reads, bit for bit. And the overlap bench (bench/overlap.ts) times its four forms.
import { describe, expect, it } from 'vitest';
import { useGpu } from '../support/gpu.ts';
import { buildLayout, type CellKind } from '../../src/model/index.ts';
import { recordBatchGradient } from '../../src/cells/backward.ts';
import { stepBuffers } from '../../bench/cells.ts';
import { benchOverlap, OVERLAP_FORMS } from '../../bench/overlap.ts';
import type { Step } from '../../src/gpu/step.ts';

const gpu = useGpu();
const B = 3;
const T = 9;

describe('merged steps', () => {
  it.each(['after', 'interleaved'] as const)('%s: two models\' training steps give each one\'s own gradient, loss and reads', async (order) => {
    const ctx = gpu.ctx;
    const models = (['gru', 'const'] as CellKind[]).map((cell, i) => {
      const layout = buildLayout({ cell, inputSize: 2, hiddenSize: 5, layernorm: true });
      const buffers = stepBuffers(ctx, layout, B, T, `merge-${i}`);
      return { layout, buffers, record: (step: Step) => recordBatchGradient(step, { layout, ...buffers, batch: B, steps: T }) };
    });
    const alone = [];
    for (const m of models) {
      const step = ctx.step('alone');
      m.record(step);
      const reads = [step.readF32(m.buffers.grad), step.readF32(m.buffers.loss), step.readF32(m.buffers.yhat)];
      await step.submit();
      alone.push(await Promise.all(reads));
    }
    for (const m of models) for (const buffer of [m.buffers.grad, m.buffers.loss, m.buffers.yhat]) ctx.device.queue.writeBuffer(buffer, 0, new Float32Array(buffer.size / 4).fill(7));
    const first = ctx.step('first');
    models[0]!.record(first);
    const firstReads = [first.readF32(models[0]!.buffers.grad), first.readF32(models[0]!.buffers.loss), first.readF32(models[0]!.buffers.yhat)];
    const second = ctx.step('second');
    models[1]!.record(second);
    const secondReads = [second.readF32(models[1]!.buffers.grad), second.readF32(models[1]!.buffers.loss), second.readF32(models[1]!.buffers.yhat)];
    first.merge([second], order);
    await expect(second.submit()).rejects.toThrow(/already submitted/);
    await first.submit();
    expect(await Promise.all(firstReads)).toEqual(alone[0]);
    expect(await Promise.all(secondReads)).toEqual(alone[1]);
    for (const m of models) for (const buffer of Object.values(m.buffers)) buffer.destroy();
  });

  it('the overlap bench times every form and gives (A + B) over each merged one', async () => {
    const r = await benchOverlap(gpu.ctx, ['const', 'gru'], { batch: 2, steps: 8, hidden: 4, input: 2 }, 1);
    for (const form of OVERLAP_FORMS) expect(r.ms[form] > 0, form).toBe(true);
    expect(r.overlap.after).toBeCloseTo((r.ms['alone A'] + r.ms['alone B']) / r.ms['one after the other'], 10);
    expect(r.overlap.interleaved).toBeCloseTo((r.ms['alone A'] + r.ms['alone B']) / r.ms.interleaved, 10);
  });
});
