// The diagnostic stage of a stack of PyTorch layers (SPEC §13), per layer, against lwin's float64 twin of the stack:
// layer k's envelope f̂(ℓ) from its own SPEC §13 terms, and ψ from v^{(k)} (the JVP through the layers below,
// along w over every parameter of the stack) and δ^{(k)} (the same-step chain from the readout's δ), formed by
// referencePsi (SPEC §7). The GPU runs each layer k ≥ 1 on input rows [h, v] (src/model/stack.ts) and δ^{(k)}
// through the backward kernel without recurrence plus the input adjoint (src/cells/stack.ts).
// Tolerances: f̂ is a mean of products of ≤ T f32 factors, relative 1e-4 as the single-layer stage test; ψ's mean m̄
// against 1e-4 of the mean |term| (its rounding scale: each term is a product of f32 values from ≤ 3 chained
// layers, each a few ulp).
import { describe, expect, it } from 'vitest';
import { useGpu } from '../support/gpu.ts';
import { gaussianInputs } from '../support/cells.ts';
import { INTERMEDIATE_NAMES, type TorchCellKind } from '../../src/model/cells.ts';
import {
  layerErrors, outputErrors, torchDiagonalTerms, torchForward, torchForwardLoss, torchLayout, torchParams, torchTangents, type LossSteps, type TorchCell, type TorchLoss, type TorchParams,
} from '../../src/model/f64/torch/index.ts';
import { runStackDiagnostics } from '../../src/diagnostics/stack-stage.ts';
import { studyDirection } from '../../src/diagnostics/psi.ts';
import { referenceEnvelope, referencePsi } from '../../src/reference/diagnostics/windows.ts';
import { Rng } from '../../src/util/random.ts';
import { expectPsiMeans } from './window-support.ts';

const gpu = useGpu();

function randomStack(cell: TorchCell, layers: number, D: number, H: number, K: number, seed: number, relu = false): TorchParams {
  const layout = torchLayout({ cell, nonlinearity: relu ? 'relu' : 'tanh', layers, inputSize: D, hiddenSize: H, bias: true, outputs: K, readoutBias: true });
  const rng = new Rng(seed);
  // PyTorch's U(-1/√H, 1/√H), a little wider so that gates spread; the readout larger so δ is not tiny
  const params = torchParams(layout, Float64Array.from({ length: layout.totalSize }, () => (2 * rng.uniform() - 1) * 1.5 / Math.sqrt(H)));
  params.readout.weight.forEach((v, i, w) => (w[i] = 4 * v));
  return params;
}

const CASES: [string, TorchCell, number, boolean, TorchLoss, LossSteps][] = [
  ['rnn (tanh), 2 layers, mse at all steps', 'rnn', 2, false, 'mse', 'all'],
  ['rnn (relu), 2 layers, ce at the last step', 'rnn', 2, true, 'ce', 'last'],
  ['torch_gru, 2 layers, ce at all steps', 'torch_gru', 2, false, 'ce', 'all'],
  ['torch_lstm, 3 layers, mse at all steps', 'torch_lstm', 3, false, 'mse', 'all'],
  ['torch_lstm, 2 layers, ce at the last step', 'torch_lstm', 2, false, 'ce', 'last'],
  ['torch_gru, 1 layer, ce at the last step', 'torch_gru', 1, false, 'ce', 'last'],
];

describe.each(CASES)('stacked diagnostics: %s', (_name, cell, layers, relu, loss, lossSteps) => {
  it('every layer\'s f̂(ℓ) and m̄(ℓ) equal float64 (N=9 in batches of 4, T=16, D=3, H=6, K=3)', async () => {
    const [N, T, D, H, K] = [9, 16, 3, 6, 3];
    const lags = [1, 2, 5, 11];
    const params = randomStack(cell, layers, D, H, K, 40 + layers, relu);
    const x = gaussianInputs(N, T, D, 41);
    const rng = new Rng(42);
    const y = loss === 'mse' ? gaussianInputs(N, T, K, 42) : Float32Array.from({ length: N * T }, () => Math.floor(rng.uniform() * K));
    const wSeed = 43;
    const f32 = torchParams(params.layout, Float64Array.from(Float32Array.from(params.data)));

    const got = await runStackDiagnostics(gpu.ctx, f32, { x, y, count: N, steps: T, inputSize: D, source: 'test data' }, {
      lags, firstOrder: true, wSeed, seed: 44, transportSamples: 0, batch: 4, readoutLoss: { loss, lossSteps },
    });
    expect(got).toHaveLength(layers);

    const forward = torchForward(f32, { x, batch: N, steps: T });
    const { residual } = torchForwardLoss(f32, forward, { loss, lossSteps, y });
    // the stage takes readout_loss's ∂L/∂ŷ at scale 1: 2r for mse (SPEC §13: a constant factor)
    const deltas = layerErrors(f32, forward, outputErrors(f32, residual.map((r) => (loss === 'mse' ? 2 : 1) * r), N * T));
    const w = torchParams(params.layout, Float64Array.from(studyDirection({ tensors: params.layout.tensors.map((t) => ({ ...t, trainable: true })), totalSize: params.layout.totalSize }, wSeed)));
    const tangents = torchTangents(f32, forward, w).hidden;
    const terms = torchDiagonalTerms(f32, forward);
    const kind: TorchCellKind = cell === 'rnn' ? (relu ? 'rnn_relu' : 'rnn') : cell;
    for (let k = 0; k < layers; k++) {
      const intermediates = new Float64Array(INTERMEDIATE_NAMES[kind].length * N * T * H);
      // the twin names rnn's one plane d (SPEC §13), the kernels `leak`
      INTERMEDIATE_NAMES[kind].forEach((name, n) => intermediates.set(terms[k]![cell === 'rnn' ? 'd' : name]!, n * N * T * H));
      const data = { cell: kind, batch: N, steps: T, hidden: H, intermediates };
      const envelope = referenceEnvelope(data, lags, true);
      const ref = referencePsi(data, lags, true, deltas[k]!, tangents[k]!);
      lags.forEach((ell, l) => {
        const lag = got[k]!.perLag[l]!;
        const want = envelope[l]!.muL1Mean;
        expect(Math.abs(lag.muL1Mean - want), `layer ${k}, ℓ=${ell}: f̂ ${lag.muL1Mean} vs ${want}`).toBeLessThanOrEqual(1e-4 * want);
      });
      expectPsiMeans(got[k]!, ref, lags, { N, T, lossSteps }, `layer ${k}, `);
    }
  });
});
