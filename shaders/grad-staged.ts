// Weight-gradient partials staged through workgroup memory, the GPUs' form of shaders/grad.ts: the same sums
// G[r, c] = Σ_n A[rowA(n), r] · V[rowV(n), c] over a chunk's rows, with the same uniforms and partials.
//
// shaders/grad.ts reads every operand straight from storage: per row a thread loads its four A values and four V
// values and works out the row's addresses (two row maps, a dozen integer operations) for 16 multiply-adds. On an
// H200 that part alone ran at ~5 TFLOP/s, where lwin's staged matmul, doing the same multiply-adds per load from
// workgroup memory, runs at ~13. Here a workgroup's 256 threads load a tile of 16 rows × 64 columns of A and of V
// together (each thread four rows of one column, with running row counters, coalesced along the columns), and each
// thread then takes two vec4s from workgroup memory per row for its 4×4 outputs. The loads of the next tile are
// issued into registers before the thread sums the current one (prefetch), so their latency is hidden behind the
// tile's 256 multiply-adds instead of stalling every thread at the top of each tile (gradPrefetch).
//
// Two shapes of G's tile per workgroup (StagedShape): 64 × 64 for the square terms (U against h_{t-1}), and 128 rows
// × 16 columns (128 threads) for the thin ones: W against x at the paper's D = 16 (a 64 × 64 tile would compute 48 of
// its 64 columns for nothing), and, with A and V swapped (`transposed`, Gᵀ = Vᵀ·A written back in G's order), the
// readout's one row against h. A product a·v is v·a bit for bit, so every shape sums the same bits.
//
// The sums are those of shaders/grad.ts with one slice and blocks of 16 rows (LWIN_GRAD_BLOCK=16): each output adds
// a tile's 16 products with fused multiply-adds in row order, then takes that sum into its compensated (hi, lo)
// pair; tiles start at the chunk's first row. Rows past the chunk's end load as zeros, whose products add nothing,
// so both kernels give the same bits (test/cells/weight-grad.test.ts).
import { wgsl } from 'wgsl-preprocessor/wgsl-preprocessor.js';
import { defineProgram, type Program, type ShaderHead } from '../src/gpu/program.ts';
import { envSetting } from '../src/gpu/runtime.ts';
import { foldRows } from '../src/gpu/grid.ts';
import { compensatedSum, foldedRow } from './common.ts';
import { GradParams, twoSum4, weightGradHelpers } from './grad.ts';

/** Rows of a chunk per staged tile, and so per compensated block. */
export const STAGED_ROWS = 16;
const FOUR = [0, 1, 2, 3];
const TILE_ROWS = Array.from({ length: STAGED_ROWS }, (_, k) => k);

/** G's tile per workgroup: `rows` of G's rows × `cols` of its columns, a 4×4 block of outputs per thread. */
export interface StagedShape {
  rows: number;
  cols: number;
  /** A and V swapped: the kernel sums Gᵀ (its R is G's C) and writes each output at G's place. */
  transposed?: boolean;
}

/** The square terms' tile: 256 threads. */
export const WIDE: StagedShape = { rows: 64, cols: 64 };
/** The thin terms' tile (16 columns or fewer): 128 threads. */
export const NARROW: StagedShape = { rows: 128, cols: 16 };

/**
 * The tile for a term of G with R rows and C columns: NARROW for C ≤ 16, NARROW transposed for R ≤ 16 (the kernel's
 * rows are then G's columns), else WIDE.
 */
export function stagedShape(R: number, C: number): StagedShape {
  if (C <= NARROW.cols) return NARROW;
  if (R <= NARROW.cols) return { ...NARROW, transposed: true };
  return WIDE;
}

/**
 * Whether the staged kernel loads a tile's operands from storage while it computes the tile before (registers,
 * then workgroup memory after the barrier): LWIN_GRAD_PREFETCH=off loads each tile only once the one before is done
 * (a benchmark switch; the same sums either way).
 */
export function gradPrefetch(): boolean {
  const env = envSetting('LWIN_GRAD_PREFETCH');
  if (env !== undefined && env !== 'on' && env !== 'off') throw new Error(`LWIN_GRAD_PREFETCH=${env}: use 'on' (the default) or 'off'`);
  return env !== 'off';
}

/**
 * Workgroups: x over tiles of C; (y, z) over tiles of R × chunks, folded (as gradProgram's). With a transposed shape
 * the caller passes G's R and C, and A's and V's maps, swapped (src/cells/gradients.ts).
 */
export function gradStagedProgram(prefetch = gradPrefetch(), shape: StagedShape = WIDE): Program<typeof GradParams> {
  return defineProgram({
    name: 'weight_grad',
    variantKey: `staged,${shape.rows}x${shape.cols}${shape.transposed ? ',t' : ''}${prefetch ? ',prefetch' : ''}`,
    bindings: [
      { name: 'A', access: 'read', type: 'f32' },
      { name: 'V', access: 'read', type: 'f32' },
      { name: 'partials', access: 'read_write', type: 'vec2f' },
    ],
    uniform: { name: 'params', struct: 'GradParams', schema: GradParams },
    workgroupSize: [shape.cols / 4, shape.rows / 4],
    dispatch: (p, limits) => [Math.ceil(p.C / shape.cols), ...foldRows(Math.ceil(p.R / shape.rows) * p.chunks, limits.maxWorkgroupsPerDimension)],
    shader: (head) => stagedShader(head, prefetch, shape),
  });
}

/**
 * How a workgroup's threads load one operand's tile of 16 rows × `width` columns: thread li loads column li % width
 * at rows kq + step·m (m < loads), kq = li / width. With step 1 (a thread loads all 16 rows of its column) one row
 * counter walks them in order; otherwise each loaded row keeps its own, advanced 16 rows a tile.
 */
function loader(width: number, threads: number): { step: number; loads: number } {
  const step = threads / width;
  return { step, loads: STAGED_ROWS / step };
}

function stagedShader(head: ShaderHead, prefetch: boolean, shape: StagedShape): string {
  const threads = (shape.rows / 4) * (shape.cols / 4);
  const ops = { a: loader(shape.rows, threads), v: loader(shape.cols, threads) };
  const ms = (which: 'a' | 'v') => Array.from({ length: ops[which].loads }, (_, m) => m);
  // Row counters: per loaded row, the row's step in its sequence (p) and the sequence's first buffer row (b); one
  // pair (index 0) for a loader of step 1.
  const counters = (which: 'a' | 'v') => (ops[which].step === 1 ? [0] : ms(which));
  const counterInit = (which: 'a' | 'v') => counters(which).map((m) => `  var p${which}${m} = (c_lo + k${which} + ${ops[which].step * m}u) % params.${which}RowsPer;
  var b${which}${m} = ((c_lo + k${which} + ${ops[which].step * m}u) / params.${which}RowsPer) * params.${which}RowStride;`).join('\n');
  const buffer = { a: 'A', v: 'V' };
  // The tile from row k (zeros past the chunk's end) into registers r<which><m>; then the counters move on.
  const load = (which: 'a' | 'v', k: string, indent: string) => ms(which).map((m) => {
    const c = ops[which].step === 1 ? 0 : m;
    const value = `${indent}{
${indent}  let inside = ${k} + k${which} + ${ops[which].step * m}u < c_hi;
${indent}  r${which}${m} = select(0.0, ${buffer[which]}[select(0u, ${which}_row(b${which}${c}, p${which}${c}) * params.${which}Width + ${which}_col, inside)], inside);
${indent}}`;
    const advance = ops[which].step === 1
      ? `${indent}p${which}0 += 1u;
${indent}if (p${which}0 >= params.${which}RowsPer) { p${which}0 -= params.${which}RowsPer; b${which}0 += params.${which}RowStride; }`
      : `${indent}p${which}${m} += ${STAGED_ROWS}u;
${indent}while (p${which}${m} >= params.${which}RowsPer) { p${which}${m} -= params.${which}RowsPer; b${which}${m} += params.${which}RowStride; }`;
    return `${value}\n${advance}`;
  }).join('\n');
  const loads = (k: string, indent: string) => `${load('a', k, indent)}\n${load('v', k, indent)}`;
  const stores = (which: 'a' | 'v') => ms(which).map((m) => `    ${which}_tile[k${which} + ${ops[which].step * m}u][e${which} / 4u][e${which} % 4u] = r${which}${m};`).join('\n');
  // G's place of the kernel's output (row, col): itself, or (col, row) of G's R × C = the kernel's C × R when transposed.
  const place = shape.transposed ? '(col * params.R + row)' : '(row * params.C + col)';
  return wgsl`
${head.declarations}
${compensatedSum('params.one')}
${foldedRow}
${weightGradHelpers}

// Tile rows of A (columns r0… of the kernel's rows) and of V (columns c0… of its columns), four columns per vec4.
var<workgroup> a_tile: array<array<vec4f, ${shape.rows / 4}>, ${STAGED_ROWS}>;
var<workgroup> v_tile: array<array<vec4f, ${shape.cols / 4}>, ${STAGED_ROWS}>;

@compute @workgroup_size(${head.workgroupSize})
fn main(@builtin(workgroup_id) wg: vec3u, @builtin(num_workgroups) nwg: vec3u,
        @builtin(local_invocation_id) lid: vec3u, @builtin(local_invocation_index) li: u32) {
  let tilesR = (params.R + ${shape.rows - 1}u) / ${shape.rows}u;
  let yz = folded_row(wg, nwg);
  let chunk = yz / tilesR;
  if (chunk >= params.chunks) { return; } // uniform per workgroup
  let r0 = (yz % tilesR) * ${shape.rows}u;
  let c0 = wg.x * ${shape.cols}u;
  let c_lo = chunk * params.chunk;
  let c_hi = min(c_lo + params.chunk, params.rows);
  // The loads: column e of each operand's tile (clamped at G's edge: computed, then not written), rows k + step·m.
  let ea = li % ${shape.rows}u;
  let ka = li / ${shape.rows}u;
  let ev = li % ${shape.cols}u;
  let kv = li / ${shape.cols}u;
  let a_col = params.aOffset + min(r0 + ea, params.R - 1u);
  let v_col = params.vOffset + min(c0 + ev, params.C - 1u);
${counterInit('a')}
${counterInit('v')}
${ms('a').map((m) => `  var ra${m} = 0.0;`).join('\n')}
${ms('v').map((m) => `  var rv${m} = 0.0;`).join('\n')}
  let z = bitcast<u32>(params.one) ^ 0x3f800000u;
  let fz = bitcast<f32>(z);
${FOUR.map((i) => `  var hi${i} = vec4f(0.0);
  var lo${i} = vec4f(0.0);`).join('\n')}
#if ${prefetch}
  // Prefetch: the first tile's operands now, and each next tile's while this one is summed.
${loads('c_lo', '  ')}
#endif
  for (var k0 = c_lo; k0 < c_hi; k0 += ${STAGED_ROWS}u) {
#if ${!prefetch}
${loads('k0', '    ')}
#endif
${stores('a')}
${stores('v')}
    workgroupBarrier();
#if ${prefetch}
    if (k0 + ${STAGED_ROWS}u < c_hi) { // uniform: c_hi is the workgroup's
${loads(`k0 + ${STAGED_ROWS}u`, '      ')}
    }
#endif
    // This tile's 16 rows, in order, from a run-time zero (so no form turns the first into a product of its own).
${FOUR.map((i) => `    var q${i} = vec4f(fz);`).join('\n')}
${TILE_ROWS.map((k) => `    {
      let a = a_tile[${k}u][lid.y];
      let v = v_tile[${k}u][lid.x];
${FOUR.map((i) => `      q${i} = fma(vec4f(a[${i}]), v, q${i});`).join('\n')}
    }`).join('\n')}
    workgroupBarrier();
${FOUR.map((i) => twoSum4(i, `q${i}`, '')).join('\n')}
  }
  // Thread (lid.x, lid.y) holds the kernel's rows r0 + 4·lid.y + i and columns c0 + 4·lid.x + j.
${FOUR.map((i) => FOUR.map((j) => `  {
    let row = r0 + 4u * lid.y + ${i}u;
    let col = c0 + 4u * lid.x + ${j}u;
    if (row < params.R && col < params.C) {
      // Columns are cleared before the first segment; later segments may add into the same ones (wide tensors).
      let at = ${place} * params.columns + (params.chunk0 + chunk) % params.columns;
      partials[at] = pair_add(vec2f(hi${i}[${j}], lo${i}[${j}]), partials[at]);
    }
  }`).join('\n')).join('\n')}
}
`;
}
