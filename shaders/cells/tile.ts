// The thread tile of the recurrent kernels: what one invocation computes, and the WGSL helpers the cell snippets
// are written against, so that one snippet serves every tile.
//
// A workgroup of `threads` invocations holds groups of `hp` threads (hp a power of two); a group owns R sequences
// (register blocking over sequences: every weight a thread loads serves R sequences) and each thread of it K units
// of them, unit q + k·hp for k < K (several units per thread: H up to K·hp). A thread's values are WGSL vectors V
// of N = R·K components, component c = k·R + r being unit q + k·hp of the group's sequence r; the cell snippets
// compute with V as if it were one number (vector arithmetic and built-ins are component-wise), and reach
// parameters, other units and other sequences only through the helpers below:
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
// of a unit side by side as one vector (GROUPED below), and so does each adjoint block of dbuf: a dot product's
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

import type { DispatchLimits, Workgroups } from '../../src/gpu/program.ts';
import { foldRows } from '../../src/gpu/grid.ts';
import { dotLoop, sumTree, type DotSums } from './dot-loop.ts';

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

/** Floats of hbuf, abuf and red, and of lane_sum's two sets of S partials with a split tile. */
function vectorFloats(tile: Tile): number {
  const split = tileSplit(tile);
  return (3 + (split > 1 ? 2 * split : 0)) * tileSequences(tile) * tileUnits(tile);
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
  const split = tileSplit(tile) > 1 ? `-s${tileSplit(tile)}` : '';
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

export interface Component {
  c: number;
  r: number;
  k: number;
}

/** The tile's components: c = k·R + r is unit block k of the group's sequence r. */
export function components(tile: Tile): Component[] {
  return Array.from({ length: tileWidth(tile) }, (_, c) => ({ c, r: c % tile.R, k: Math.floor(c / tile.R) }));
}

/** fma(W, X, acc) of a tile: weight w<k><s> of each component's unit block against value x<r><s> of its sequence. */
export function tileFma(tile: Tile, w: string, x: string, s: string, acc = 'acc'): string {
  const comps = components(tile);
  return `fma(${vec(comps.map((c) => `${w}${c.k}${s}`))}, ${vec(comps.map((c) => `${x}${c.r}${s}`))}, ${acc})`;
}

/**
 * What the helpers of a tile are written with: its components, the distinct sequences r and unit blocks k among
 * them, and the WGSL lets of the thread's units (u<k>, clamped into [0, H)) and of its sequences' rows of x at step tt
 * (x<r>).
 */
export function tileIndices(tile: Tile) {
  const comps = components(tile);
  const rs = [...new Set(comps.map((c) => c.r))];
  const ks = [...new Set(comps.map((c) => c.k))];
  return {
    comps, rs, ks,
    unitLets: ks.map((k) => `let u${k} = unit_at(${k}u);`).join(' '),
    xRows: rs.map((r) => `let x${r} = (min(tseq0 + ${r}u, params.batch - 1u) * params.T + tt) * params.D;`).join(' '),
  };
}

/** A V (or M) built from one WGSL scalar expression per component (a splat when they are all the same). */
export function vec(exprs: string[], type: 'V' | 'M' = 'V'): string {
  if (exprs.length === 1) return exprs[0]!;
  if (exprs.every((e) => e === exprs[0])) return `${type}(${exprs[0]})`;
  return `${type}(${exprs.join(', ')})`;
}

/** Component c of a V-valued WGSL expression. */
export function component(tile: Tile, v: string, c: number): string {
  return tileWidth(tile) === 1 ? v : `(${v})[${c}]`;
}

/**
 * A statement per component, with `${unit}`, `${slot}` (sequence slot in the workgroup) and `${value}` filled in.
 * `lead` opens a write's condition: `tlane == 0u && ` on a split tile (its lanes hold the same values; one
 * writes), '' otherwise.
 */
export function perComponent(tile: Tile, f: (p: { c: number; r: number; k: number; unit: string; seq: string; slot: string; lead: string; comp: (v: string) => string }) => string): string {
  const lead = tileSplit(tile) > 1 ? 'tlane == 0u && ' : '';
  return components(tile)
    .map(({ c, r, k }) => f({ c, r, k, unit: `(tq + ${k}u * THP)`, seq: `(tseq0 + ${r}u)`, slot: `(tslot0 + ${r}u)`, lead, comp: (v) => component(tile, v, c) }))
    .join('\n');
}

/**
 * The workgroup vectors laid out by groups: [unit][group], each entry a groupVector of the group's TR sequences, so
 * that a dot product's step loads h_j of all its sequences at once (on lavapipe a workgroup-memory load costs what its
 * multiply-adds do: one vector load for four scalar ones made a dot product 1.4–2× faster; with red grouped too,
 * const's training step took 16% less time). ρ's `spare` and lane_sum's `tpart` are [slot][unit] floats.
 */
const GROUPED = new Set(['hbuf', 'abuf', 'vbuf', 'red']);

/**
 * The groupVector of unit `unit` of grouped workgroup vector `array` (or of an adjoint block of dbuf, `unit` counted
 * from the block's start) for the thread's group, `group` (default: its index computed in place).
 */
export function groupLoad(array: string, unit: string, group = 'tslot0 / TR'): string {
  return `${array}[(${unit}) * TGROUPS + ${group}]`;
}

/**
 * WGSL lets of element j of workgroup vector `array` for each of the thread's sequences r: `${name}${r}${s}`, after
 * one vector load where the array is grouped.
 */
export function slotLoads(tile: Tile, array: string, j: string, name: string, s = ''): string[] {
  const { rs } = tileIndices(tile);
  if (!GROUPED.has(array)) return rs.map((r) => `let ${name}${r}${s} = ${array}[(tslot0 + ${r}u) * THT + ${j}];`);
  return [`let ${name}g${s} = ${groupLoad(array, j)};`, ...rs.map((r) => `let ${name}${r}${s} = ${groupComponent(tile, `${name}g${s}`, r)};`)];
}

/** WGSL of `fn name() -> V` reading this thread's components of workgroup vector `array`. */
export function tileGetter(tile: Tile, name: string, array: string): string {
  const comps = components(tile);
  const value = GROUPED.has(array)
    ? tile.K === 1
      ? groupLoad(array, 'tq')
      : vec(comps.map((c) => groupComponent(tile, groupLoad(array, `tq + ${c.k}u * THP`), c.r)))
    : vec(comps.map((c) => `${array}[(tslot0 + ${c.r}u) * THT + tq + ${c.k}u * THP]`));
  return `fn ${name}() -> V {
  return ${value};
}`;
}

/** WGSL of `fn name(v: V)` writing this thread's components into workgroup vector `array` (lane 0's). */
export function tileSetter(tile: Tile, name: string, array: string): string {
  const writes = GROUPED.has(array)
    ? tileIndices(tile).ks.map((k) => `${groupLoad(array, `tq + ${k}u * THP`)} = ${groupValue(tile, 'v', k)};`)
    : components(tile).map((c) => `${array}[(tslot0 + ${c.r}u) * THT + tq + ${c.k}u * THP] = ${component(tile, 'v', c.c)};`);
  return `fn ${name}(v: V) {
  ${leadOnly(tile, writes.join('\n  '))}
}`;
}

/** The WGSL type of a thread group's TR values of one unit: how dbuf holds an adjoint block (f32 for TR = 1). */
export function groupVector(tile: Tile): string {
  return tile.R === 1 ? 'f32' : `vec${tile.R}<f32>`;
}

/** Sequence r's value in `vector` (a groupVector). */
export function groupComponent(tile: Tile, vector: string, r: number): string {
  return tile.R === 1 ? vector : `${vector}[${r}]`;
}

/** The groupVector of V `v`'s components on unit block k (v itself when the tile has one unit block). */
function groupValue(tile: Tile, v: string, k: number): string {
  if (tile.K === 1) return v;
  const parts = components(tile).filter((c) => c.k === k).map((c) => component(tile, v, c.c));
  return tile.R === 1 ? parts[0]! : `${groupVector(tile)}(${parts.join(', ')})`;
}

/**
 * The lets of col_d and its held forms before their loop: the start of block b in dbuf (dbb) and the thread's group
 * (dgrp), so that dbufLoad(j) loads unit j of the block for the group (dbuf is grouped like hbuf).
 */
export const DBUF_LETS = 'let dbb = b * THT; let dgrp = tslot0 / TR;';

/** The groupVector of unit j of col_d's block of dbuf, after DBUF_LETS. */
export function dbufLoad(j: string): string {
  return groupLoad('dbuf', `dbb + ${j}`, 'dgrp');
}

/** `statements` run by lane 0 of a split tile's units only (all of them otherwise). */
function leadOnly(tile: Tile, statements: string): string {
  return tileSplit(tile) > 1 ? `if (tlane == 0u) {\n  ${statements}\n  }` : statements;
}

/**
 * WGSL of lane_sum(v): the sum over a split unit's TS lanes of their values, as a pairwise tree (sumTree), the same
 * in every lane. Each call writes one of tpart's two sets and takes one barrier: a call's writes cannot overtake
 * the reads two calls back, since every thread has passed the barrier between. Uniform control flow only.
 */
function laneSum(tile: Tile): string {
  const comps = components(tile);
  const place = (c: Component) => `(tslot0 + ${c.r}u) * THT + tq + ${c.k}u * THP`;
  const lanes = tileSplit(tile);
  return `
fn lane_sum(v: V) -> V {
  let base = tpar * TS * TSLOTS * THT;
  tpar = 1u - tpar;
  ${comps.map((c) => `tpart[base + tlane * TSLOTS * THT + ${place(c)}] = ${component(tile, 'v', c.c)};`).join('\n  ')}
  workgroupBarrier();
  ${comps.map((c) => `let i${c.c} = base + ${place(c)};`).join(' ')}
  return ${vec(comps.map((c) => sumTree(Array.from({ length: lanes }, (_, l) => `tpart[i${c.c} + ${l}u * TSLOTS * THT]`))))};
}`;
}

/**
 * WGSL of unit_sum(v) and of unit_sums2(v0, v1) and unit_sums3(v0, v1, v2): sums over the H units of each component's
 * sequence, of one value or of two or three independent ones (LayerNorm's backward and tangent: mean(dn) and
 * mean(dn ⊙ n̂)). Every value is summed by the same radix-8 tree over the THT padded units, which depends on H alone,
 * not on the tile, so every tile and every form gives the same sums bit for bit. With `rtop` (unitSumTop) the tree's
 * last level is summed by every thread from rtop, one of two sets taken by turns, instead of by one thread into red
 * and read back after two more barriers: the same additions in the same order, with one barrier per level before it
 * (THT = 64: 2 barriers, not 4). red and rtop are grouped (GROUPED): each step of the tree adds a group's TR
 * sequences as one vector. With `copies` n > 1 (red and rtop hold n copies), unit_sums<n> runs the n trees side by
 * side, one barrier per level for all of them; with fewer copies than values, or no rtop, it sums them one after
 * another.
 * Uniform control flow only (barriers).
 */
function unitSumsWgsl(tile: Tile, copies: number): string {
  const { comps, ks } = tileIndices(tile);
  const tree = sumLevels(tileUnits(tile));
  const top = unitSumTop(tile);
  const [topFan] = tree.length > 0 ? tree[tree.length - 1]! : [1];
  // Copy c of red starts c·THT units in; copy c of a set of rtop c·topFan entries in.
  const redAt = (c: number, unit: string) => groupLoad('red', c === 0 ? unit : `${c}u * THT + ${unit}`);
  const topAt = (c: number, u: string) => `rtop[top + (${c === 0 ? '' : `${c * topFan}u + `}${u}) * TGROUPS + tslot0 / TR]`;
  const S = tile.subgroup ?? 0;
  const asV = (total: string) => (tile.K === 1 ? total : vec(comps.map((c) => groupComponent(tile, total, c.r))));
  const body = (values: string[]) => {
    const n = values.length;
    const each = (f: (c: number) => string, sep = '\n  ') => values.map((_v, c) => f(c)).join(sep);
    // Units' values go to rtop directly when no level comes before the last.
    const writeTo = (c: number, unit: string) => (top > 0 && tree.length <= 1 ? topAt(c, unit) : redAt(c, unit));
    const writes = leadOnly(tile, each((c) => ks.map((k) => `${writeTo(c, `tq + ${k}u * THP`)} = ${groupValue(tile, values[c]!, k)};`).join('\n  ')));
    const level = ([fan, rest]: [number, number], into: (c: number) => string) => `${leadOnly(tile, `for (var u = tq; u < ${rest}u; u += THP) {
    ${each((c) => `${into(c)} = ${Array.from({ length: fan }, (_, i) => redAt(c, `u + ${i * rest}u`)).join(' + ')};`, '\n    ')}
  }`)}
  workgroupBarrier();`;
    // The last level's values: each thread loads them all, or (Tile.subgroup) lane i loads value i and the others
    // take it by broadcast (on lavapipe a load costs each lane its own, a broadcast a register shuffle). Same order.
    const name = (c: number, base: string) => (n === 1 ? base : `${base}${c}`);
    const topSum = (c: number) =>
      S >= topFan && topFan > 1
        ? `let ${name(c, 'top_mine')} = ${topAt(c, `min(tsl, ${topFan - 1}u)`)};
  let ${name(c, 'total')} = ${Array.from({ length: topFan }, (_, i) => `subgroupBroadcast(${name(c, 'top_mine')}, ${i}u)`).join(' + ')};`
        : `let ${name(c, 'total')} = ${Array.from({ length: topFan }, (_, i) => topAt(c, `${i}u`)).join(' + ')};`;
    const result = n === 1 ? asV('total') : `array<V, ${n}>(${each((c) => asV(`total${c}`), ', ')})`;
    return top > 0
      ? `let top = rpar * TGROUPS * ${copies * topFan}u;
  rpar = 1u - rpar;
  ${writes}
  workgroupBarrier();
  ${tree.slice(0, -1).map((l, i) => level(l, (c) => (i === tree.length - 2 ? topAt(c, 'u') : redAt(c, 'u')))).join('\n  ')}
  ${each(topSum)}
  return ${result};`
      : `${writes}
  workgroupBarrier();
  ${tree.map((l) => level(l, (c) => redAt(c, 'u'))).join('\n  ')}
  let total = ${redAt(0, '0u')};
  workgroupBarrier();
  return ${result};`;
  };
  // Without rtop (no room) several values are summed one after another: sumCopies gives such tiles one copy.
  const several = (n: number) => {
    const args = Array.from({ length: n }, (_, c) => `v${c}`);
    return `fn unit_sums${n}(${args.map((a) => `${a}: V`).join(', ')}) -> array<V, ${n}> {
  ${copies >= n && top > 0 ? body(args) : `return array<V, ${n}>(${args.map((a) => `unit_sum(${a})`).join(', ')});`}
}`;
  };
  return `fn unit_sum(v: V) -> V {
  ${body(['v'])}
}

${several(2)}

${several(3)}`;
}

/**
 * Module-scope WGSL of the tile: aliases V (N floats) and M (N bools), the thread's private coordinates (set by
 * `tileInit`), and the helpers above; x [B, T, D] is read from storage at step `tt`. `dbuf` adds the backward's
 * adjoint blocks (`blocks` resident). `sumValues` (sumCopies): the copies of red and rtop, so that unit_sums2 and
 * unit_sums3 sum that many values side by side (absent: 1).
 */
export function tilePrelude(tile: Tile, options: { dbufBlocks?: number; arrays: boolean; rows?: RowWeights | 'none'; sumValues?: number }): string {
  const n = tileWidth(tile);
  const { comps, rs, ks, unitLets, xRows } = tileIndices(tile);
  const V = n === 1 ? 'f32' : `vec${n}<f32>`;
  // With one thread group per workgroup the group's sequence slots are compile-time constants: a CPU adapter then
  // sees h_{t-1}'s loads as uniform across its SIMD lanes (one load and a broadcast instead of a gather).
  const single = tile.threads === groupThreads(tile);
  const split = tileSplit(tile);
  const sums = tileSums(tile);
  const M = n === 1 ? 'bool' : `vec${n}<bool>`;
  // Element (unit, j) of a unit-row matrix at `off` with C columns: off + unit·C + j by rows, off + j·H + unit
  // by columns (the row helpers' weights buffer `rw`).
  // 'none': a kernel without the row helpers (a replaying backward: shaders/cells/replay.ts), so without their
  // bindings (the weights they read, x) either.
  const withRows = options.rows !== 'none';
  const rows = options.rows === undefined || options.rows === 'none' ? { layout: 'rows' as const, buffer: 'P' } : options.rows;
  const rw = rows.buffer;
  const access = unitRowAccess(rows.layout);
  const at = (k: number, _cols: string, j: string) => access.at(rw, k, j);
  const rowBase = access.base;
  const unroll = tileUnroll(tile);
  const rowDot = (name: string, buf: string) => `
fn ${name}(off: u32) -> V {
  ${unitLets}
  ${ks.map((k) => rowBase(k, 'params.H')).join(' ')}
${dotLoop('params.H', unroll, (j, s) => ({
  loads: [...ks.map((k) => `let p${k}${s} = ${at(k, 'params.H', j)};`), ...slotLoads(tile, buf, j, 'v', s)],
  fmas: [tileFma(tile, 'p', 'v', s)],
}), undefined, sums)}
}`;
  // row_x0 reads row 0 of a one-row matrix for every unit (shared's scalar gate): never by columns.
  const xDot = (name: string, unitRow: (k: number) => string, perUnit: boolean) => `
fn ${name}(off: u32) -> V {
  ${unitLets}
  ${ks.map((k) => (perUnit ? rowBase(k, 'params.D') : `let w${k} = off + ${unitRow(k)} * params.D;`)).join(' ')}
  ${xRows}
${dotLoop('params.D', unroll, (d, s) => ({
  loads: [...ks.map((k) => `let p${k}${s} = ${perUnit ? at(k, 'params.D', d) : `${rw}[w${k} + ${d}]`};`), ...rs.map((r) => `let v${r}${s} = x[x${r} + ${d}];`)],
  fmas: [tileFma(tile, 'p', 'v', s)],
}), undefined, sums)}
}`;
  // unit_sum's scratch (unitSumsWgsl).
  const tree = sumLevels(tileUnits(tile));
  const top = unitSumTop(tile);
  const [topFan] = tree.length > 0 ? tree[tree.length - 1]! : [1];
  const copies = options.sumValues ?? 1;
  const blocks = options.dbufBlocks ?? 0;
  const arrays = options.arrays
    ? `
var<workgroup> hbuf: array<${groupVector(tile)}, TGROUPS * THT>; // h_{t-1} of the workgroup's sequences, [unit][group] (GROUPED)
var<workgroup> abuf: array<${groupVector(tile)}, TGROUPS * THT>; // a second per-unit vector (gru: r ⊙ h_{t-1}), laid out as hbuf
var<workgroup> red: array<${groupVector(tile)}, ${copies > 1 ? `${copies}u * ` : ''}TGROUPS * THT>; // unit_sum's scratch (and the tangent's ubuf, ρ's n̂), laid out as hbuf${copies > 1 ? `, ${copies} copies (unit_sums)` : ''}${top > 0 ? `
var<workgroup> rtop: array<${groupVector(tile)}, ${(copies * top) / tile.R}u>; // unit_sum's last level, two sets by turns, [set][${copies > 1 ? `${copies}][` : ''}${topFan}][group]
var<private> rpar: u32; // the set unit_sum writes next` : ''}${split > 1 ? `
var<workgroup> tpart: array<f32, 2u * TS * TSLOTS * THT>; // lane_sum's lanes' values, two sets by turns, [set][lane][slot][unit]
var<private> tpar: u32; // the set lane_sum writes next` : ''}`
    : '';
  return /* wgsl */ `
alias V = ${V};
alias M = ${M};
const TR: u32 = ${tile.R}u;
const THP: u32 = ${tile.hp}u;
const THT: u32 = ${tileUnits(tile)}u;
const TSLOTS: u32 = ${tileSequences(tile)}u;
const TGROUPS: u32 = ${tileSequences(tile) / tile.R}u; // thread groups (of TR sequences) per workgroup${split > 1 ? `
const TS: u32 = ${split}u; // threads per unit` : ''}
${arrays}
${blocks > 0 ? `var<workgroup> dbuf: array<${groupVector(tile)}, ${blocks}u * TGROUPS * THT>; // adjoint blocks, [block][unit][group]: a group's TR sequences side by side` : ''}

var<private> tq: u32;     // this thread's first unit${split > 1 ? "\nvar<private> tlane: u32;  // and its lane among the unit's TS threads" : ''}
${single ? 'const tslot0: u32 = 0u; // one thread group per workgroup: a constant, so loads of its h are uniform' : 'var<private> tslot0: u32; // its first sequence slot in the workgroup'}
var<private> tseq0: u32;  // that slot's sequence in the batch
var<private> tt: u32;     // the step being computed

fn tile_init(lid: u32, group: u32) {
  ${split > 1 ? 'tq = lid % THP;\n  tlane = (lid / THP) % TS;' : single ? 'tq = lid;' : 'tq = lid % THP;'}
  ${single ? '' : `tslot0 = (lid / ${split > 1 ? '(THP * TS)' : 'THP'}) * TR;`}
  tseq0 = group * TSLOTS + tslot0;
}

// Unit of component block k, clamped into [0, H) so idle components read real (ignored) parameters.
fn unit_at(k: u32) -> u32 {
  return min(tq + k * THP, params.H - 1u);
}

fn unit_live() -> M {
  return ${vec(comps.map((c) => `tq + ${c.k}u * THP < params.H`), 'M')};
}

// A layer pair's pre-activation (shaders/cells/step-context.ts pairPre): the identity, a mark for keep and replay.
fn pre_sum(a: V) -> V {
  return a;
}

// pre_sum of a pre-activation the same on every unit of a sequence (shared's gate): kept once per sequence (replay.ts).
fn pre_seq(a: V) -> V {
  return a;
}

fn pu(off: u32) -> V {
  ${unitLets}
  return ${vec(comps.map((c) => `P[off + u${c.k}]`))};
}

fn pdiag(off: u32) -> V {
  ${unitLets}
  return ${vec(comps.map((c) => `P[off + u${c.k} * params.H + u${c.k}]`))};
}
${withRows ? `${rowDot('row_h', 'hbuf')}
${rowDot('row_a', 'abuf')}
${xDot('row_x', (k) => `u${k}`, true)}
${xDot('row_x0', () => '0u', false)}` : ''}

${unitSumsWgsl(tile, copies)}

${split > 1 ? laneSum(tile) : ''}
${tileGetter(tile, 'get_h', 'hbuf')}

${tileSetter(tile, 'put_h', 'hbuf')}

${tileSetter(tile, 'put_a', 'abuf')}

${blocks > 0 ? `
fn put_d(b: u32, v: V) {
  ${leadOnly(tile, ks.map((k) => `${groupLoad('dbuf', `b * THT + tq + ${k}u * THP`)} = ${groupValue(tile, 'v', k)};`).join('\n  '))}
}

fn col_d(off: u32, b: u32) -> V {
  ${unitLets}
  ${DBUF_LETS}
${dotLoop('params.H', unroll, (i, s) => ({
  loads: [`let row${s} = off + (${i}) * params.H;`, ...ks.map((k) => `let p${k}${s} = P[row${s} + u${k}];`), `let d${s} = ${dbufLoad(`${i}`)};`, ...rs.map((r) => `let v${r}${s} = ${groupComponent(tile, `d${s}`, r)};`)],
  fmas: [tileFma(tile, 'p', 'v', s)],
}), undefined, sums)}
}` : ''}

struct LnOut { n: V, inv_std: V }

// LayerNorm over the H units of each sequence (eps 1e-5, affine applied by the caller; SPEC §2): the normalised
// value n̂ and 1/σ, which backward and tangent reuse. Idle components must pass live = false.
fn layer_norm(a: V, live: M) -> LnOut {
  return layer_norm_from(a, live, unit_sum(select(V(0.0), a, live)));
}

struct LnAnd { ln: LnOut, sum: V, sum2: V }

// layer_norm, and the sums over units of \`extra\` (and \`extra2\`: shared's gate, the forward kernel's readout),
// summed beside the mean in one unit_sums2 (unit_sums3): the same sums as layer_norm's and unit_sum's, with one sum's
// barriers fewer (two).
fn layer_norm_and(a: V, live: M, extra: V) -> LnAnd {
  let sums = unit_sums2(select(V(0.0), a, live), extra);
  return LnAnd(layer_norm_from(a, live, sums[0]), sums[1], V(0.0));
}

fn layer_norm_and2(a: V, live: M, extra: V, extra2: V) -> LnAnd {
  let sums = unit_sums3(select(V(0.0), a, live), extra, extra2);
  return LnAnd(layer_norm_from(a, live, sums[0]), sums[1], sums[2]);
}

// layer_norm given the sum of a over units.
fn layer_norm_from(a: V, live: M, total: V) -> LnOut {
  let inv_h = 1.0 / f32(params.H);
  let mean = total * inv_h;
  let dev = a - mean;
  let variance = unit_sum(select(V(0.0), dev * dev, live)) * inv_h;
  let inv_std = inverseSqrt(variance + 1e-5);
  return LnOut(dev * inv_std, inv_std);
}

fn sigmoid(a: V) -> V {
  return 1.0 / (1.0 + exp(-a));
}

// tanh saturates to ±1 in f32 beyond |a| ≈ 9; clamping keeps exp-based implementations from overflowing to NaN.
fn tanh_c(a: V) -> V {
  return tanh(clamp(a, V(-15.0), V(15.0)));
}

// tanh'(a) = 1 - tanh²(a), computed as 4e/(1+e)² with e = exp(-2|a|) so it keeps its relative precision where tanh
// saturates (1 - g·g would cancel). Likewise the cells take 1 - σ(a) as σ(-a), never as 1 - σ(a).
fn tanh_slope(a: V) -> V {
  let e = exp(-2.0 * min(abs(a), V(40.0)));
  let d = 1.0 + e;
  return 4.0 * e / (d * d);
}
`;
}
