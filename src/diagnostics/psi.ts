// The matched statistic's bookkeeping (SPEC §7) on the host: exact per-lag sums over every ψ sample, the global
// sign orientation, and a uniform per-lag subsample of fixed size for the tail-index estimators. ψ values arrive
// one diagnostic batch at a time ([L, count, T], t < ℓ unused), so memory is bounded by the subsample, whatever
// the diagnostic set's size.
import { Rng } from '../util/random.ts';
import { deriveSeed } from '../data/seeds.ts';
import { torchParams, type TorchLayout, type TorchParams } from '../model/f64/torch/config.ts';
import { layerValues, placeWeightIh, type StackLayer } from '../model/stack.ts';

export const DEFAULT_PSI_SUBSAMPLE = 200_000;

export interface PsiLag {
  ell: number;
  /** ψ samples seen: sequences × (T − ℓ). */
  count: number;
  /** Mean of the raw ψ over all samples (before orientation). */
  mean: number;
  /** sign(mean), +1 when the mean is 0 (SPEC §7). */
  sign: 1 | -1;
  /** m̄(ℓ) = |mean ψ|. */
  mbar: number;
  /** A uniform random subsample of the oriented ψ (sign·ψ), in the order the samples arrived. */
  subsample: Float32Array;
}

interface LagState {
  ell: number;
  total: number;
  seen: number;
  kept: number;
  sum: number;
  compensation: number;
  rng: Rng;
  samples: Float32Array;
}

/**
 * Selection sampling (Knuth's Algorithm S): every sample is kept with probability (k − kept)/(N − seen), which
 * yields exactly k samples, each k-subset equally likely, in one pass without knowing the values in advance.
 */
export class PsiAccumulator {
  private readonly lags: LagState[];
  private readonly lastOnly: boolean;

  constructor(
    lags: readonly number[],
    readonly steps: number,
    totalSequences: number,
    options: { subsample?: number; seed: number; lastOnly?: boolean },
  ) {
    const k = options.subsample ?? DEFAULT_PSI_SUBSAMPLE;
    this.lastOnly = Boolean(options.lastOnly);
    this.lags = lags.map((ell) => {
      // SPEC §13: with the loss at the last step only, one sample per sequence and lag (t = T-1)
      const total = (this.lastOnly ? (steps - 1 >= ell ? 1 : 0) : Math.max(0, steps - ell)) * totalSequences;
      return {
        ell, total, seen: 0, kept: 0, sum: 0, compensation: 0,
        rng: new Rng(deriveSeed(options.seed, 'psi-subsample', ell)),
        samples: new Float32Array(Math.min(k, total)),
      };
    });
  }

  /** Adds one batch: `psi` is [L, count, T] with ψ_t(ℓ) at t ≥ ℓ. */
  add(psi: Float32Array, count: number): void {
    const T = this.steps;
    if (psi.length < this.lags.length * count * T) throw new Error(`ψ batch has ${psi.length} values; expected ${this.lags.length}×${count}×${T}`);
    this.lags.forEach((lag, l) => {
      for (let b = 0; b < count; b++) {
        const row = (l * count + b) * T;
        for (let t = this.lastOnly ? Math.max(lag.ell, T - 1) : lag.ell; t < T; t++) this.take(lag, psi[row + t]!);
      }
    });
  }

  private take(lag: LagState, value: number): void {
    // Neumaier's compensated sum: the per-lag mean is exact to float64 rounding over millions of samples.
    const s = lag.sum + value;
    lag.compensation += Math.abs(lag.sum) >= Math.abs(value) ? lag.sum - s + value : value - s + lag.sum;
    lag.sum = s;
    const room = lag.samples.length - lag.kept;
    if (room > 0 && lag.rng.uniform() * (lag.total - lag.seen) < room) lag.samples[lag.kept++] = value;
    lag.seen++;
  }

  finish(): PsiLag[] {
    return this.lags.map((lag) => {
      if (lag.seen !== lag.total) throw new Error(`ψ at lag ${lag.ell}: ${lag.seen} samples seen, ${lag.total} expected; a diagnostic batch is missing`);
      const mean = lag.seen > 0 ? (lag.sum + lag.compensation) / lag.seen : 0;
      const sign: 1 | -1 = mean < 0 ? -1 : 1;
      const subsample = sign === 1 ? lag.samples : lag.samples.map((v) => -v);
      return { ell: lag.ell, count: lag.seen, mean, sign, mbar: Math.abs(mean), subsample };
    });
  }
}

/** SPEC §7's direction w: Gaussian from w_seed over the trainable parameters (padding and buffers 0), unit L2 norm. */
export function studyDirection(layout: { tensors: readonly { offset: number; size: number; trainable: boolean }[]; totalSize: number }, wSeed: number): Float32Array {
  const rng = new Rng(wSeed);
  const w = new Float64Array(layout.totalSize);
  let norm2 = 0;
  for (const t of layout.tensors) {
    if (!t.trainable) continue;
    for (let i = 0; i < t.size; i++) {
      const v = rng.normal();
      w[t.offset + i] = v;
      norm2 += v * v;
    }
  }
  const scale = 1 / Math.sqrt(norm2);
  return Float32Array.from(w, (v) => v * scale);
}

/**
 * SPEC §7's direction w over every parameter of the stack (Gaussian from w_seed in the stack's flat order, unit
 * norm), as each layer's run layout holds it: layer k's own tensors and the readout, and for k ≥ 1 W_ih in the
 * columns that read v^{(k-1)} (see the head of this file).
 */
export function stackDirections(torch: TorchParams, layers: readonly StackLayer[], wSeed: number): Float32Array[] {
  const layout: TorchLayout = torch.layout;
  const w = studyDirection({ tensors: layout.tensors.map((t) => ({ ...t, trainable: true })), totalSize: layout.totalSize }, wSeed);
  const views = torchParams(layout, Float64Array.from(w));
  return layers.map((layer, k) => {
    const values = layerValues(views, k, layer.runLayout);
    if (k > 0) placeWeightIh(torch, k, layer.runLayout, values, layout.config.hiddenSize);
    return Float32Array.from(values);
  });
}
