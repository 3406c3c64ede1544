// LayerNorm over the H units, as torch.nn.LayerNorm(H): biased variance, eps 1e-5, affine weight γ and bias β.
//   y = γ ⊙ x̂ + β,   x̂ = (a - mean a) · r,   r = 1/√(var a + eps)
// Its Jacobian ∂x̂/∂a = r (I - 11ᵀ/H - x̂x̂ᵀ/H) is symmetric, so backward and tangent apply the same projection.

export const LAYERNORM_EPS = 1e-5;

export interface LayerNormCache {
  /** x̂ [H]. */
  normalized: Float64Array;
  /** r = 1/√(var + eps). */
  inverseStd: number;
}

export function layerNormForward(a: Float64Array, gamma: Float64Array, beta: Float64Array): { y: Float64Array; cache: LayerNormCache } {
  const n = a.length;
  const mean = a.reduce((s, v) => s + v, 0) / n;
  const variance = a.reduce((s, v) => s + (v - mean) ** 2, 0) / n;
  const inverseStd = 1 / Math.sqrt(variance + LAYERNORM_EPS);
  const normalized = a.map((v) => (v - mean) * inverseStd);
  const y = normalized.map((v, q) => gamma[q]! * v + beta[q]!);
  return { y, cache: { normalized, inverseStd } };
}

/** r (u - mean(u) - x̂ · mean(u ⊙ x̂)): the normalisation's Jacobian (symmetric) applied to u. */
function normalizationJacobian(u: Float64Array, cache: LayerNormCache): Float64Array {
  const n = u.length;
  const xh = cache.normalized;
  let meanU = 0;
  let meanUX = 0;
  for (let q = 0; q < n; q++) {
    meanU += u[q]!;
    meanUX += u[q]! * xh[q]!;
  }
  meanU /= n;
  meanUX /= n;
  return u.map((v, q) => cache.inverseStd * (v - meanU - xh[q]! * meanUX));
}

/** Returns ∂L/∂a from ∂L/∂y and adds ∂L/∂γ, ∂L/∂β into dGamma, dBeta. */
export function layerNormBackward(
  dy: Float64Array,
  gamma: Float64Array,
  cache: LayerNormCache,
  dGamma: Float64Array,
  dBeta: Float64Array,
): Float64Array {
  for (let q = 0; q < dy.length; q++) {
    dGamma[q] = dGamma[q]! + dy[q]! * cache.normalized[q]!;
    dBeta[q] = dBeta[q]! + dy[q]!;
  }
  return normalizationJacobian(
    dy.map((v, q) => v * gamma[q]!),
    cache,
  );
}

/** ẏ = γ̇ ⊙ x̂ + β̇ + γ ⊙ (∂x̂/∂a) ȧ: the exact JVP along (ȧ, γ̇, β̇). */
export function layerNormTangent(
  aDot: Float64Array,
  gamma: Float64Array,
  cache: LayerNormCache,
  gammaDot: Float64Array,
  betaDot: Float64Array,
): Float64Array {
  const normalizedDot = normalizationJacobian(aDot, cache);
  return normalizedDot.map((v, q) => gamma[q]! * v + gammaDot[q]! * cache.normalized[q]! + betaDot[q]!);
}
