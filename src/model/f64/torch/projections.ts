// The two affine maps every PyTorch recurrent layer starts from (SPEC §13): gi = W_ih x + b_ih and
// gh = W_hh h + b_hh, each [G·H] in the layer's row blocks, with their adjoint and tangent.
import { addMatTVec, addMatVec, addOuter } from '../math.ts';
import type { TorchLayerParams } from './config.ts';

export interface Projections {
  /** W_ih x + b_ih [G·H]. */
  gi: Float64Array;
  /** W_hh h + b_hh [G·H]. */
  gh: Float64Array;
}

/** Rows g·H … (g+1)·H - 1 of a [G·H] vector (gate g's block). */
export function block(v: Float64Array, g: number, hidden: number): Float64Array {
  return v.subarray(g * hidden, (g + 1) * hidden);
}

/** diag of the square block g of W_hh [G·H, H]: W_h{g},qq. */
export function recurrentDiagonal(p: TorchLayerParams, g: number, hidden: number): Float64Array {
  const d = new Float64Array(hidden);
  for (let q = 0; q < hidden; q++) d[q] = p.weightHh[(g * hidden + q) * hidden + q]!;
  return d;
}

export function project(p: TorchLayerParams, x: Float64Array, h: Float64Array): Projections {
  const rows = p.weightHh.length / h.length;
  const gi = p.biasIh ? Float64Array.from(p.biasIh) : new Float64Array(rows);
  const gh = p.biasHh ? Float64Array.from(p.biasHh) : new Float64Array(rows);
  addMatVec(gi, p.weightIh, x);
  addMatVec(gh, p.weightHh, h);
  return { gi, gh };
}

/**
 * Given ∂L/∂gi and ∂L/∂gh: adds the parameter gradient into `grad` (unless null), W_hhᵀ dgh into dhPrev, and returns
 * ∂L/∂x = W_ihᵀ dgi.
 */
export function projectBackward(
  p: TorchLayerParams, grad: TorchLayerParams | null, x: Float64Array, h: Float64Array, dgi: Float64Array, dgh: Float64Array, dhPrev: Float64Array,
): Float64Array {
  if (grad) {
    addOuter(grad.weightIh, dgi, x);
    addOuter(grad.weightHh, dgh, h);
    if (grad.biasIh) for (let o = 0; o < dgi.length; o++) grad.biasIh[o] = grad.biasIh[o]! + dgi[o]!;
    if (grad.biasHh) for (let o = 0; o < dgh.length; o++) grad.biasHh[o] = grad.biasHh[o]! + dgh[o]!;
  }
  addMatTVec(dhPrev, p.weightHh, dgh);
  const dx = new Float64Array(x.length);
  addMatTVec(dx, p.weightIh, dgi);
  return dx;
}

/** ġi, ġh along the parameter direction `dir` (null: parameters fixed) with input and state tangents ẋ, ḣ (null: 0). */
export function projectTangent(
  p: TorchLayerParams, dir: TorchLayerParams | null, x: Float64Array, h: Float64Array, xDot: Float64Array | null, hDot: Float64Array,
): Projections {
  const rows = p.weightHh.length / h.length;
  const gi = dir?.biasIh ? Float64Array.from(dir.biasIh) : new Float64Array(rows);
  const gh = dir?.biasHh ? Float64Array.from(dir.biasHh) : new Float64Array(rows);
  if (dir) {
    addMatVec(gi, dir.weightIh, x);
    addMatVec(gh, dir.weightHh, h);
  }
  if (xDot) addMatVec(gi, p.weightIh, xDot);
  addMatVec(gh, p.weightHh, hDot);
  return { gi, gh };
}
