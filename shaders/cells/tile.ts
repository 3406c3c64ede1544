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
//   col_d(off, b)  Σ_i U[i, unit] dbuf[b][seq, i]  (Uᵀ times a block of adjoints; backward only)
//   unit_sum(v)    Σ over the H units of each component's sequence (uniform control flow only: it has barriers)
//   put_h / put_a / put_d, get_h    this thread's components to and from the workgroup vectors
//   first_unit(v)  v on unit 0, 0 elsewhere
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
   * true with `-p` in the key; absent, the device's default (src/cells/tiles.ts). Same results bit for bit.
   */
  held?: boolean;
  /** The H and D a held tile's kernels compile in: set when the tile is settled for a layer. */
  dims?: HeldDims;
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

/** Components per thread. WGSL vectors hold at most 4. */
export function tileWidth(tile: Tile): number {
  return tile.R * tile.K;
}

/** Sequences per workgroup. */
export function tileSequences(tile: Tile): number {
  return (tile.threads / tile.hp) * tile.R;
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

/** Floats of hbuf, abuf and red. */
export function tileArrayFloats(tile: Tile): number {
  return 3 * tileSequences(tile) * tileUnits(tile);
}

/** Adjoint blocks the backward kernel keeps in dbuf at once (at most 4, the most any cell has); 0 if none fit. */
export function residentBlocks(tile: Tile): number {
  return Math.min(4, Math.floor((WORKGROUP_FLOATS - tileArrayFloats(tile)) / (tileSequences(tile) * tileUnits(tile))));
}

export function tileKey(tile: Tile): string {
  const unroll = tileUnroll(tile) === DOT_UNROLL ? '' : `-u${tileUnroll(tile)}`;
  return `r${tile.R}k${tile.K}hp${tile.hp}wg${tile.threads}${tile.weights === 'rows' ? '-rows' : ''}${unroll}${tile.held ? '-p' : ''}`;
}

/** What of a tile changes a kernel's WGSL: its key, and the sizes a held tile compiles in. */
export function tileVariantKey(tile: Tile): string {
  return `${tileKey(tile)}${tile.held && tile.dims ? `H${tile.dims.H}D${tile.dims.D}` : ''}`;
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

/**
 * WGSL of `var acc = zero` (V(0.0) unless given), the loop acc = fma(…, acc) over j < count and `return acc;`, with
 * `unroll` iterations per pass (then one at a time for the rest). `step(j, s)` gives one iteration at index expression j: its loads,
 * whose names end in s (distinct per iteration of a pass), and its multiply-adds into acc, in order.
 */
export function dotLoop(count: string, unroll: number, step: (j: string, s: string) => { loads: string[]; fmas: string[] }, zero = 'V(0.0)'): string {
  const pass = Array.from({ length: unroll }, (_, i) => step(`(j + ${i}u)`, `_${i}`));
  const one = step('j', '');
  const sums = (fmas: string[]) => fmas.map((f) => `acc = ${f};`).join(' ');
  const body = unroll > 1
    ? `  for (; j + ${unroll}u <= ${count}; j += ${unroll}u) {
    ${pass.flatMap((p) => p.loads).join(' ')}
    ${pass.map((p) => sums(p.fmas)).join(' ')}
  }
`
    : '';
  return `  var acc = ${zero};
  var j = 0u;
${body}  for (; j < ${count}; j++) {
    ${one.loads.join(' ')}
    ${sums(one.fmas)}
  }
  return acc;`;
}

/** fma(W, X, acc) of a tile: weight w<k><s> of each component's unit block against value x<r><s> of its sequence. */
export function tileFma(tile: Tile, w: string, x: string, s: string): string {
  const comps = components(tile);
  return `fma(${vec(comps.map((c) => `${w}${c.k}${s}`))}, ${vec(comps.map((c) => `${x}${c.r}${s}`))}, acc)`;
}

/**
 * What the helpers of a tile are written with: its components, the distinct sequences r and unit blocks k among
 * them, and the WGSL lets of the thread's units (u<k>, clamped into [0, H)), of its sequences' rows of hbuf-shaped
 * vectors (b<r>) and of their rows of x at step tt (x<r>).
 */
export function tileIndices(tile: Tile) {
  const comps = components(tile);
  const rs = [...new Set(comps.map((c) => c.r))];
  const ks = [...new Set(comps.map((c) => c.k))];
  return {
    comps, rs, ks,
    unitLets: ks.map((k) => `let u${k} = unit_at(${k}u);`).join(' '),
    slotLets: rs.map((r) => `let b${r} = (tslot0 + ${r}u) * THT;`).join(' '),
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

/** A statement per component, with `${unit}`, `${slot}` (sequence slot in the workgroup) and `${value}` filled in. */
export function perComponent(tile: Tile, f: (p: { c: number; r: number; k: number; unit: string; seq: string; slot: string; comp: (v: string) => string }) => string): string {
  return components(tile)
    .map(({ c, r, k }) => f({ c, r, k, unit: `(tq + ${k}u * THP)`, seq: `(tseq0 + ${r}u)`, slot: `(tslot0 + ${r}u)`, comp: (v) => component(tile, v, c) }))
    .join('\n');
}

/** WGSL of `fn name() -> V` reading this thread's components of a [slot][unit] workgroup vector `array`. */
export function tileGetter(tile: Tile, name: string, array: string): string {
  return `fn ${name}() -> V {
  return ${vec(components(tile).map((c) => `${array}[(tslot0 + ${c.r}u) * THT + tq + ${c.k}u * THP]`))};
}`;
}

/** WGSL of `fn name(v: V)` writing this thread's components into a [slot][unit] workgroup vector `array`. */
export function tileSetter(tile: Tile, name: string, array: string): string {
  return `fn ${name}(v: V) {
  ${components(tile).map((c) => `${array}[(tslot0 + ${c.r}u) * THT + tq + ${c.k}u * THP] = ${component(tile, 'v', c.c)};`).join('\n  ')}
}`;
}

/**
 * Module-scope WGSL of the tile: aliases V (N floats) and M (N bools), the thread's private coordinates (set by
 * `tileInit`), and the helpers above; x [B, T, D] is read from storage at step `tt`. `dbuf` adds the backward's
 * adjoint blocks (`blocks` resident).
 */
export function tilePrelude(tile: Tile, options: { dbufBlocks?: number; arrays: boolean; rows?: RowWeights }): string {
  const n = tileWidth(tile);
  const { comps, rs, ks, unitLets, slotLets, xRows } = tileIndices(tile);
  const V = n === 1 ? 'f32' : `vec${n}<f32>`;
  // With one thread group per workgroup the group's sequence slots are compile-time constants: a CPU adapter then
  // sees h_{t-1}'s loads as uniform across its SIMD lanes (one load and a broadcast instead of a gather).
  const single = tile.threads === tile.hp;
  const M = n === 1 ? 'bool' : `vec${n}<bool>`;
  // Element (unit, j) of a unit-row matrix at `off` with C columns: off + unit·C + j by rows, off + j·H + unit
  // by columns (the row helpers' weights buffer `rw`).
  const rows = options.rows ?? { layout: 'rows', buffer: 'P' };
  const byColumns = rows.layout === 'columns';
  const rw = rows.buffer;
  const at = (k: number, cols: string, j: string) => (byColumns ? `${rw}[w${k} + ${j} * params.H]` : `${rw}[w${k} + ${j}]`);
  const rowBase = (k: number, cols: string) => (byColumns ? `let w${k} = off + u${k};` : `let w${k} = off + u${k} * ${cols};`);
  const unroll = tileUnroll(tile);
  const rowDot = (name: string, buf: string) => `
fn ${name}(off: u32) -> V {
  ${unitLets}
  ${ks.map((k) => rowBase(k, 'params.H')).join(' ')}
  ${slotLets}
${dotLoop('params.H', unroll, (j, s) => ({
  loads: [...ks.map((k) => `let p${k}${s} = ${at(k, 'params.H', j)};`), ...rs.map((r) => `let v${r}${s} = ${buf}[b${r} + ${j}];`)],
  fmas: [tileFma(tile, 'p', 'v', s)],
}))}
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
}))}
}`;
  // unit_sum's order depends on H alone (a radix-8 tree over the THT padded units), not on the tile, so every tile
  // gives the same sums bit for bit.
  const sumWrites = comps.map((c) => `red[(tslot0 + ${c.r}u) * THT + tq + ${c.k}u * THP] = ${component(tile, 'v', c.c)};`).join('\n  ');
  const levels: [number, number][] = [];
  for (let size = tileUnits(tile); size > 1; size /= Math.min(8, size)) levels.push([Math.min(8, size), size / Math.min(8, size)]);
  const tree = levels
    .map(([fan, rest]) => `for (var u = tq; u < ${rest}u; u += THP) {
    ${rs.map((r) => `let b${r} = (tslot0 + ${r}u) * THT + u;\n    red[b${r}] = ${Array.from({ length: fan }, (_, i) => `red[b${r} + ${i * rest}u]`).join(' + ')};`).join('\n    ')}
  }
  workgroupBarrier();`)
    .join('\n  ');
  const totals = rs.map((r) => `let total${r} = red[(tslot0 + ${r}u) * THT];`).join(' ');
  const blocks = options.dbufBlocks ?? 0;
  const arrays = options.arrays
    ? `
var<workgroup> hbuf: array<f32, TSLOTS * THT>; // h_{t-1} of the workgroup's sequences, [slot][unit]
var<workgroup> abuf: array<f32, TSLOTS * THT>; // a second per-unit vector (gru: r ⊙ h_{t-1})
var<workgroup> red: array<f32, TSLOTS * THT>;  // unit_sum scratch, [slot][unit]`
    : '';
  return /* wgsl */ `
alias V = ${V};
alias M = ${M};
const TR: u32 = ${tile.R}u;
const THP: u32 = ${tile.hp}u;
const THT: u32 = ${tileUnits(tile)}u;
const TSLOTS: u32 = ${tileSequences(tile)}u;
${arrays}
${blocks > 0 ? `var<workgroup> dbuf: array<f32, ${blocks}u * TSLOTS * THT>; // adjoint blocks, [block][slot][unit]` : ''}

var<private> tq: u32;     // this thread's first unit
${single ? 'const tslot0: u32 = 0u; // one thread group per workgroup: a constant, so loads of its h are uniform' : 'var<private> tslot0: u32; // its first sequence slot in the workgroup'}
var<private> tseq0: u32;  // that slot's sequence in the batch
var<private> tt: u32;     // the step being computed

fn tile_init(lid: u32, group: u32) {
  ${single ? 'tq = lid;' : 'tq = lid % THP;\n  tslot0 = (lid / THP) * TR;'}
  tseq0 = group * TSLOTS + tslot0;
}

// Unit of component block k, clamped into [0, H) so idle components read real (ignored) parameters.
fn unit_at(k: u32) -> u32 {
  return min(tq + k * THP, params.H - 1u);
}

fn unit_live() -> M {
  return ${vec(comps.map((c) => `tq + ${c.k}u * THP < params.H`), 'M')};
}

fn pu(off: u32) -> V {
  ${unitLets}
  return ${vec(comps.map((c) => `P[off + u${c.k}]`))};
}

fn pdiag(off: u32) -> V {
  ${unitLets}
  return ${vec(comps.map((c) => `P[off + u${c.k} * params.H + u${c.k}]`))};
}
${rowDot('row_h', 'hbuf')}
${rowDot('row_a', 'abuf')}
${xDot('row_x', (k) => `u${k}`, true)}
${xDot('row_x0', () => '0u', false)}

fn unit_sum(v: V) -> V {
  ${sumWrites}
  workgroupBarrier();
  ${tree}
  ${totals}
  workgroupBarrier();
  return ${vec(comps.map((c) => `total${c.r}`))};
}

${tileGetter(tile, 'get_h', 'hbuf')}

${tileSetter(tile, 'put_h', 'hbuf')}

${tileSetter(tile, 'put_a', 'abuf')}

fn first_unit(v: V) -> V {
  return ${vec(comps.map((c) => `select(0.0, ${component(tile, 'v', c.c)}, tq + ${c.k}u * THP == 0u)`))};
}
${blocks > 0 ? `
fn put_d(b: u32, v: V) {
  let base = b * TSLOTS * THT;
  ${comps.map((c) => `dbuf[base + (tslot0 + ${c.r}u) * THT + tq + ${c.k}u * THP] = ${component(tile, 'v', c.c)};`).join('\n  ')}
}

fn col_d(off: u32, b: u32) -> V {
  ${unitLets}
  ${rs.map((r) => `let b${r} = b * TSLOTS * THT + (tslot0 + ${r}u) * THT;`).join(' ')}
${dotLoop('params.H', unroll, (i, s) => ({
  loads: [`let row${s} = off + (${i}) * params.H;`, ...ks.map((k) => `let p${k}${s} = P[row${s} + u${k}];`), ...rs.map((r) => `let v${r}${s} = dbuf[b${r} + ${i}];`)],
  fmas: [tileFma(tile, 'p', 'v', s)],
}))}
}` : ''}

struct LnOut { n: V, inv_std: V }

// LayerNorm over the H units of each sequence (eps 1e-5, affine applied by the caller; SPEC §2): the normalised
// value n̂ and 1/σ, which backward and tangent reuse. Idle components must pass live = false.
fn layer_norm(a: V, live: M) -> LnOut {
  let inv_h = 1.0 / f32(params.H);
  let mean = unit_sum(select(V(0.0), a, live)) * inv_h;
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
