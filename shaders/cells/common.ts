// WGSL of ρ's kernel (shaders/diagnostics/rho.ts), the one recurrent kernel still on one unit per thread; the
// forward, backward and tangent kernels use the thread tiles of tile.ts.
//
// Thread layout: a workgroup of WG threads owns S = WG / HP sequences; thread `lid` works on unit q = lid % HP of
// sequence slot s = lid / HP (HP = H rounded up to a power of two ≥ 32, a shader-time constant). Units q ≥ H and
// sequences past the batch are idle but take part in every barrier. The recurrent state of the S sequences lives
// in workgroup memory across the time steps of one dispatch.

import type { ShaderHead } from '../../src/gpu/program.ts';
import { tileGrid, tilePrelude } from './tile.ts';

export const RECURRENT_WORKGROUP = 256;
/** Largest input width D of a study: x is read from storage, so only the training kernels' sanity bound. */
export const MAX_INPUT = 1024;
/** Largest hidden width H of ρ's kernel (one thread per unit); the tiled kernels take MAX_TRAIN_HIDDEN (src/cells/tiles.ts). */
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
export function recurrentGrid(hidden: number, x?: (p: { steps: number }) => number) {
  return tileGrid({ R: 1, K: 1, hp: threadsPerSequence(hidden), threads: RECURRENT_WORKGROUP }, x);
}

/** Constants, workgroup arrays and helpers every recurrent kernel starts with, after the program's head. */
export function recurrentPrelude(hp: number, head: ShaderHead): string {
  return /* wgsl */ `
${head.declarations}
${tilePrelude({ R: 1, K: 1, hp, threads: head.threads }, { arrays: false })}
const WG: u32 = ${head.threads}u;
const HP: u32 = ${hp}u;
const S: u32 = WG / HP;

var<workgroup> hbuf: array<f32, WG>;      // h_{t-1} of the S sequences, [S][HP]
var<workgroup> abuf: array<f32, WG>;      // a second per-unit vector (gru: r ⊙ h_{t-1}; backward: adjoints)
var<workgroup> red: array<f32, WG>;       // reduction scratch

// x_t[d] of this thread's sequence at the step being computed (tt), read from storage: D has no kernel limit.
fn x_at(d: u32) -> f32 {
  return x[(min(tseq0, params.batch - 1u) * params.T + tt) * params.D + d];
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

`;
}

/**
 * The entry point's opening of ρ's kernel: the thread layout above
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
  let W = ${stateWords}u;
  tile_init(lid, group);`;
}
