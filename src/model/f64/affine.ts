// The two building blocks every cell shares:
// - a pre-activation from a W-layer (input, with bias) and a U-layer (recurrent, no bias): a = W x + b + U u
//   (SPEC §2: "a W* layer has a bias, a U* layer has none"; const/shared/diag name theirs Wx/Wh and Ws/Us);
// - the candidate g = tanh(LN(a)), LayerNorm present only when the layout has its keys.
import { addMatTVec, addMatVec, addOuter, tanhSlope } from './math.ts';
import { layerNormBackward, layerNormForward, layerNormTangent, type LayerNormCache } from './layernorm.ts';
import type { Params } from './types.ts';

/** Layer names of one pre-activation: `${input}.weight`, `${input}.bias`, `${recurrent}.weight`. */
export interface LayerPair {
  input: string;
  recurrent: string;
}

/** a = W x + b + U u. */
export function pairForward(p: Params, pair: LayerPair, x: Float64Array, u: Float64Array): Float64Array {
  const a = Float64Array.from(p.get(`${pair.input}.bias`));
  addMatVec(a, p.get(`${pair.input}.weight`), x);
  addMatVec(a, p.get(`${pair.recurrent}.weight`), u);
  return a;
}

/** Adds ∂L/∂W = da xᵀ, ∂L/∂b = da, ∂L/∂U = da uᵀ into `grad`, and Uᵀ da into du. */
export function pairBackward(p: Params, grad: Params, pair: LayerPair, x: Float64Array, u: Float64Array, da: Float64Array, du: Float64Array): void {
  addOuter(grad.get(`${pair.input}.weight`), da, x);
  const db = grad.get(`${pair.input}.bias`);
  for (let o = 0; o < da.length; o++) db[o] = db[o]! + da[o]!;
  addOuter(grad.get(`${pair.recurrent}.weight`), da, u);
  addMatTVec(du, p.get(`${pair.recurrent}.weight`), da);
}

/** ȧ = Ẇ x + ḃ + U̇ u + U u̇ along the direction `dir`. */
export function pairTangent(p: Params, dir: Params, pair: LayerPair, x: Float64Array, u: Float64Array, uDot: Float64Array): Float64Array {
  const aDot = Float64Array.from(dir.get(`${pair.input}.bias`));
  addMatVec(aDot, dir.get(`${pair.input}.weight`), x);
  addMatVec(aDot, dir.get(`${pair.recurrent}.weight`), u);
  addMatVec(aDot, p.get(`${pair.recurrent}.weight`), uDot);
  return aDot;
}

export interface Candidate {
  /** g = tanh(LN(a)) [H]. */
  g: Float64Array;
  /** null when layernorm is off. */
  layerNorm: LayerNormCache | null;
}

/** g = tanh(LN(a)); `lnPrefix` names the LayerNorm module (ln, ln_h or ln_cand). */
export function candidateForward(p: Params, lnPrefix: string, a: Float64Array): Candidate {
  if (!p.has(`${lnPrefix}.weight`)) return { g: a.map(Math.tanh), layerNorm: null };
  const { y, cache } = layerNormForward(a, p.get(`${lnPrefix}.weight`), p.get(`${lnPrefix}.bias`));
  return { g: y.map(Math.tanh), layerNorm: cache };
}

/** ∂L/∂a from ∂L/∂g; adds the LayerNorm's parameter gradient into `grad`. */
export function candidateBackward(p: Params, grad: Params, lnPrefix: string, cand: Candidate, dg: Float64Array): Float64Array {
  const slope = tanhSlope(cand.g);
  const dn = dg.map((v, q) => v * slope[q]!);
  if (!cand.layerNorm) return dn;
  return layerNormBackward(dn, p.get(`${lnPrefix}.weight`), cand.layerNorm, grad.get(`${lnPrefix}.weight`), grad.get(`${lnPrefix}.bias`));
}

/** ġ from ȧ along `dir` (including the LayerNorm's own γ̇, β̇). */
export function candidateTangent(p: Params, dir: Params, lnPrefix: string, cand: Candidate, aDot: Float64Array): Float64Array {
  const nDot = cand.layerNorm
    ? layerNormTangent(aDot, p.get(`${lnPrefix}.weight`), cand.layerNorm, dir.get(`${lnPrefix}.weight`), dir.get(`${lnPrefix}.bias`))
    : aDot;
  const slope = tanhSlope(cand.g);
  return nDot.map((v, q) => v * slope[q]!);
}
