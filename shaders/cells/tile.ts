// The thread tile of the recurrent kernels: what one invocation computes, and the WGSL helpers the cell snippets
// are written against, so that one snippet serves every tile.
//
// A workgroup of `threads` invocations holds groups of `hp` threads (hp a power of two); a group owns R sequences
// (register blocking over sequences: every weight a thread loads serves R sequences) and each thread of it K units
// of them, unit q + k·hp for k < K (several units per thread: H up to K·hp). A thread's values are WGSL vectors V
// of N = R·K components, component c = k·R + r being unit q + k·hp of the group's sequence r; the cell snippets
// compute with V as if it were one number (vector arithmetic and built-ins are component-wise), and reach
// parameters, other units and other sequences only through these helpers (prelude.ts writes them):
//
//   pu(off)        per-unit parameter P[off + unit]                      pdiag(off)   U[unit, unit]
//   row_h(off)     Σ_j U[unit, j] h_{t-1}[seq, j]  (U at off, [H, H])    row_a(off)   the same against abuf
//   row_x(off)     Σ_d W[unit, d] x_t[seq, d]      (W at off, [H, D])    row_x0(off)  row 0 of W for every unit
//   col_d(off, b)  Σ_i U[i, unit] dbuf[b][i, seq]  (Uᵀ times a block of adjoints; backward only)
//   unit_sum(v)    Σ over the H units of each component's sequence (uniform control flow only: it has barriers);
//                  unit_sums2(a, b), unit_sums3(a, b, c) several independent sums at once (unitSumsWgsl)
//   put_h / put_a / put_d, get_h    this thread's components to and from the workgroup vectors
//
// Sums of the dot products (row_h, row_a, row_x, col_d): with `partials` P > 1 each is P partial sums, term j going
// to partial j mod P, each partial ascending in j, and the partials added in a fixed pairwise tree. A GPU gets P
// independent chains of fused multiply-adds instead of one (PERF.md: a step's latency); P is the device's and the
// cell's (src/cells/tiles.ts devicePartials: 8 on GPUs but 1 for gru and lstm, 1 on CPU adapters), not the tile's, so
// the autotune's choice never changes results.
// With `split` S > 1 the S threads of a unit (its lanes) share those partials, P/S each, and add their subtrees
// through workgroup memory (lane_sum): the same tree, so the same bits as S = 1, with 1/S of the weights per thread
// (what lets a GPU hold gru's forward weights at the paper size: `-pf`) and S times the threads. Every lane computes its unit's whole
// step from the same sums; lane 0 alone writes (`lead` in perComponent, the setters, unit_sum).
//
// Workgroup vectors: hbuf, abuf, unit_sum's red (and the tangent's vbuf) hold [unit][group], a group's R sequences
// of a unit side by side as one vector (GROUPED in tile-components.ts), and so does each adjoint block of dbuf: a dot product's
// step loads the group's R values of h_j (or δ_j) with one vector load, and each step of unit_sum's tree adds them
// as one vector. unit_sum takes one barrier per level of its tree but the last, which every thread sums itself from
// `rtop` (unitSumTop): two barriers at H ≤ 64 instead of four, the same additions in the same order.
//
// The tangent and ρ kernels use the default tile (R = 1, K units per thread as H needs); the training kernels choose
// R, K and the workgroup size per adapter (src/cells/tiles.ts). Every kernel reads x [B, T, D] from storage.
//
// Weights of the row helpers: with `rows: 'columns'` they read a copy of the parameters in which every block of
// H rows of a unit-row matrix (U, W) is stored column-major, [C][H] (src/cells/weights.ts): at step j of the dot
// product the threads of a group then read consecutive words (one coalesced load on a GPU) instead of words H apart.
// The sums are the same, in the same order, so both layouts give the same results bit for bit.

//
// This module holds the tile itself: its sizes, keys, grid and workgroup-memory budget. The WGSL helpers are in
// tile-components.ts (a thread's components, the grouped workgroup vectors), unit-sum.ts (sums over units and over a
// split unit's lanes) and prelude.ts (tilePrelude: the module-scope WGSL every recurrent kernel starts with).

import type { DispatchLimits, Workgroups } from '../../src/gpu/program.ts';
import { foldRows } from '../../src/gpu/grid.ts';
import type { DotSums } from './dot-loop.ts';

export interface Tile {
  /** Sequences per thread group (register blocking over sequences). */
  R: number;
  /** Units per thread. */
  K: number;
  /** Threads per group: a power of two; K·hp ≥ H. */
  hp: number;
  /** Invocations per workgroup, a multiple of hp. */
  threads: number;
  /**
   * How the training kernels read weights (see `rows` above): by columns (absent, the default) or by rows. A GPU's
   * caches favour one or the other by cell and size, so the autotune times both there.
   */
  weights?: 'rows';
  /**
   * Steps of every dot product's loop written out per iteration (absent: DOT_UNROLL). Each iteration issues all its
   * loads before its fused multiply-adds, so a GPU has that many weight loads in flight instead of one; the
   * multiply-adds keep their order, so every unroll gives the same sums bit for bit.
   */
  unroll?: number;
  /**
   * Weights held per thread for the whole dispatch instead of read from storage at every step (held-weights.ts):
   * true with `-p` in the key; 'forward' (`-pf`) in the forward-like kernels only (forward, tangent, ρ), the
   * backward streaming them (it holds the columns of U besides the rows: twice the registers); absent, the
   * device's default (src/cells/tiles.ts). Same results bit for bit.
   */
  held?: boolean | 'forward';
  /** The H and D a held tile's kernels compile in: set when the tile is settled for a layer. */
  dims?: HeldDims;
  /**
   * Partial sums per dot product (absent: 1; see above): set by the device when the tile is settled
   * (src/cells/tiles.ts), a power of two. It changes the sums' order, so it is never an autotune choice.
   */
  partials?: number;
  /** Threads per unit (absent: 1), a power of two dividing `partials`: `-s<n>` in the key. Same bits as 1. */
  split?: number;
  /**
   * How a split unit's lanes add their partial sums (lane_sum): through workgroup memory with a barrier (absent), or
   * (`'subgroup'`, `-sg` in the key) by subgroup shuffles, no barrier and no workgroup memory, its lanes then being
   * S consecutive invocations (unit-sum.ts). Same bits either way; a subgroup tile runs only where the device's
   * subgroups were checked to be runs of consecutive invocations a multiple of S long (src/cells/tiles.ts).
   */
  lanes?: 'subgroup';
  /**
   * Subgroup size S of a held tile's CPU form (held-weights.ts subgroupLoop): its dot products load workgroup vectors
   * and x S indices at a time, one per lane, and broadcast them. Set by the device when the tile is settled
   * (src/cells/tiles.ts deviceSubgroup); absent, plain loads. Same bits either way.
   */
  subgroup?: number;
}

/** The sizes a held tile compiles in (held-weights.ts). */
export interface HeldDims {
  H: number;
  D: number;
}

/** The dot products' default unroll (Tile.unroll). */
export const DOT_UNROLL = 8;

export function tileUnroll(tile: Tile): number {
  return tile.unroll ?? DOT_UNROLL;
}

export function tilePartials(tile: Tile): number {
  return tile.partials ?? 1;
}

export function tileSplit(tile: Tile): number {
  return tile.split ?? 1;
}

/** How a tile's dot products sum (dotLoop). */
export function tileSums(tile: Tile): DotSums {
  return { partials: tilePartials(tile), split: tileSplit(tile) };
}

/** Components per thread. WGSL vectors hold at most 4. */
export function tileWidth(tile: Tile): number {
  return tile.R * tile.K;
}

/** Threads of a group: hp per lane. */
export function groupThreads(tile: Tile): number {
  return tile.hp * tileSplit(tile);
}

/** Sequences per workgroup. */
export function tileSequences(tile: Tile): number {
  return (tile.threads / groupThreads(tile)) * tile.R;
}

/** Units per group, padded: K·hp. */
export function tileUnits(tile: Tile): number {
  return tile.K * tile.hp;
}

/**
 * Workgroups of a tiled recurrent call: `x` columns (1, or one per step for ρ) and one row per tileSequences
 * sequences, folded past the per-dimension limit.
 */
export function tileGrid(tile: Tile, x: (p: { steps: number }) => number = () => 1) {
  return (p: { batch: number; steps: number }, limits: DispatchLimits): Workgroups => [x(p), ...foldRows(Math.ceil(p.batch / tileSequences(tile)), limits.maxWorkgroupsPerDimension)];
}

/** Floats of workgroup memory a kernel may use: WebGPU's default 16 KiB. */
export const WORKGROUP_FLOATS = 4096;

/** Whether a split tile's lanes add their sums through workgroup memory (lane_sum's tpart), not by subgroup shuffles. */
export function lanesInWorkgroup(tile: Tile): boolean {
  return tileSplit(tile) > 1 && tile.lanes !== 'subgroup';
}

/** Floats of hbuf, abuf and red, and of lane_sum's two sets of S partials with a split tile adding through workgroup memory. */
function vectorFloats(tile: Tile): number {
  return (3 + (lanesInWorkgroup(tile) ? 2 * tileSplit(tile) : 0)) * tileSequences(tile) * tileUnits(tile);
}

/** The levels [fan, rest] of unit_sum's radix-8 tree over `units` values: each sums `fan` values into each of `rest`. */
export function sumLevels(units: number): [number, number][] {
  const levels: [number, number][] = [];
  for (let size = units; size > 1; size /= Math.min(8, size)) levels.push([Math.min(8, size), size / Math.min(8, size)]);
  return levels;
}

/**
 * Floats of unit_sum's rtop (two sets of the tree's last level per sequence slot), or 0 where they would take a
 * resident adjoint block's room (or the tangent's and ρ's one vector more): unit_sum then takes its tree's last
 * level through red, with two barriers more.
 */
export function unitSumTop(tile: Tile): number {
  const levels = sumLevels(tileUnits(tile));
  const top = 2 * tileSequences(tile) * (levels.length > 0 ? levels[levels.length - 1]![0] : 1);
  const vector = tileSequences(tile) * tileUnits(tile);
  const free = WORKGROUP_FLOATS - vectorFloats(tile);
  return free - top >= Math.max(1, Math.min(4, Math.floor(free / vector))) * vector ? top : 0;
}

/** Floats of the tile's workgroup arrays: hbuf, abuf, red and rtop, and lane_sum's partials with a split tile. */
export function tileArrayFloats(tile: Tile): number {
  return vectorFloats(tile) + unitSumTop(tile);
}

/** Adjoint blocks the backward kernel keeps in dbuf at once (at most 4, the most any cell has); 0 if none fit. */
export function residentBlocks(tile: Tile): number {
  return Math.min(4, Math.floor((WORKGROUP_FLOATS - tileArrayFloats(tile)) / (tileSequences(tile) * tileUnits(tile))));
}

/**
 * Copies of unit_sum's scratch (red and rtop) a kernel can take to sum `wanted` values side by side (unitSumsWgsl),
 * beside its other workgroup arrays of `otherFloats` floats (adjoint blocks, the tangent's vbuf): `wanted` if they
 * fit in WebGPU's default 16 KiB with unit_sum's rtop (unitSumTop), else 1 (the values are then summed one after
 * another, with the same bits).
 */
export function sumCopies(tile: Tile, wanted: number, otherFloats: number): number {
  const top = unitSumTop(tile);
  const copy = tileSequences(tile) * tileUnits(tile) + top;
  return top > 0 && tileArrayFloats(tile) + otherFloats + (wanted - 1) * copy <= WORKGROUP_FLOATS ? wanted : 1;
}

export function tileKey(tile: Tile): string {
  const unroll = tileUnroll(tile) === DOT_UNROLL ? '' : `-u${tileUnroll(tile)}`;
  const split = tileSplit(tile) > 1 ? `-s${tileSplit(tile)}${tile.lanes === 'subgroup' ? '-sg' : ''}` : '';
  return `r${tile.R}k${tile.K}hp${tile.hp}wg${tile.threads}${split}${tile.weights === 'rows' ? '-rows' : ''}${unroll}${tile.held === 'forward' ? '-pf' : tile.held ? '-p' : ''}`;
}

/** What of a tile changes a kernel's WGSL: its key, its partial sums, the sizes a held tile compiles in, its subgroup loads. */
export function tileVariantKey(tile: Tile): string {
  const partials = tilePartials(tile) > 1 ? `-c${tilePartials(tile)}` : '';
  return `${tileKey(tile)}${partials}${tile.held && tile.dims ? `H${tile.dims.H}D${tile.dims.D}` : ''}${tile.subgroup ? `-g${tile.subgroup}` : ''}`;
}

/**
 * WGSL for element (unit u_k, j) of a unit-row matrix at `off` in a weights buffer laid out by `layout`: `base(k, C)`
 * declares w_k for C columns (off + u_k·C by rows, off + u_k by columns) and `at(buffer, k, j)` reads the element
 * (buffer[w_k + j], or buffer[w_k + j·H] by columns, where each block of H rows is stored column-major).
 */
export function unitRowAccess(layout: RowWeights['layout']): { base: (k: number, cols: string) => string; at: (buffer: string, k: number, j: string) => string } {
  const byColumns = layout === 'columns';
  return {
    base: (k, cols) => (byColumns ? `let w${k} = off + u${k};` : `let w${k} = off + u${k} * ${cols};`),
    at: (buffer, k, j) => (byColumns ? `${buffer}[w${k} + ${j} * params.H]` : `${buffer}[w${k} + ${j}]`),
  };
}

/** Where the row helpers (row_h, row_a, row_x) read weights: buffer `buffer`, by rows or by columns (see above). */
export interface RowWeights {
  layout: 'rows' | 'columns';
  buffer: string;
}
