// Float64 reference of SPEC §3's optimizers and global-norm clipping, for tests. Written plainly from the
// formulas (torch.optim's order: weight decay joins the gradient before momentum and RMSprop's square average;
// AdamW decays the parameter first). Besides the results it returns, per element, the sum of the absolute
// values of the terms each result was formed from: an f32 evaluation of the same formula errs by at most a few
// unit roundoffs of that magnitude, even where the terms cancel.
import { resolveOptimizerConfig, type OptimizerConfig } from '../train/optim/config.ts';

export interface ReferenceOptimizerState {
  /** Updates already applied; the next one is update step + 1. */
  step: number;
  tensors: Record<string, Float64Array>;
}

export interface ReferenceOptimizerStep {
  params: Float64Array;
  state: ReferenceOptimizerState;
  /** ‖g‖ before clipping, and the factor g was multiplied by (1 when clipping is off or inactive). */
  gradNorm: number;
  clipCoef: number;
  /** Term magnitudes of the new parameters and of each new state tensor (see the file comment). */
  magnitudes: { params: Float64Array; tensors: Record<string, Float64Array> };
}

const STATE_NAMES: Record<OptimizerConfig['name'], readonly string[]> = {
  sgd: [],
  sgd_momentum: ['momentum_buffer'],
  adamw: ['exp_avg', 'exp_avg_sq'],
  rmsprop: ['square_avg'],
};

/** torch.nn.utils.clip_grad_norm_: coef = min(1, clip / (‖g‖ + 1e-6)); no clipping when clip is null or 0. */
export function referenceClip(grad: ArrayLike<number>, clip: number | null | undefined): { norm: number; coef: number } {
  let sum = 0;
  for (let i = 0; i < grad.length; i++) sum += grad[i]! * grad[i]!;
  const norm = Math.sqrt(sum);
  return { norm, coef: clip ? Math.min(1, clip / (norm + 1e-6)) : 1 };
}

/** One update of `params` (the trainable prefix) from `grad`; inputs are not modified. */
export function referenceOptimizerStep(
  config: OptimizerConfig,
  params: ArrayLike<number>,
  grad: ArrayLike<number>,
  state: ReferenceOptimizerState,
): ReferenceOptimizerStep {
  const c = resolveOptimizerConfig(config);
  const n = params.length;
  const k = state.step + 1;
  const { norm, coef } = referenceClip(grad, c.clip);
  const p1 = new Float64Array(n);
  const pMag = new Float64Array(n);
  const tensors: Record<string, Float64Array> = {};
  const mags: Record<string, Float64Array> = {};
  for (const name of STATE_NAMES[c.name]) {
    tensors[name] = new Float64Array(n);
    mags[name] = new Float64Array(n);
  }
  const [b1, b2] = c.betas;
  const bc1 = 1 - b1 ** k;
  const bc2 = 1 - b2 ** k;
  for (let i = 0; i < n; i++) {
    const p = params[i]!;
    const g = grad[i]! * coef;
    const gw = g + c.weightDecay * p; // sgd, sgd_momentum, rmsprop
    const gwMag = Math.abs(g) + Math.abs(c.weightDecay * p);
    if (c.name === 'sgd') {
      p1[i] = p - c.lr * gw;
      pMag[i] = Math.abs(p) + c.lr * gwMag;
    } else if (c.name === 'sgd_momentum') {
      const b0 = state.tensors.momentum_buffer![i]!;
      const b = k === 1 ? gw : c.momentum * b0 + gw;
      const bMag = k === 1 ? gwMag : c.momentum * Math.abs(b0) + gwMag;
      tensors.momentum_buffer![i] = b;
      mags.momentum_buffer![i] = bMag;
      p1[i] = p - c.lr * b;
      pMag[i] = Math.abs(p) + c.lr * bMag;
    } else if (c.name === 'adamw') {
      const m0 = state.tensors.exp_avg![i]!;
      const v0 = state.tensors.exp_avg_sq![i]!;
      const m = b1 * m0 + (1 - b1) * g;
      const v = b2 * v0 + (1 - b2) * g * g;
      const mMag = b1 * Math.abs(m0) + (1 - b1) * Math.abs(g);
      const denom = Math.sqrt(v / bc2) + c.eps;
      tensors.exp_avg![i] = m;
      tensors.exp_avg_sq![i] = v;
      mags.exp_avg![i] = mMag;
      mags.exp_avg_sq![i] = v;
      p1[i] = p * (1 - c.lr * c.weightDecay) - ((c.lr / bc1) * m) / denom;
      pMag[i] = Math.abs(p) + ((c.lr / bc1) * mMag) / denom;
    } else {
      const v0 = state.tensors.square_avg![i]!;
      const v = c.alpha * v0 + (1 - c.alpha) * gw * gw;
      tensors.square_avg![i] = v;
      mags.square_avg![i] = c.alpha * v0 + (1 - c.alpha) * gwMag * gwMag; // g' may cancel; its square inherits that
      const avg = Math.sqrt(v) + c.eps;
      p1[i] = p - (c.lr * gw) / avg;
      pMag[i] = Math.abs(p) + (c.lr * gwMag) / avg;
    }
  }
  return { params: p1, state: { step: k, tensors }, gradNorm: norm, clipCoef: coef, magnitudes: { params: pMag, tensors: mags } };
}
