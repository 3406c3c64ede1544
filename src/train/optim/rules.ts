// What the host knows about each optimizer: its state tensors (torch's state_dict names, in slot order), the
// uniforms of its k-th update, and its diagonal preconditioner η_p (SPEC §5). The WGSL of the update is in
// shaders/optim.ts; scalars that torch computes in double on the host (bias corrections, 1 - β) are computed
// here in double too and rounded once to f32 by the uniform.
import type { InferInput } from 'typegpu/data';
import { OptimParams } from '../../../shaders/optim.ts';
import type { OptimizerName, ResolvedOptimizerConfig } from './config.ts';

export type OptimUniforms = InferInput<typeof OptimParams>;

export interface OptimizerRule {
  /** Per-element state tensors, each of the trainable prefix's length. */
  stateNames: readonly string[];
  /** The state tensor η_p depends on, if any. */
  rateState?: string;
  /**
   * η_p over the trainable prefix from the current state (`step` updates done; `rateState`'s values). Before the
   * first update the second-moment estimates are 0, which gives lr/eps.
   */
  preconditioner(config: ResolvedOptimizerConfig, rateState: Float32Array | undefined, step: number, count: number): Float64Array;
}

const constantRate = (config: ResolvedOptimizerConfig, _v: unknown, _k: number, count: number) =>
  new Float64Array(count).fill(config.lr);

/** η_p = lr / (√(v_p / scale) + eps) for a second-moment tensor v. */
function rmsRate(config: ResolvedOptimizerConfig, v: Float32Array, scale: number): Float64Array {
  return Float64Array.from(v, (x) => config.lr / (Math.sqrt(scale > 0 ? x / scale : 0) + config.eps));
}

export const OPTIMIZER_RULES: Readonly<Record<OptimizerName, OptimizerRule>> = {
  sgd: { stateNames: [], preconditioner: constantRate },
  sgd_momentum: { stateNames: ['momentum_buffer'], preconditioner: constantRate },
  adamw: {
    stateNames: ['exp_avg', 'exp_avg_sq'],
    rateState: 'exp_avg_sq',
    // SPEC §5: lr / (√v̂ + eps), v̂ = v / (1 - β2^k)
    preconditioner: (config, v, step) => rmsRate(config, v!, 1 - config.betas[1] ** step),
  },
  rmsprop: {
    stateNames: ['square_avg'],
    rateState: 'square_avg',
    preconditioner: (config, v) => rmsRate(config, v!, 1),
  },
};

/** Uniform values of update number k (1-based) over `count` trainable elements. */
export function updateUniforms(config: ResolvedOptimizerConfig, k: number, count: number): OptimUniforms {
  const [beta1, beta2] = config.betas;
  const bc1 = 1 - beta1 ** k;
  const bc2 = 1 - beta2 ** k;
  return {
    count,
    first: k === 1 ? 1 : 0,
    clip: config.clip ?? 0,
    lr: config.lr,
    weightDecay: config.weightDecay,
    decay: 1 - config.lr * config.weightDecay,
    momentum: config.momentum,
    oneMinusBeta1: 1 - beta1,
    beta2,
    oneMinusBeta2: 1 - beta2,
    stepSize: config.lr / bc1,
    bc2Sqrt: Math.sqrt(bc2),
    alpha: config.alpha,
    oneMinusAlpha: 1 - config.alpha,
    eps: config.eps,
  };
}
