// WGSL shared by the recurrent kernels (forward, backward, tangent) of every cell.
//
// Thread layout: a workgroup of WG threads owns S = WG / HP sequences; thread `lid` works on unit q = lid % HP of
// sequence slot s = lid / HP (HP = H rounded up to a power of two ≥ 32, a shader-time constant). Units q ≥ H and
// sequences past the batch are idle but take part in every barrier. The recurrent state of the S sequences lives
// in workgroup memory across the time steps of one dispatch.

import type { DispatchLimits, ShaderHead, Workgroups } from '../../src/gpu/program.ts';
import { foldRows } from '../../src/gpu/grid.ts';

export const RECURRENT_WORKGROUP = 256;
/** Largest input width D the kernels accept (x_t of S sequences is staged in workgroup memory). */
export const MAX_INPUT = 64;
/** Largest hidden width H (one thread per unit). */
export const MAX_HIDDEN = RECURRENT_WORKGROUP;

/** Threads per sequence for H hidden units: a power of two ≥ 32 (a subgroup on most GPUs). */
export function threadsPerSequence(hidden: number): number {
  if (hidden > MAX_HIDDEN) throw new RangeError(`hidden size ${hidden} exceeds the recurrent kernels' limit of ${MAX_HIDDEN}`);
  return Math.max(32, 2 ** Math.ceil(Math.log2(hidden)));
}

/**
 * Workgroups of a recurrent call: `x` columns (1, or one per step for ρ) and one row per group of S sequences,
 * folded past the per-dimension limit.
 */
export function recurrentGrid(hidden: number, x: (p: { steps: number }) => number = () => 1) {
  const perGroup = RECURRENT_WORKGROUP / threadsPerSequence(hidden);
  return (p: { batch: number; steps: number }, limits: DispatchLimits): Workgroups => [x(p), ...foldRows(Math.ceil(p.batch / perGroup), limits.maxWorkgroupsPerDimension)];
}

/** Constants, workgroup arrays and helpers every recurrent kernel starts with, after the program's head. */
export function recurrentPrelude(hp: number, head: ShaderHead): string {
  return /* wgsl */ `
${head.declarations}
const WG: u32 = ${head.threads}u;
const HP: u32 = ${hp}u;
const S: u32 = WG / HP;
const DMAX: u32 = ${MAX_INPUT}u;

var<workgroup> hbuf: array<f32, WG>;      // h_{t-1} of the S sequences, [S][HP]
var<workgroup> abuf: array<f32, WG>;      // a second per-unit vector (gru: r ⊙ h_{t-1}; backward: adjoints)
var<workgroup> red: array<f32, WG>;       // reduction scratch
var<workgroup> xbuf: array<f32, S * DMAX>; // x_t of the S sequences, [S][DMAX]

fn sigmoid(a: f32) -> f32 {
  return 1.0 / (1.0 + exp(-a));
}

// tanh saturates to ±1 in f32 beyond |a| ≈ 9; clamping keeps exp-based implementations from overflowing to NaN.
fn tanh_c(a: f32) -> f32 {
  return tanh(clamp(a, -15.0, 15.0));
}

// tanh'(a) = 1 - tanh²(a), computed as 4e/(1+e)² with e = exp(-2|a|) so it keeps its relative precision where tanh
// saturates (1 - g·g would cancel). Likewise the cells take 1 - σ(a) as σ(-a), never as 1 - σ(a).
fn tanh_slope(a: f32) -> f32 {
  let e = exp(-2.0 * min(abs(a), 40.0));
  let d = 1.0 + e;
  return 4.0 * e / (d * d);
}

// Σ_d P[off + d] · x_t[d] for sequence slot s.
fn dot_x(off: u32, s: u32) -> f32 {
  var acc = 0.0;
  for (var d = 0u; d < params.D; d++) { acc = fma(P[off + d], xbuf[s * DMAX + d], acc); }
  return acc;
}

// Σ_j P[off + j] · hbuf[s, j]: one row of a recurrent matrix times h_{t-1}.
fn dot_h(off: u32, s: u32) -> f32 {
  var acc = 0.0;
  for (var j = 0u; j < params.H; j++) { acc = fma(P[off + j], hbuf[s * HP + j], acc); }
  return acc;
}

// Σ_j P[off + j] · abuf[s, j].
fn dot_a(off: u32, s: u32) -> f32 {
  var acc = 0.0;
  for (var j = 0u; j < params.H; j++) { acc = fma(P[off + j], abuf[s * HP + j], acc); }
  return acc;
}

// Σ_q P[off + q·H + j] · abuf[s, q]: column j of a recurrent matrix against a per-unit vector (transposed product).
fn dot_col_a(off: u32, j: u32, s: u32) -> f32 {
  var acc = 0.0;
  for (var q = 0u; q < params.H; q++) { acc = fma(P[off + q * params.H + j], abuf[s * HP + q], acc); }
  return acc;
}

// Sum of v over the HP threads of this thread's sequence, returned to all of them. Call from uniform control flow.
fn seq_sum(lid: u32, v: f32) -> f32 {
  red[lid] = v;
  workgroupBarrier();
  let q = lid % HP;
  for (var half = HP / 2u; half > 0u; half >>= 1u) {
    if (q < half) { red[lid] += red[lid + half]; }
    workgroupBarrier();
  }
  let total = red[lid - q];
  workgroupBarrier();
  return total;
}

// Loads x_t of the S sequences into xbuf. Call from uniform control flow; a barrier follows inside.
fn load_x(lid: u32, group: u32, t: u32) {
  let n = S * params.D;
  for (var i = lid; i < n; i += WG) {
    let s = i / params.D;
    let d = i % params.D;
    let seq = group * S + s;
    var v = 0.0;
    if (seq < params.batch) { v = x[(seq * params.T + t) * params.D + d]; }
    xbuf[s * DMAX + d] = v;
  }
  workgroupBarrier();
}
`;
}

/**
 * The entry point's opening, shared by the forward, backward and tangent kernels: the thread layout above
 * (`group` of S sequences, slot `s`, unit `q`, sequence `seq`, and `live` for threads with real work) and W, the
 * words of recurrent state per unit. The kernel's body follows and closes the function.
 */
export function recurrentEntry(stateWords: number, head: ShaderHead): string {
  return /* wgsl */ `
@compute @workgroup_size(${head.workgroupSize})
fn main(@builtin(workgroup_id) wg: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let group = folded_row(wg, nwg);
  let s = lid / HP;
  let q = lid % HP;
  let seq = group * S + s;
  let live = seq < params.batch && q < params.H;
  let W = ${stateWords}u;`;
}

/**
 * LayerNorm over the H units of each sequence (eps 1e-5, affine; SPEC §2), as the forward kernels use it:
 * returns the normalised value n̂ (before the affine map) and 1/σ, so backward and tangent can reuse them.
 */
export const layerNormForward = /* wgsl */ `
struct LnOut { n: f32, inv_std: f32 }

fn layer_norm(lid: u32, a: f32, live: bool) -> LnOut {
  let inv_h = 1.0 / f32(params.H);
  let mean = seq_sum(lid, select(0.0, a, live)) * inv_h;
  let dev = a - mean;
  let variance = seq_sum(lid, select(0.0, dev * dev, live)) * inv_h;
  let inv_std = inverseSqrt(variance + 1e-5);
  return LnOut(dev * inv_std, inv_std);
}
`;

/**
 * Backward helpers. `dbuf` holds up to four per-unit adjoint vectors (one per gate block) so the transposed
 * products Uᵀ·δ of all blocks need one barrier; thread j reads column j of U, which is contiguous across threads.
 */
export const backwardHelpers = /* wgsl */ `
var<workgroup> dbuf: array<f32, 4 * WG>;

// Σ_q P[off + q·H + j] · dbuf[block, s, q]: (Uᵀ δ)_j for the block's adjoint vector.
fn dot_col_d(off: u32, j: u32, s: u32, block: u32) -> f32 {
  var acc = 0.0;
  for (var q = 0u; q < params.H; q++) { acc = fma(P[off + q * params.H + j], dbuf[block * WG + s * HP + q], acc); }
  return acc;
}

// Adjoint of LayerNorm's normalisation: given dn = ∂L/∂n̂ per unit, ∂L/∂a = (dn - mean(dn) - n̂·mean(dn·n̂)) / σ.
fn layer_norm_backward(lid: u32, dn: f32, n: f32, inv_std: f32, live: bool) -> f32 {
  let inv_h = 1.0 / f32(params.H);
  let m1 = seq_sum(lid, select(0.0, dn, live)) * inv_h;
  let m2 = seq_sum(lid, select(0.0, dn * n, live)) * inv_h;
  return inv_std * (dn - m1 - n * m2);
}
`;
