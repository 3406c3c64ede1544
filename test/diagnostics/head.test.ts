// The diagnostic stage with SPEC §13's readouts: δ_t = out.weightᵀ r_t from a K-output head (r = ŷ - y for mse,
// softmax(ŷ) - onehot(y) for ce), and with the loss at the last step only ψ keeps one sample per sequence and lag
// (t = T-1). Against float64: part A's twin gives ŷ, the residual, v along the study's w and the SPEC §13 terms;
// referencePsi (SPEC §7) forms ψ from them. The stage's residual is readout_loss's ∂L/∂ŷ at scale 1 (2r for mse),
// the same factor in every diagnostic batch (three batches here), which SPEC §13 says changes nothing.
import { describe, expect, it } from 'vitest';
import { useGpu } from '../support/gpu.ts';
import { gaussianInputs } from '../support/cells.ts';
import { buildLayout, initParams, TensorViews } from '../../src/model/index.ts';
import { INTERMEDIATE_NAMES } from '../../src/model/cells.ts';
import { torchDiagonalTerms, torchForward, torchForwardLoss, torchLayout, torchParams, torchTangents, type LossSteps, type TorchLoss } from '../../src/model/f64/torch/index.ts';
import { runDiagnostics } from '../../src/diagnostics/stage.ts';
import { studyDirection } from '../../src/diagnostics/psi.ts';
import { referencePsi } from '../../src/reference/diagnostics/windows.ts';
import { Rng } from '../../src/util/random.ts';
import { expectPsiMeans } from './window-support.ts';

const gpu = useGpu();

describe.each<[TorchLoss, LossSteps]>([['ce', 'last'], ['ce', 'all'], ['mse', 'last'], ['mse', 'all']])('diagnostics of a torch_gru with a K=3 head, %s at %s steps', (loss, lossSteps) => {
  it('m̄(ℓ) and the sample counts equal float64 ψ from the twin (N=10 in batches of 4, T=20, H=8)', async () => {
    const [N, T, H, D, K] = [10, 20, 8, 3, 3];
    const lags = [1, 3, 7, 12];
    const layout = buildLayout({ cell: 'torch_gru', inputSize: D, hiddenSize: H, layernorm: false, outputs: K });
    const p = Float32Array.from(initParams(layout, { seed: 51, orthogonal: true }));
    new TensorViews(layout, p).get('out.weight').forEach((v, i, w) => (w[i] = 4 * v));
    const x = gaussianInputs(N, T, D, 14);
    const rng = new Rng(15);
    const y = loss === 'mse' ? gaussianInputs(N, T, K, 16) : Float32Array.from({ length: N * T }, () => Math.floor(rng.uniform() * K));
    const wSeed = 17;

    const got = await runDiagnostics(gpu.ctx, layout, p, { x, y, count: N, steps: T, inputSize: D, source: 'test data' }, {
      lags, firstOrder: true, wSeed, seed: 18, transportSamples: 0, batch: 4, readoutLoss: { loss, lossSteps },
    });

    const tl = torchLayout({ cell: 'torch_gru', nonlinearity: 'tanh', layers: 1, inputSize: D, hiddenSize: H, bias: true, outputs: K, readoutBias: true });
    const toTwin = (flat: ArrayLike<number>) => {
      const views = new TensorViews(layout, Float64Array.from(flat));
      const tp = torchParams(tl);
      for (const t of tl.tensors) tp.data.set(views.get(t.name), t.offset);
      return tp;
    };
    const tp = toTwin(p);
    const forward = torchForward(tp, { x, batch: N, steps: T });
    const { residual } = torchForwardLoss(tp, forward, { loss, lossSteps, y });
    const factor = loss === 'mse' ? 2 : 1;
    const delta = new Float64Array(N * T * H);
    for (let row = 0; row < N * T; row++) {
      for (let q = 0; q < H; q++) {
        let acc = 0;
        for (let k = 0; k < K; k++) acc += tp.readout.weight[k * H + q]! * residual[row * K + k]!;
        delta[row * H + q] = factor * acc;
      }
    }
    const v = torchTangents(tp, forward, toTwin(studyDirection(layout, wSeed))).hidden[0]!;
    const terms = torchDiagonalTerms(tp, forward)[0]!;
    const intermediates = new Float64Array(3 * N * T * H);
    INTERMEDIATE_NAMES.torch_gru.forEach((name, n) => intermediates.set(terms[name]!, n * N * T * H));
    const ref = referencePsi({ cell: 'torch_gru', batch: N, steps: T, hidden: H, intermediates }, lags, true, delta, v);

    expectPsiMeans(got, ref, lags, { N, T, lossSteps });
  });
});
