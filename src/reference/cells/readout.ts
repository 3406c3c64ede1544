// Linear readout and loss (SPEC §2): ŷ_t = out.weight · h_t + out.bias;  L = mean over all B·T of (ŷ - y)².
import { dot } from '../../model/f64/math.ts';
import type { Params } from '../../model/f64/types.ts';

export function readout(p: Params, h: Float64Array): number {
  return dot(p.get('out.weight'), h) + p.get('out.bias')[0]!;
}

/** Adds ∂L/∂out.* into `grad` for one step with ∂L/∂ŷ = dyHat; returns this step's ∂L/∂h = dyHat · out.weight. */
export function readoutBackward(p: Params, grad: Params, h: Float64Array, dyHat: number): Float64Array {
  const dw = grad.get('out.weight');
  for (let q = 0; q < h.length; q++) dw[q] = dw[q]! + dyHat * h[q]!;
  grad.get('out.bias')[0] = grad.get('out.bias')[0]! + dyHat;
  return p.get('out.weight').map((w) => dyHat * w);
}

/** ŷ̇ = out.weight · ḣ + ẇ_out · h + ḃ_out. */
export function readoutTangent(p: Params, dir: Params, h: Float64Array, hDot: Float64Array): number {
  return dot(p.get('out.weight'), hDot) + dot(dir.get('out.weight'), h) + dir.get('out.bias')[0]!;
}

export function meanSquaredError(yHat: ArrayLike<number>, y: ArrayLike<number>): number {
  let sum = 0;
  for (let i = 0; i < yHat.length; i++) sum += (yHat[i]! - y[i]!) ** 2;
  return sum / yHat.length;
}

/** ∂L/∂ŷ_i = 2 (ŷ_i - y_i) / N for the mean over N = B·T. */
export function meanSquaredErrorSlope(yHat: number, y: number, count: number): number {
  return (2 * (yHat - y)) / count;
}
