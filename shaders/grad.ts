// Weight-gradient partials: G[r, c] = Σ_n A[rowA(n), r] · V[rowV(n), c] over the rows n of one chunk, for a
// tile of G per workgroup. Rows are (sequence, step) pairs; the row maps (GradParams) place them in buffers laid out
// per sequence (x is [B, T, D], a segment's adjoints [B, k, ·]) or per step (the states, [slots, B, W, H], with the
// state before the segment in a slot of its own). Partials go to [R·C, chunks] so one compensated
// segmented reduction (shaders/reduce.ts) finishes the sum; partials stay (hi, lo) pairs so nothing is rounded
// away before it. With `ones`, V ≡ 1 (bias and LayerNorm sums).
import { wgsl } from 'wgsl-preprocessor/wgsl-preprocessor.js';
import { d } from '../src/gpu/layout.ts';
import { defineProgram, type Program, type ShaderHead } from '../src/gpu/program.ts';
import { foldRows } from '../src/gpu/grid.ts';
import { compensatedSum, foldedRow } from './common.ts';
import { envChoice, envSetting } from '../src/gpu/runtime.ts';

const RowMap = { rowsPer: d.u32, rowStride: d.u32, first: d.u32, next: d.u32, stepStride: d.u32, width: d.u32, offset: d.u32 };
/** One row map's values (the a… or v… fields of GradParams, below, without their prefix). */
export type GradRowMap = { [K in keyof typeof RowMap]: number };

export const GradParams = d.struct({
  rows: d.u32, // n ranges over [0, rows)
  R: d.u32,
  C: d.u32,
  chunk: d.u32, // rows per chunk
  chunks: d.u32, // chunks in this call
  chunk0: d.u32, // column of the first chunk in the partials (segments of a checkpointed pass append)
  columns: d.u32, // total partial columns
  one: d.f32,
  // A element (n, r) = A[rowA(n) · aWidth + aOffset + r]. Row n is step j = n % aRowsPer of sequence b = n / aRowsPer,
  // and rowA(n) = b · aRowStride + (j = 0 ? aFirst : aNext + (j - 1) · aStepStride): a sequence's first step may lie
  // apart from the others (the states' slot of a segment's starting state). V's the same with v.
  aRowsPer: RowMap.rowsPer, aRowStride: RowMap.rowStride, aFirst: RowMap.first, aNext: RowMap.next, aStepStride: RowMap.stepStride, aWidth: RowMap.width, aOffset: RowMap.offset,
  vRowsPer: RowMap.rowsPer, vRowStride: RowMap.rowStride, vFirst: RowMap.first, vNext: RowMap.next, vStepStride: RowMap.stepStride, vWidth: RowMap.width, vOffset: RowMap.offset,
});

export const GRAD_TILE = 32; // each workgroup: a 32×32 tile of G, 8×8 threads with 4×4 outputs each
const WG = 8;
const ROWS = [0, 1, 2, 3]; // each thread: rows lid.y + 8i and columns lid.x + 8j of the tile, i, j < 4
const COLS = [0, 1, 2, 3];
/**
 * Slices of a chunk's rows summed side by side by the workgroup's 8×8 thread planes, then combined in slice order
 * (a fixed order: results do not depend on timing). On a GPU four slices make each thread's dependent chain of
 * loads and sums a quarter of the chunk, which is what bounds this kernel there (thousands of rows per chunk); a
 * CPU adapter runs the planes one after another anyway and only pays for the barriers, so it takes one.
 */
export function gradSlices(softwareAdapter: boolean): number {
  return softwareAdapter ? 1 : 4;
}

/**
 * Rows per pass of a thread's loop: GRAD_UNROLL (on an H200 it took a gru batch's weight gradients from 39 to 24 ms,
 * and on lavapipe 17% off them); LWIN_GRAD_UNROLL forces one (benchmarks). Any choice gives the same bits.
 */
export function gradUnroll(): number {
  return envChoice('LWIN_GRAD_UNROLL', [1, 2, 4, 8], `rows per pass of the weight gradients' loop; default ${GRAD_UNROLL}`) ?? GRAD_UNROLL;
}
export const GRAD_UNROLL = 4;

/**
 * Rows whose outer products a thread of this file's (direct) kernel adds with plain fused multiply-adds before one
 * compensated (TwoSum) step takes their sum into its (hi, lo) pair: GRAD_BLOCK on a GPU, CPU_GRAD_BLOCK on a CPU
 * adapter; LWIN_GRAD_BLOCK forces one (1–16, for A/B benches: blocks larger than the unroll run a rolled loop, so
 * pair 8 with LWIN_GRAD_UNROLL=8). TwoSum costs ~10 operations where a product costs one; per block of b rows it
 * costs 1/b of that. A block's own rounding is ≤ (b − 1)u of its terms' magnitudes, where each product's rounding
 * already costs u, and the blocks' sums stay compensated, so the error does not grow with the rows of a chunk.
 * Blocks start at the chunk's first row and slices on a multiple of the block, and every unroll walks the same
 * blocks: any unroll gives the same bits, and slices differ from one slice only in how the blocks' compensated sums
 * group. Bias and LayerNorm sums (`ones`) add exact terms and stay compensated row by row.
 */
export function gradBlock(softwareAdapter: boolean): number {
  return envChoice('LWIN_GRAD_BLOCK', [1, 2, 4, 8, 16], `rows of outer products per compensated step of the weight gradients; default ${GRAD_BLOCK} on GPUs, ${CPU_GRAD_BLOCK} on CPU adapters`) ?? (softwareAdapter ? CPU_GRAD_BLOCK : GRAD_BLOCK);
}
export const GRAD_BLOCK = 4;
/**
 * A CPU adapter's block: 16 rows, the staged kernel's (grad-staged.ts STAGED_ROWS), so that its sums are the GPUs'
 * for the same chunks. On lavapipe (8 rows × 32 columns per workgroup, gru at B=64 T=256 H=64) U's gradient took
 * 20–24 ms a call (blocks as nested loops) where row-by-row compensation took 51: the TwoSum arithmetic, not the
 * loads, had bounded it.
 */
export const CPU_GRAD_BLOCK = 16;

/**
 * The kernel of the outer products: 'staged' (shaders/grad-staged.ts: operands staged through workgroup memory,
 * compensated per block of 16 rows; GPUs) or 'direct' (this file's: operands read straight from storage; CPU
 * adapters, which pay for every barrier and gain nothing from workgroup memory). LWIN_GRAD_KERNEL forces one (A/B
 * benches, tests). Bias and LayerNorm sums keep this file's `ones` form either way.
 */
export type GradKernel = 'staged' | 'direct';
export function gradKernel(softwareAdapter: boolean): GradKernel {
  const env = envSetting('LWIN_GRAD_KERNEL');
  if (env === 'staged' || env === 'direct') return env;
  if (env) throw new Error(`LWIN_GRAD_KERNEL=${env}: use 'staged' (GPUs' default) or 'direct' (CPU adapters')`);
  return softwareAdapter ? 'direct' : 'staged';
}

/**
 * Chunks of rows summed side by side (partial columns) per weight-gradient pass: GRAD_CHUNKS on GPUs, 64 on CPU
 * adapters; LWIN_GRAD_CHUNKS forces a count. A GPU wants many workgroups of short chains: the paper's B·T = 524288
 * rows in 256 chunks give a 128×128 tensor 1024 staged workgroups of 2048 rows each (64 chunks gave 256 workgroups,
 * two per SM of an H100, of 8192 rows). A CPU adapter has a few cores to fill, and keeps the chunks (and bits) it had.
 */
export function gradChunks(softwareAdapter: boolean): number {
  return envChoice('LWIN_GRAD_CHUNKS', [16, 32, 64, 128, 256, 512, 1024], `partial sums per weight-gradient pass; default ${GRAD_CHUNKS} on GPUs, 64 on CPU adapters`) ?? (softwareAdapter ? 64 : GRAD_CHUNKS);
}
export const GRAD_CHUNKS = 256;

/**
 * Rows of G per workgroup: 32 (a 32×32 tile), or 256 with `ones`, where G has one column: each thread then sums
 * four rows (r0 + tid + 64k) instead of four rows × four copies of the one column (bias and LayerNorm sums were a
 * third of a gru batch's weight-gradient work, 31 of every 32 sums thrown away); with columns lanes, `columnsRows`.
 * Each output is the same sum, in the same order, either way.
 */
function tileRows(ones: boolean, lanes: GradLanes, columnsRows: ColumnsRows): number {
  return ones ? 4 * WG * WG : lanes === 'columns' ? columnsRows : GRAD_TILE;
}

/**
 * How a workgroup's threads share its tile of G. 'plane' (GPUs): 8×8 threads, rows lid.y + 8i and columns lid.x + 8j,
 * i, j < 4. 'columns' (CPU adapters, outer products only): 8 threads, each every row of a 16×32 or 8×32 tile (rows
 * r0 + i, i < columnsRows(R)) and columns lid.x + 8j. A CPU adapter runs a workgroup's threads as the lanes of a
 * vector, and loads what its lanes read from one address once; with 'plane' each lane's A element sits at an address
 * of its own (lid.y), so every A load was a gather. Each output is the same sum, in the same order, either way.
 */
export type GradLanes = 'plane' | 'columns';

/**
 * Rows of G in a columns lanes' tile: 16 where G has more than 8, else 8 (a readout's one row, shared's scalar gate).
 * On lavapipe a lane's load of storage costs a dozen instructions (a bounds check and a branch per lane), a product
 * about one: each row n of a tile loads its rows' A elements and its 32 columns' V elements, so 16 rows make a load
 * serve more products. U's gradient of lstm at B=64 T=256 H=64 took 10–11 ms a call where 8 rows took 13–14 (32 rows:
 * no faster than 16, its accumulators spilled).
 */
export type ColumnsRows = 8 | 16;
export function columnsRows(R: number): ColumnsRows {
  return R > 8 ? 16 : 8;
}

/**
 * The lanes of the weight gradients on an adapter: 'columns' on CPU adapters (on lavapipe a gru batch's weight
 * gradients took 17% less time than with 'plane'), 'plane' on GPUs; LWIN_GRAD_LANES forces one (tests, benchmarks).
 */
export function gradLanes(softwareAdapter: boolean): GradLanes {
  const env = envSetting('LWIN_GRAD_LANES');
  if (env === 'plane' || env === 'columns') return env;
  if (env) throw new Error(`LWIN_GRAD_LANES=${env}: use 'columns' (CPU adapters' default) or 'plane' (GPUs')`);
  return softwareAdapter ? 'columns' : 'plane';
}

/**
 * WGSL: TwoSum of the pair (hi_i, lo_i) and x, four outputs at once: hi_i takes the rounded sum, lo_i its error
 * (`tag` keeps the temporaries' names apart). Needs opaque4 and the run-time zero z (weightGradHelpers).
 */
export function twoSum4(i: number, x: string, tag: string): string {
  return `    let s${i}${tag} = opaque4(hi${i} + ${x}, z);
    let b${i}${tag} = opaque4(s${i}${tag} - hi${i}, z);
    lo${i} += (hi${i} - opaque4(s${i}${tag} - b${i}${tag}, z)) + (${x} - b${i}${tag});
    hi${i} = s${i}${tag};`;
}

/** WGSL shared by the weight-gradient kernels: opaque4, and the row maps of GradParams. */
export const weightGradHelpers = `
// opaque() of shaders/common.ts for four values, with its run-time zero z hoisted.
fn opaque4(x: vec4f, z: u32) -> vec4f { return bitcast<vec4f>(bitcast<vec4u>(x) ^ vec4u(z)); }

// The row of step j of the sequence whose rows start at row base (GradParams' maps).
fn a_row(base: u32, j: u32) -> u32 { return base + select(params.aNext + (j - 1u) * params.aStepStride, params.aFirst, j == 0u); }
fn v_row(base: u32, j: u32) -> u32 { return base + select(params.vNext + (j - 1u) * params.vStepStride, params.vFirst, j == 0u); }
`;

/**
 * With `ones`, V ≡ 1 and is not bound. Workgroups: x over tiles of C; (y, z) over tiles of R × chunks, folded.
 * `subgroup` (the device's subgroup size, src/cells/tiles.ts deviceSubgroupSize): where it equals the columns
 * lanes' 8 threads, lane i loads a row's A element of tile row i and the others take it by broadcast: on lavapipe
 * each lane loads what it reads apart, so the eight A elements every lane reads cost 64 loads a row, not 8.
 */
export function gradProgram(
  ones: boolean, slices = 1, unroll = 1, block = 1, lanes: GradLanes = 'plane', subgroup?: number, tallRows: ColumnsRows = 8,
): Program<typeof GradParams> {
  const rows = ones ? 1 : block; // ones stay compensated row by row
  const by = ones ? 'plane' : lanes; // a bias sum has one column: its threads already share rows
  if (by === 'columns' && slices > 1) throw new Error('weight_grad: slices need the 8×8 plane of threads; columns lanes take one');
  const broadcast = by === 'columns' && subgroup === WG;
  const tall: ColumnsRows = by === 'columns' ? tallRows : 8;
  return defineProgram({
    name: 'weight_grad',
    variantKey: `${ones ? 'ones' : 'outer'}${rows > 1 ? `,b${rows}` : ''}${slices > 1 ? `,s${slices}` : ''}${unroll > 1 ? `,u${unroll}` : ''}${by === 'columns' ? `,cols${tall}` : ''}${broadcast ? `,g${WG}` : ''}`,
    bindings: [
      { name: 'A', access: 'read', type: 'f32' },
      ...(ones ? [] : [{ name: 'V', access: 'read', type: 'f32' } as const]),
      { name: 'partials', access: 'read_write', type: 'vec2f' },
    ],
    uniform: { name: 'params', struct: 'GradParams', schema: GradParams },
    workgroupSize: by === 'columns' ? [WG, 1, 1] : [WG, WG, slices],
    dispatch: (p, limits) => [Math.ceil(p.C / GRAD_TILE), ...foldRows(Math.ceil(p.R / tileRows(ones, by, tall)) * p.chunks, limits.maxWorkgroupsPerDimension)],
    shader: (head) => gradShader(ones, slices, unroll, rows, by, head, broadcast, tall),
  });
}

function gradShader(ones: boolean, slices: number, unroll: number, block: number, lanes: GradLanes, head: ShaderHead, broadcast: boolean, tall: ColumnsRows): string {
  const columns = lanes === 'columns';
  const SLICES = slices;
  const UNROLL = unroll;
  const PASS = Array.from({ length: unroll }, (_, u) => u);
  // One row's element offsets (ab, vb), then the counters' step to the next row: along the sequence, or on to the
  // next sequence's first row.
  const rowAddress = (s: string) => `    let ab${s} = a_row(ba, pa) * params.aWidth + params.aOffset;
${ones ? '' : `    let vb${s} = v_row(bv, pv) * params.vWidth + params.vOffset;\n`}    pa++;
    if (pa == params.aRowsPer) { pa = 0u; ba += params.aRowStride; }
    pv++;
    if (pv == params.vRowsPer) { pv = 0u; bv += params.vRowStride; }`;
  // The thread's outputs: pairs (hi_i, lo_i) of vec4s for i in rowsOf, component j the output at row rowOf(i, j) and
  // column colOf(j); a_i (one row's A, or with ones four rows' as a vec4) times v (four columns' V, or 1).
  const rowsOf = ones ? [0] : columns ? Array.from({ length: tall }, (_, i) => i) : ROWS;
  const rowOf = (i: number, j: number) => (ones ? `r0 + tid + ${j * WG * WG}u` : columns ? `r0 + ${i}u` : `r0 + lid.y + ${i * WG}u`);
  const colOf = (j: number) => (ones ? '0u' : `c0 + lid.x + ${j * WG}u`);
  const aLoad = (i: number, s: string) => `A[ab${s} + min(${rowOf(i, 0)}, params.R - 1u)]`;
  // With ones, a thread's four rows r0 + tid + 64k: the first is in G (threads past R skip the loop), the others are
  // loaded only where they are (G of a bias has H rows, often fewer than 256; lavapipe skips a branch no lane takes).
  const onesLoads = (s: string) => `    var a0${s} = vec4f(A[ab${s} + ${rowOf(0, 0)}], 0.0, 0.0, 0.0);
${COLS.slice(1).map((j) => `    if (${rowOf(0, j)} < params.R) { a0${s}[${j}] = A[ab${s} + ${rowOf(0, j)}]; }`).join('\n')}`;
  // Broadcast (columns lanes, one subgroup of 8): lane l loads tile rows l and 8 + l's elements, which every lane
  // then takes.
  const aLoads = (s: string) =>
    broadcast
      ? `${rowsOf.filter((i) => i % WG === 0).map((i) => `    let am${i / WG}${s} = A[ab${s} + min(r0 + ${i}u + tsl, params.R - 1u)];`).join('\n')}
${rowsOf.map((i) => `    let a${i}${s} = subgroupBroadcast(am${Math.floor(i / WG)}${s}, ${i % WG}u);`).join('\n')}`
      : ones ? onesLoads(s) : rowsOf.map((i) => `    let a${i}${s} = ${aLoad(i, s)};`).join('\n');
  const rowLoads = (s: string) => `    let v${s} = ${ones ? 'vec4f(1.0)' : `vec4f(${COLS.map((j) => `V[vb${s} + min(${colOf(j)}, params.C - 1u)]`).join(', ')})`};
${aLoads(s)}`;
  const twoSum = (i: number, x: string, s: string) => twoSum4(i, x, s);
  const rowSums = (s: string) => rowsOf.map((i) => `    let x${i}${s} = a${i}${s} * v${s};\n${twoSum(i, `x${i}${s}`, s)}`).join('\n');
  // Blocks of `block` rows (gradBlock): q_i = Σ a_i v by fused multiply-adds from a run-time zero (so no form turns
  // the first into a product of its own), then one TwoSum per block.
  const blocked = block > 1;
  const blockFmas = (s: string) => rowsOf.map((i) => `    q${i} = fma(vec4f(a${i}${s}), v${s}, q${i});`).join('\n');
  const blockFlush = (s: string) => `${rowsOf.map((i) => twoSum(i, `q${i}`, s)).join('\n')}
${rowsOf.map((i) => `    q${i} = vec4f(fz);`).join('\n')}`;
  const staticBlocks = blocked && UNROLL % block === 0;
  const TILE_R = tileRows(ones, lanes, tall);
  return wgsl`${broadcast ? 'enable subgroups;' : ''}
${head.declarations}
${compensatedSum('params.one')}
${foldedRow}

${SLICES > 1 ? `var<workgroup> red: array<vec2f, ${(SLICES - 1) * WG * WG * 4}>;` : ''}

${weightGradHelpers}
@compute @workgroup_size(${head.workgroupSize})
fn main(@builtin(workgroup_id) wg: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_id) lid: vec3u${broadcast ? ', @builtin(subgroup_invocation_id) tsl: u32' : ''}) {
  // x: tile of C; y (folded with z): tile of R × chunk.
  let tilesR = (params.R + ${TILE_R - 1}u) / ${TILE_R}u;
  let yz = folded_row(wg, nwg);
  let chunk = yz / tilesR;
  if (chunk >= params.chunks) { return; }
  let r0 = (yz % tilesR) * ${TILE_R}u;
  let tid = lid.y * ${WG}u + lid.x;
  let c0 = wg.x * ${GRAD_TILE}u;
  let c_lo = chunk * params.chunk;
  let c_hi = min(c_lo + params.chunk, params.rows);
  // This slice's rows of the chunk: [n0, n1).
  let slice_len = ${blocked && SLICES > 1 ? `(((max(c_hi, c_lo) - c_lo + ${SLICES - 1}u) / ${SLICES}u + ${block - 1}u) / ${block}u) * ${block}u; // whole blocks` : `(max(c_hi, c_lo) - c_lo + ${SLICES - 1}u) / ${SLICES}u;`}
  let n0 = min(c_lo${SLICES > 1 ? ' + lid.z * slice_len' : ''}, c_hi); // one slice: uniform over the workgroup
  let n1 = ${ones ? `select(n0, min(n0 + slice_len, c_hi), r0 + tid < params.R); // no rows of G: no loads` : 'min(n0 + slice_len, c_hi);'}
  // Compensated accumulation: chunks may hold thousands of rows. Rows are walked with running (sequence's first row,
  // step) counters: an integer division per row and map is what a CPU adapter would spend most of its time on. The 4×4
  // outputs of a thread are four vec4 pairs (hi_i, lo_i), row i of the tile against columns j = 0..3 (with ones, one
  // pair: four rows of the one column), written out in full so no compiler keeps them in an indexed array (local
  // memory on a GPU).
  let z = bitcast<u32>(params.one) ^ 0x3f800000u;
${rowsOf.map((i) => `  var hi${i} = vec4f(0.0);
  var lo${i} = vec4f(0.0);`).join('\n')}${blocked ? `
  let fz = bitcast<f32>(z);
${rowsOf.map((i) => `  var q${i} = vec4f(fz);`).join('\n')}` : ''}
  var pa = n0 % params.aRowsPer;
  var ba = (n0 / params.aRowsPer) * params.aRowStride;
  var pv = n0 % params.vRowsPer;
  var bv = (n0 / params.vRowsPer) * params.vRowStride;
  var n = n0;
${UNROLL > 1 && (!blocked || staticBlocks) ? `  // ${UNROLL} rows per pass: their addresses, then all their loads, then their sums in row order (the same sums
  // as one row at a time, bit for bit, with ${UNROLL} rows' loads in flight on a GPU instead of one).
  for (; n + ${UNROLL}u <= n1; n += ${UNROLL}u) {
${PASS.map((u) => rowAddress(`_${u}`)).join('\n')}
${PASS.map((u) => rowLoads(`_${u}`)).join('\n')}
${blocked ? PASS.map((u) => `${blockFmas(`_${u}`)}${(u + 1) % block === 0 ? `\n${blockFlush(`_${u}`)}` : ''}`).join('\n') : PASS.map((u) => rowSums(`_${u}`)).join('\n')}
  }
` : ''}${blocked ? `  // Rolled: a block's rows (the last one's may be fewer), then its TwoSum.
  for (; n < n1;) {
    let nb = min(n + ${block}u, n1);
    for (; n < nb; n++) {
${rowAddress('')}
${rowLoads('')}
${blockFmas('')}
    }
${blockFlush('')}
  }` : `  for (; n < n1; n++) {
${rowAddress('')}
${rowLoads('')}
${rowSums('')}
  }`}
  // Slices 1.. leave their pairs in red; slice 0 adds them in slice order and writes the partials, a tile row i
  // at a time (red holds one row's pairs of every slice: 3 · 64 · 4 vec2f = 6 KiB).
${rowsOf.map((i) => `${SLICES > 1 ? `  if (lid.z > 0u) {
${COLS.map((j) => `    red[((lid.z - 1u) * ${WG * WG}u + tid) * 4u + ${j}u] = vec2f(hi${i}[${j}], lo${i}[${j}]);`).join('\n')}
  }
  workgroupBarrier();` : ''}
  if (lid.z == 0u) {
${COLS.map((j) => `    if (${rowOf(i, j)} < params.R && ${colOf(j)} < params.C) {
      var acc = vec2f(hi${i}[${j}], lo${i}[${j}]);
${SLICES > 1 ? `      for (var sl = 0u; sl < ${SLICES - 1}u; sl++) { acc = pair_add(acc, red[(sl * ${WG * WG}u + tid) * 4u + ${j}u]); }` : ''}
      // Columns are cleared before the first segment; later segments may add into the same ones (wide tensors).
      let at = ((${rowOf(i, j)}) * params.C + ${colOf(j)}) * params.columns + (params.chunk0 + chunk) % params.columns;
      partials[at] = pair_add(acc, partials[at]);
    }`).join('\n')}
  }${SLICES > 1 ? '\n  workgroupBarrier();' : ''}`).join('\n')}
}
`;
}
