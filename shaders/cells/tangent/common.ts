// WGSL shared by the tangent (forward-mode JVP, SPEC §7) kernels of every cell. They run next to the forward step
// snippets and add, per step, the tangent v_t = (dh_t/dθ)[w] along a parameter direction w, stored in `Pd` with
// the layout (and uniform offsets) of `P`. v_{t-1} of the S sequences lives in `vbuf`, laid out as `hbuf`.

/**
 * Workgroup memory and dot products the tangent snippets use; include after recurrentPrelude. With `inputTangent`,
 * the tangent also carries an input perturbation: x_t of sequence b moves along `input_dir[0..D)` at the single step
 * `input_dir[D + b]` (SPEC §12's lag recovery), which adds W·ẋ_t wherever Ẇ·x_t appears (every Ẇx term goes through
 * dotd_x, so this is the one place that knows).
 */
export function tangentPrelude(inputTangent: boolean): string {
  return /* wgsl */ `
var<workgroup> vbuf: array<f32, WG>; // v_{t-1} of the S sequences, [S][HP]
${inputTangent ? `
// ẋ_t[d] of this thread's sequence at step tt: input_dir[d] at its one perturbed step input_dir[D + b], else 0.
fn xdot_at(d: u32) -> f32 {
  let seq = min(tseq0, params.batch - 1u);
  return select(0.0, input_dir[d], u32(input_dir[params.D + seq]) == tt);
}` : ''}

// Σ_d Pd[off + d] · x_t[d] (+ P[off + d] · ẋ_t[d] with an input tangent) for this thread's sequence.
fn dotd_x(off: u32, s: u32) -> f32 {
  var acc = 0.0;
  for (var d = 0u; d < params.D; d++) {
    acc = fma(Pd[off + d], x_at(d), acc);${inputTangent ? `
    acc = fma(P[off + d], xdot_at(d), acc);` : ''}
  }
  return acc;
}

${tangentDots}`;
}

const tangentDots = /* wgsl */ `
// Σ_j Pd[off + j] · hbuf[s, j] + P[off + j] · vbuf[s, j]: the tangent U̇ h_{t-1} + U v_{t-1} of one row of U h.
fn dot_hv(off: u32, s: u32) -> f32 {
  var acc = 0.0;
  for (var j = 0u; j < params.H; j++) {
    acc = fma(Pd[off + j], hbuf[s * HP + j], acc);
    acc = fma(P[off + j], vbuf[s * HP + j], acc);
  }
  return acc;
}

// ȧ_q of a = W x + b + U h (SPEC §2 layer pair) for unit q: Ẇ_q x + ḃ_q + U̇_q h + U_q v. Weights' offsets w, b, u.
fn pair_tangent(w: u32, b: u32, u: u32, q: u32, s: u32) -> f32 {
  return Pd[b + q] + dotd_x(w + q * params.D, s) + dot_hv(u + q * params.H, s);
}
`;

/**
 * The exact JVP of LayerNorm (src/model/f64/layernorm.ts): with n̂ and 1/σ from layer_norm,
 * ẏ = γ ⊙ n̂̇ + γ̇ ⊙ n̂ + β̇, n̂̇ = (1/σ)(ȧ - mean ȧ - n̂ · mean(ȧ ⊙ n̂)). Calls seq_sum: uniform control flow only.
 * `gamma`, `beta` are the offsets of the LayerNorm's weight and bias; idle threads get 0.
 */
export const layerNormTangent = /* wgsl */ `
fn layer_norm_tangent(lid: u32, a_dot: f32, ln: LnOut, gamma: u32, beta: u32, live: bool) -> f32 {
  let inv_h = 1.0 / f32(params.H);
  let mean_dot = seq_sum(lid, select(0.0, a_dot, live)) * inv_h;
  let mean_dot_n = seq_sum(lid, select(0.0, a_dot * ln.n, live)) * inv_h;
  var y_dot = 0.0;
  if (live) {
    let q = lid % HP;
    let n_dot = ln.inv_std * (a_dot - mean_dot - ln.n * mean_dot_n);
    y_dot = P[gamma + q] * n_dot + Pd[gamma + q] * ln.n + Pd[beta + q];
  }
  return y_dot;
}
`;

/** `a_dot = layer_norm_tangent(...)` when the cell has LayerNorm, else nothing (the candidate's ȧ is its input). */
export function candidateNormTangent(layernorm: boolean, lnPrefix: string, o: (tensor: string) => string, aDot: string): string {
  if (!layernorm) return '';
  return `  ${aDot} = layer_norm_tangent(lid, ${aDot}, ln, ${o(`${lnPrefix}.weight`)}, ${o(`${lnPrefix}.bias`)}, live);`;
}
