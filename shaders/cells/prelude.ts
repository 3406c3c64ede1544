// The module-scope WGSL every recurrent kernel starts with (tilePrelude): the tile's aliases and constants, the
// thread's coordinates, the workgroup vectors and the helpers the cell snippets call (shaders/cells/tile.ts lists them).
import { groupThreads, lanesInWorkgroup, tileSequences, tileSplit, tileSums, tileUnits, tileUnroll, tileWidth, unitRowAccess, sumLevels, unitSumTop, type RowWeights, type Tile } from './tile.ts';
import { DBUF_LETS, component, components, dbufLoad, groupComponent, groupLoad, groupValue, groupVector, leadOnly, slotLoads, tileFma, tileGetter, tileIndices, tileSetter, vec } from './tile-components.ts';
import { laneSum, unitSumsWgsl } from './unit-sum.ts';
import { dotLoop } from './dot-loop.ts';

/**
 * Module-scope WGSL of the tile: aliases V (N floats) and M (N bools), the thread's private coordinates (set by
 * `tileInit`), and the helpers of tile.ts's list; x [B, T, D] is read from storage at step `tt`. `dbuf` adds the backward's
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
var<private> rpar: u32; // the set unit_sum writes next` : ''}${lanesInWorkgroup(tile) ? `
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
  ${split > 1 ? (tile.lanes === 'subgroup' ? 'tlane = lid % TS; // a unit\'s lanes are consecutive invocations, so one subgroup\'s\n  tq = (lid / TS) % THP;' : 'tq = lid % THP;\n  tlane = (lid / THP) % TS;') : single ? 'tq = lid;' : 'tq = lid % THP;'}
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

// A value of the forward step that the backward reads back instead of computing it again (replay.ts): the identity.
fn replayed(v: V) -> V {
  return v;
}

// pre_sum of the candidate's pre-activation under LayerNorm, which no replayed step reads: not kept (replay.ts).
fn pre_norm(a: V) -> V {
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
