// Training gradients through a stack of PyTorch layers (SPEC §13) on the GPU against lwin's float64 twin
// (torchGradients: BPTT through every layer, itself checked against finite differences and PyTorch in
// test/torch): the loss and every parameter's gradient, stored and checkpointed BPTT, for the layer types at 2 and 3
// layers and the four losses' extremes (mse at every step, ce at the last). Checkpointed equals stored bit for bit:
// the same kernels on the same inputs. Tolerances: doctor/tolerances.ts (the single-layer gradient tests' own).
import { describe, expect, it } from 'vitest';
import { useGpu } from '../support/gpu.ts';
import { gaussianInputs, gpuGradient } from '../support/cells.ts';
import { buildLayout, TensorViews } from '../../src/model/index.ts';
import type { TorchCellKind } from '../../src/model/cells.ts';
import { torchParamsOf, layerView } from '../../src/model/stack.ts';
import { torchGradients, type LossSteps, type TorchLoss } from '../../src/model/f64/torch/index.ts';
import { compareToReference, describeComparison } from '../../src/reference/compare.ts';
import { LOSS_RELATIVE, gradientTolerance } from '../../src/doctor/tolerances.ts';
import { Rng } from '../../src/util/random.ts';

const gpu = useGpu();

const CASES: [TorchCellKind, number, TorchLoss, LossSteps][] = [
  ['rnn', 2, 'mse', 'all'],
  ['rnn_relu', 3, 'ce', 'last'],
  ['torch_gru', 2, 'ce', 'all'],
  ['torch_gru', 3, 'mse', 'last'],
  ['torch_lstm', 2, 'mse', 'all'],
  ['torch_lstm', 3, 'ce', 'last'],
];

describe.each(CASES)('%s × %i layers, %s at %s steps', (cell, layers, loss, lossSteps) => {
  const [B, T, D, H, K] = [3, 10, 4, 6, 3];
  const layout = buildLayout({ cell, inputSize: D, hiddenSize: H, layernorm: false, outputs: K, layers });
  const rng = new Rng(60 + layers);
  const p = Float32Array.from({ length: layout.totalSize }, () => (2 * rng.uniform() - 1) / Math.sqrt(H) * 1.5);
  const x = gaussianInputs(B, T, D, 61);
  const y = loss === 'mse' ? gaussianInputs(B, T, K, 62) : Float32Array.from({ length: B * T }, () => Math.floor(rng.uniform() * K));

  const gpuGradientAt = (checkpointEvery?: number) => gpuGradient(gpu.ctx, layout, p, x, y, B, T, checkpointEvery, { loss, lossSteps });

  it('the loss and every gradient equal float64 BPTT through the stack; checkpointed (every 3) equals stored', async () => {
    const twin = torchParamsOf(layout, p);
    const want = torchGradients(twin, { x, batch: B, steps: T }, { loss, lossSteps, y });
    const expected = new Float64Array(layout.totalSize);
    const views = new TensorViews(layout, expected);
    for (const t of want.grad.layout.tensors) views.get(t.name).set(want.grad.data.subarray(t.offset, t.offset + t.size));
    const stored = await gpuGradientAt();
    expect(Math.abs(stored.loss - want.loss.loss), `loss ${stored.loss} vs ${want.loss.loss}`).toBeLessThanOrEqual(LOSS_RELATIVE * want.loss.loss + 2 ** -24 * want.loss.loss);
    const tolerance = gradientTolerance(layout, expected);
    for (const t of layout.tensors) {
      const cmp = compareToReference(stored.grad.subarray(t.offset, t.offset + t.size), expected.subarray(t.offset, t.offset + t.size), (i) => tolerance(t.offset + i));
      expect(cmp.ok, describeComparison(`${cell} ×${layers} ∂L/∂${t.name}`, cmp)).toBe(true);
    }
    const checkpointed = await gpuGradientAt(3);
    expect(Array.from(checkpointed.grad)).toEqual(Array.from(stored.grad));
  });

  it('layerView puts layer k\'s tensors under layer 0\'s names at the stack\'s offsets', () => {
    for (let k = 0; k < layers; k++) {
      const view = layerView(layout, k);
      expect(view.config.inputSize).toBe(k === 0 ? D : H);
      expect(view.totalSize).toBe(layout.totalSize);
      for (const t of view.tensors) {
        const name = t.name.replace(/_l0$/, `_l${k}`);
        expect(t.offset, `${t.name} of layer ${k}`).toBe(layout.tensors.find((s) => s.name === name)!.offset);
      }
    }
  });
});

it('refuses layers on one of lwin\'s own cells, naming the cells that stack', () => {
  expect(() => buildLayout({ cell: 'gru', inputSize: 2, hiddenSize: 4, layernorm: true, layers: 2 })).toThrow(/gru is one of lwin's single-layer cells; stacked layers \(layers 2\) are PyTorch's rnn, rnn_relu, torch_gru and torch_lstm/);
});
