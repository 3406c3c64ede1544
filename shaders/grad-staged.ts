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

/** Rows and columns of G per workgroup. */
export const STAGED_TILE = 64;
/** Rows of a chunk per staged tile, and so per compensated block. */
export const STAGED_ROWS = 16;
const WG = 16; // 16×16 threads, each a 4×4 block of outputs
const LOADS = (STAGED_ROWS * STAGED_TILE) / (WG * WG); // rows of one column each thread loads per tile: 4
const FOUR = [0, 1, 2, 3];
const TILE_ROWS = Array.from({ length: STAGED_ROWS }, (_, k) => k);

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

/** Workgroups: x over tiles of C; (y, z) over tiles of R × chunks, folded (as gradProgram's). */
export function gradStagedProgram(prefetch = gradPrefetch()): Program<typeof GradParams> {
  return defineProgram({
    name: 'weight_grad',
    variantKey: prefetch ? 'staged,prefetch' : 'staged',
    bindings: [
      { name: 'A', access: 'read', type: 'f32' },
      { name: 'V', access: 'read', type: 'f32' },
      { name: 'partials', access: 'read_write', type: 'vec2f' },
    ],
    uniform: { name: 'params', struct: 'GradParams', schema: GradParams },
    workgroupSize: [WG, WG],
    dispatch: (p, limits) => [Math.ceil(p.C / STAGED_TILE), ...foldRows(Math.ceil(p.R / STAGED_TILE) * p.chunks, limits.maxWorkgroupsPerDimension)],
    shader: (head) => stagedShader(head, prefetch),
  });
}

function stagedShader(head: ShaderHead, prefetch: boolean): string {
  // Each thread loads column e of both tiles at rows kq + 4m (m < 4) and keeps, per loaded row, the row's step in
  // its sequence (p) and the sequence's first buffer row (b) for A and for V, advanced 16 rows per tile.
  const advance = (m: number, which: 'a' | 'v', indent: string) => `${indent}p${which}${m} += ${STAGED_ROWS}u;
${indent}while (p${which}${m} >= params.${which}RowsPer) { p${which}${m} -= params.${which}RowsPer; b${which}${m} += params.${which}RowStride; }`;
  // The tile from row k (zeros past the chunk's end) into registers ra<m>, rv<m>; then the counters move on.
  const loads = (k: string, indent: string) => FOUR.map((m) => `${indent}{
${indent}  let inside = ${k} + kq + ${4 * m}u < c_hi;
${indent}  ra${m} = select(0.0, A[select(0u, a_row(ba${m}, pa${m}) * params.aWidth + a_col, inside)], inside);
${indent}  rv${m} = select(0.0, V[select(0u, v_row(bv${m}, pv${m}) * params.vWidth + v_col, inside)], inside);
${indent}}
${advance(m, 'a', indent)}
${advance(m, 'v', indent)}`).join('\n');
  return wgsl`
${head.declarations}
${compensatedSum('params.one')}
${foldedRow}
${weightGradHelpers}

// Tile rows kk of A (columns r0…r0+63 of G's rows) and of V (columns c0…c0+63), four columns per vec4.
var<workgroup> a_tile: array<array<vec4f, ${STAGED_TILE / 4}>, ${STAGED_ROWS}>;
var<workgroup> v_tile: array<array<vec4f, ${STAGED_TILE / 4}>, ${STAGED_ROWS}>;

@compute @workgroup_size(${head.workgroupSize})
fn main(@builtin(workgroup_id) wg: vec3u, @builtin(num_workgroups) nwg: vec3u,
        @builtin(local_invocation_id) lid: vec3u, @builtin(local_invocation_index) li: u32) {
  let tilesR = (params.R + ${STAGED_TILE - 1}u) / ${STAGED_TILE}u;
  let yz = folded_row(wg, nwg);
  let chunk = yz / tilesR;
  if (chunk >= params.chunks) { return; } // uniform per workgroup
  let r0 = (yz % tilesR) * ${STAGED_TILE}u;
  let c0 = wg.x * ${STAGED_TILE}u;
  let c_lo = chunk * params.chunk;
  let c_hi = min(c_lo + params.chunk, params.rows);
  // The loads: column e of the tiles (clamped at G's edge: computed, then not written), rows kq + 4m.
  let e = li % ${STAGED_TILE}u;
  let kq = li / ${STAGED_TILE}u;
  let a_col = params.aOffset + min(r0 + e, params.R - 1u);
  let v_col = params.vOffset + min(c0 + e, params.C - 1u);
${FOUR.map((m) => `  var pa${m} = (c_lo + kq + ${4 * m}u) % params.aRowsPer;
  var ba${m} = ((c_lo + kq + ${4 * m}u) / params.aRowsPer) * params.aRowStride;
  var pv${m} = (c_lo + kq + ${4 * m}u) % params.vRowsPer;
  var bv${m} = ((c_lo + kq + ${4 * m}u) / params.vRowsPer) * params.vRowStride;
  var ra${m} = 0.0;
  var rv${m} = 0.0;`).join('\n')}
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
${FOUR.map((m) => `    a_tile[kq + ${4 * m}u][e / 4u][e % 4u] = ra${m};
    v_tile[kq + ${4 * m}u][e / 4u][e % 4u] = rv${m};`).join('\n')}
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
  // Thread (lid.x, lid.y) holds rows r0 + 4·lid.y + i and columns c0 + 4·lid.x + j.
${FOUR.map((i) => FOUR.map((j) => `  {
    let row = r0 + 4u * lid.y + ${i}u;
    let col = c0 + 4u * lid.x + ${j}u;
    if (row < params.R && col < params.C) {
      // Columns are cleared before the first segment; later segments may add into the same ones (wide tensors).
      let at = (row * params.C + col) * params.columns + (params.chunk0 + chunk) % params.columns;
      partials[at] = pair_add(vec2f(hi${i}[${j}], lo${i}[${j}]), partials[at]);
    }
  }`).join('\n')).join('\n')}
}
`;
}
