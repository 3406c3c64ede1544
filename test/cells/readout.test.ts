// SPEC §13's readouts and losses on the GPU: a K-output head out.weight [K, H] with mse (targets [B, T, K]) or ce
// (K classes, integer targets), at every step or the last only, for PyTorch's layers, against part A's float64
// twins (torchGradients: PyTorch's own losses, checked against PyTorch in test/torch/fixtures.test.ts).
// Tolerances are the scalar readout's (test/cells/backward.test.ts): the head adds K dot products per step.
import { describe, expect, it } from 'vitest';
import { useGpu } from '../support/gpu.ts';
import { gaussianInputs } from '../support/cells.ts';
import type { GpuContext } from '../../src/gpu/context.ts';
import { buildLayout, initParams, TensorViews, type ParamLayout } from '../../src/model/index.ts';
import type { TorchCellKind } from '../../src/model/cells.ts';
import { torchGradients, torchLayout, torchParams, type LossSteps, type TorchLoss } from '../../src/model/f64/torch/index.ts';
import { compareToReference, describeComparison } from '../../src/reference/compare.ts';
import { recordBatchGradient } from '../../src/cells/backward.ts';
import { LOSS_RELATIVE, gradientTolerance } from '../../src/doctor/tolerances.ts';
import { Rng } from '../../src/util/random.ts';
import { referenceBackward } from '../../src/reference/cells/index.ts';

const gpu = useGpu();

async function gpuGradient(ctx: GpuContext, layout: ParamLayout, p: Float32Array, x: Float32Array, y: Float32Array, B: number, T: number, K: number, loss: TorchLoss, lossSteps: LossSteps, every?: number) {
  const b = {
    params: ctx.upload('test/P', p), x: ctx.upload('test/x', x), y: ctx.upload('test/y', y),
    yhat: ctx.storage('test/yhat', B * T * K * 4), grad: ctx.storage('test/grad', layout.totalSize * 4), loss: ctx.storage('test/loss', 4),
  };
  try {
    const step = ctx.step('test readout bptt');
    recordBatchGradient(step, { layout, ...b, batch: B, steps: T, checkpointEvery: every, readoutLoss: { loss, lossSteps } });
    const reads = [step.readF32(b.grad), step.readF32(b.loss), step.readF32(b.yhat)];
    await step.submit();
    const [grad, total, yhat] = await Promise.all(reads);
    return { grad: grad!, loss: total![0]!, yhat: yhat! };
  } finally {
    for (const buf of Object.values(b)) buf.destroy();
  }
}

/** The twin's model with the same weights (its layout is PyTorch's, unpadded; names are shared). */
function twinOf(layout: ParamLayout, p: Float32Array, K: number) {
  const cell = layout.config.cell as TorchCellKind;
  const tl = torchLayout({
    cell: cell === 'rnn_relu' ? 'rnn' : cell, nonlinearity: cell === 'rnn_relu' ? 'relu' : 'tanh', layers: 1,
    inputSize: layout.config.inputSize, hiddenSize: layout.config.hiddenSize, bias: true, outputs: K, readoutBias: true,
  });
  const tp = torchParams(tl);
  const views = new TensorViews(layout, Float64Array.from(p));
  for (const t of tl.tensors) tp.data.set(views.get(t.name), t.offset);
  return { tl, tp };
}

type Case = [TorchCellKind, TorchLoss, LossSteps];
const cases: Case[] = (['rnn', 'rnn_relu', 'torch_gru', 'torch_lstm'] as const).flatMap((cell) =>
  (['mse', 'ce'] as const).flatMap((loss) => (['all', 'last'] as const).map((steps): Case => [cell, loss, steps])),
);

describe.each(cases)('readout K=3: %s, %s at %s steps', (cell, loss, lossSteps) => {
  it('ŷ [B,T,K], the loss and every gradient match the float64 twin (B=3 T=29 H=12 D=4), stored and checkpointed', async () => {
    const [B, T, H, D, K] = [3, 29, 12, 4, 3];
    const layout = buildLayout({ cell, inputSize: D, hiddenSize: H, layernorm: false, outputs: K });
    const p = Float32Array.from(initParams(layout, { seed: 31, orthogonal: true }));
    // A readout large enough that the logits differ by O(1): PyTorch's init leaves out.weight at ±1/√H.
    new TensorViews(layout, p).get('out.weight').forEach((v, i, w) => (w[i] = 4 * v));
    const x = gaussianInputs(B, T, D, 9);
    const rng = new Rng(10);
    const y = loss === 'mse' ? gaussianInputs(B, T, K, 11) : Float32Array.from({ length: B * T }, () => Math.floor(rng.uniform() * K));
    const { tp } = twinOf(layout, p, K);
    const ref = torchGradients(tp, { x, batch: B, steps: T }, { loss, lossSteps, y });
    const expected = new Float64Array(layout.totalSize);
    const views = new TensorViews(layout, expected);
    for (const t of tp.layout.tensors) views.get(t.name).set(ref.grad.data.subarray(t.offset, t.offset + t.size));

    for (const every of [undefined, 8]) {
      const got = await gpuGradient(gpu.ctx, layout, p, x, y, B, T, K, loss, lossSteps, every);
      const yhat = compareToReference(got.yhat, ref.forward.yHat, (i) => 2e-6 + 2e-6 * Math.abs(ref.forward.yHat[i]!));
      expect(yhat.ok, describeComparison('ŷ', yhat)).toBe(true);
      expect(Math.abs(got.loss - ref.loss.loss), `loss ${got.loss} vs ${ref.loss.loss}`).toBeLessThanOrEqual(LOSS_RELATIVE * ref.loss.loss + 1e-7);
      const tolerance = gradientTolerance(layout, expected);
      for (const t of layout.tensors) {
        const c = compareToReference(got.grad.subarray(t.offset, t.offset + t.size), expected.subarray(t.offset, t.offset + t.size), (i) => tolerance(t.offset + i));
        expect(c.ok, describeComparison(`∂L/∂${t.name}${every ? ' checkpointed' : ''}`, c)).toBe(true);
      }
    }
  });
});

// The paper's cells take the same head. With mse at every step, L_K = (1/K) Σ_k L_k where L_k is the scalar-readout
// loss of head row k against target column k, so ∂L_K/∂θ_recurrent = (1/K) Σ_k ∂L_k/∂θ and row k of ∂L/∂out.* is
// ∂L_k/∂out.* / K: the float64 scalar-readout twin (referenceBackward) gives the expected values.
describe.each(['diag', 'gru', 'lstm', 'linear'] as const)('readout K=3 on the paper cell %s', (cell) => {
  it('mse at every step: the gradient is the mean of the K scalar-readout gradients (B=3 T=23 H=10 D=4)', async () => {
    const [B, T, H, D, K] = [3, 23, 10, 4, 3];
    const layernorm = cell !== 'linear';
    const layout = buildLayout({ cell, inputSize: D, hiddenSize: H, layernorm, outputs: K });
    const p = Float32Array.from(initParams(layout, { seed: 41, orthogonal: true }));
    const views = new TensorViews(layout, p);
    views.get('out.bias').set([0.1, -0.2, 0.3]);
    const x = gaussianInputs(B, T, D, 12);
    const y = gaussianInputs(B, T, K, 13);
    const scalar = buildLayout({ cell, inputSize: D, hiddenSize: H, layernorm });
    const expected = new Float64Array(layout.totalSize);
    const into = new TensorViews(layout, expected);
    let loss = 0;
    for (let k = 0; k < K; k++) {
      const pk = new Float32Array(scalar.totalSize);
      const sv = new TensorViews(scalar, pk);
      for (const t of scalar.tensors) {
        if (t.name === 'out.weight') sv.get(t.name).set(views.get(t.name).subarray(k * H, (k + 1) * H));
        else if (t.name === 'out.bias') sv.get(t.name)[0] = views.get(t.name)[k]!;
        else sv.get(t.name).set(views.get(t.name));
      }
      const yk = Float32Array.from({ length: B * T }, (_, i) => y[i * K + k]!);
      const ref = referenceBackward(scalar, pk, { x, y: yk, batch: B, steps: T });
      loss += ref.loss / K;
      const gv = new TensorViews(scalar, ref.grad);
      for (const t of scalar.tensors) {
        const g = gv.get(t.name);
        if (t.name === 'out.weight') into.get(t.name).subarray(k * H, (k + 1) * H).set(g.map((v) => v / K));
        else if (t.name === 'out.bias') into.get(t.name)[k] = g[0]! / K;
        else into.get(t.name).forEach((v, i, a) => (a[i] = v + g[i]! / K));
      }
    }
    const got = await gpuGradient(gpu.ctx, layout, p, x, y, B, T, K, 'mse', 'all');
    expect(Math.abs(got.loss - loss), `loss ${got.loss} vs ${loss}`).toBeLessThanOrEqual(LOSS_RELATIVE * loss);
    const tolerance = gradientTolerance(layout, expected);
    for (const t of layout.tensors) {
      const c = compareToReference(got.grad.subarray(t.offset, t.offset + t.size), expected.subarray(t.offset, t.offset + t.size), (i) => tolerance(t.offset + i));
      expect(c.ok, describeComparison(`∂L/∂${t.name}`, c)).toBe(true);
    }
  });
});
