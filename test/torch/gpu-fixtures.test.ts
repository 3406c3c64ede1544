// The GPU against PyTorch itself (SPEC §13): the fixtures of test/fixtures/torch (real nn.RNN tanh/relu, nn.GRU,
// nn.LSTM with a K=3 head, 1 and 2 layers, made by make.py) read as the user's files are (torch-model.ts), then ŷ,
// every layer's h_t and,
// for each of the four losses (mse/ce at all steps/the last), the loss and every parameter's gradient from the GPU
// kernels, compared with PyTorch's values. Tolerances are the GPU tests' own (test/cells/forward.test.ts and
// backward.test.ts: f32 kernels against float64), which PyTorch's values (float64 rounded to F32) sit inside.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { useGpu } from '../support/gpu.ts';
import { readNamedTensors } from '../../src/io/safetensors.ts';
import { readTorchCheckpoint } from '../../src/io/torch-checkpoint.ts';
import { torchCheckpointModel } from '../../src/io/torch-model.ts';
import { TensorViews } from '../../src/model/index.ts';
import { recordForward } from '../../src/cells/forward.ts';
import { recordStackInputs } from '../../src/cells/stack.ts';
import { layerView } from '../../src/model/stack.ts';
import { gpuGradient } from '../support/cells.ts';
import { compareToReference, describeComparison } from '../../src/reference/compare.ts';
import { LOSS_RELATIVE, forwardTolerance, gradientTolerance } from '../../src/doctor/tolerances.ts';
import type { LossSteps, TorchLoss } from '../../src/model/f64/torch/index.ts';

const gpu = useGpu();
const FIXTURES = join(import.meta.dirname, '..', 'fixtures', 'torch');
interface Case { name: string; cell: string; nonlinearity: 'tanh' | 'relu'; layers: number; bias: boolean; B: number; T: number; D: number; H: number; K: number }
const MANIFEST = JSON.parse(readFileSync(join(FIXTURES, 'manifest.json'), 'utf8')) as { losses: string[]; cases: Case[] };
// The worst error of each case, relative to the largest |value| of its tensor, printed at the end (closing notes).
const worst = new Map<string, { forward: number; gradient: number }>();
const note = (name: string, kind: 'forward' | 'gradient', got: ArrayLike<number>, want: ArrayLike<number>) => {
  let scale = 0;
  let error = 0;
  for (let i = 0; i < want.length; i++) {
    scale = Math.max(scale, Math.abs(want[i]!));
    error = Math.max(error, Math.abs(got[i]! - want[i]!));
  }
  const entry = worst.get(name) ?? { forward: 0, gradient: 0 };
  entry[kind] = Math.max(entry[kind], scale > 0 ? error / scale : error);
  worst.set(name, entry);
};
afterAll(() => {
  const rows = [...worst].map(([name, e]) => `${name.padEnd(16)} forward ${e.forward.toExponential(1)}  gradients ${e.gradient.toExponential(1)}`);
  console.info(`worst |GPU - PyTorch| / max |PyTorch| per case:\n${rows.join('\n')}`);
});

describe.each(MANIFEST.cases)('GPU against PyTorch: $name', (c) => {
  const file = join(FIXTURES, `${c.name}.model.safetensors`);
  const checkpoint = readTorchCheckpoint(readFileSync(file), { source: file, nonlinearity: c.cell === 'rnn' ? c.nonlinearity : undefined });
  const { layout, params } = torchCheckpointModel(checkpoint);
  const p = Float32Array.from(params);
  const { tensors } = readNamedTensors(readFileSync(join(FIXTURES, `${c.name}.expected.safetensors`)));
  const get = (n: string) => tensors.get(n)!.data;
  const x = Float32Array.from(get('x'));
  const { B, T, H, K } = c;

  it('ŷ [B,T,K] and every layer\'s h_t equal PyTorch\'s', async () => {
    const ctx = gpu.ctx;
    const L = c.layers;
    const b = {
      params: ctx.upload('test/P', p), x: ctx.upload('test/x', x), state: ctx.storage('test/state', B * 2 * H * 4),
      stored: ctx.storage('test/stored', T * B * 2 * H * 4), yhat: ctx.storage('test/yhat', B * T * K * 4),
    };
    try {
      const step = ctx.step('test torch forward');
      step.clear(b.state);
      const inputs = recordStackInputs(step, { layout, params: b.params, x: b.x, batch: B, steps: T });
      recordForward(step, { layout: layerView(layout, L - 1), params: b.params, x: inputs[L - 1]!, batch: B, steps: T, state: b.state, yhat: b.yhat, stored: { buffer: b.stored, slots: T, every: 1, from: 0 } });
      const reads = [step.readF32(b.yhat), step.readF32(b.stored), ...inputs.slice(1).map((h) => step.readF32(h, 0, B * T * H))];
      await step.submit();
      const [yhat, stored, ...below] = await Promise.all(reads);
      const W = c.cell === 'torch_lstm' ? 2 : 1;
      const top = new Float32Array(B * T * H);
      for (let s = 0; s < B; s++) for (let t = 0; t < T; t++) top.set(stored!.subarray(((t * B + s) * W) * H, ((t * B + s) * W + 1) * H), (s * T + t) * H);
      const hidden = [...below, top].map((h, k) => [`h of layer ${k}`, h!, get(`h.l${k}`)] as const);
      for (const [what, got, want] of [['ŷ', yhat!, get('yhat')] as const, ...hidden]) {
        const cmp = compareToReference(got, want, forwardTolerance(want));
        expect(cmp.ok, describeComparison(`${c.name} ${what}`, cmp)).toBe(true);
        note(c.name, 'forward', got, want);
      }
    } finally {
      for (const buf of Object.values(b)) buf.destroy();
    }
  });

  it.each(MANIFEST.losses)('the %s loss and every gradient equal PyTorch\'s', async (lossName) => {
    const [loss, lossSteps] = lossName.split('_') as [TorchLoss, LossSteps];
    let y = Float32Array.from(loss === 'mse' ? get('y_mse') : lossSteps === 'last' ? get('y_ce_last') : get('y_ce'));
    if (loss === 'ce' && lossSteps === 'last') y = Float32Array.from({ length: B * T }, (_, i) => (i % T === T - 1 ? y[Math.floor(i / T)]! : 0));
    const expected = new Float64Array(layout.totalSize);
    const views = new TensorViews(layout, expected);
    const fileName = (n: string) => (n === 'out.weight' ? checkpoint.readout.weight : n === 'out.bias' ? checkpoint.readout.bias ?? 'none' : checkpoint.prefix + n);
    // a bias=False model's biases exist in lwin's layout only (held at 0): PyTorch has no gradient to compare
    const compared = layout.tensors.filter((t) => tensors.has(`grad.${lossName}.${fileName(t.name)}`));
    for (const t of compared) views.get(t.name).set(get(`grad.${lossName}.${fileName(t.name)}`));
    const { grad, loss: total } = await gpuGradient(gpu.ctx, layout, p, x, y, B, T, undefined, { loss, lossSteps });
    const want = get(`loss.${lossName}`)[0]!;
    expect(Math.abs(total - want), `${c.name} loss ${total} vs PyTorch ${want}`).toBeLessThanOrEqual(LOSS_RELATIVE * want + 2 ** -24 * want);
    const tolerance = gradientTolerance(layout, expected);
    for (const t of compared) {
      const cmp = compareToReference(grad.subarray(t.offset, t.offset + t.size), expected.subarray(t.offset, t.offset + t.size), (i) => tolerance(t.offset + i));
      expect(cmp.ok, describeComparison(`${c.name} ${lossName} ∂L/∂${fileName(t.name)}`, cmp)).toBe(true);
      note(c.name, 'gradient', grad.subarray(t.offset, t.offset + t.size), expected.subarray(t.offset, t.offset + t.size));
    }
  });
});
