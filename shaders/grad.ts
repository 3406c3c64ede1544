// Weight-gradient partials: G[r, c] = Σ_n A[row_a(n), r] · V[row_v(n), c] over the rows n of one chunk, for a
// tile of G per workgroup. Rows are (sequence, step) pairs; `row_*` maps them into buffers laid out per sequence
// (x is [B, T, D] while a segment's adjoints are [B, k, ·]). Partials go to [R·C, chunks] so one compensated
// segmented reduction (shaders/reduce.ts) finishes the sum; partials stay (hi, lo) pairs so nothing is rounded
// away before it. With `ones`, V ≡ 1 (bias and LayerNorm sums).
import { wgsl } from 'wgsl-preprocessor/wgsl-preprocessor.js';
import { d } from '../src/gpu/layout.ts';
import { defineProgram, type Program, type ShaderHead } from '../src/gpu/program.ts';
import { foldRows } from '../src/gpu/grid.ts';
import { compensatedSum, foldedRow } from './common.ts';

const RowMap = { rowsPer: d.u32, rowStride: d.u32, rowBase: d.u32, width: d.u32, offset: d.u32 };

export const GradParams = d.struct({
  rows: d.u32, // n ranges over [0, rows)
  R: d.u32,
  C: d.u32,
  chunk: d.u32, // rows per chunk
  chunks: d.u32, // chunks in this call
  chunk0: d.u32, // column of the first chunk in the partials (segments of a checkpointed pass append)
  columns: d.u32, // total partial columns
  one: d.f32,
  // A element (n, r) = A[(rowA(n)) · aWidth + aOffset + r], rowA(n) = (n / aRowsPer) · aRowStride + aRowBase + n % aRowsPer
  aRowsPer: RowMap.rowsPer, aRowStride: RowMap.rowStride, aRowBase: RowMap.rowBase, aWidth: RowMap.width, aOffset: RowMap.offset,
  vRowsPer: RowMap.rowsPer, vRowStride: RowMap.rowStride, vRowBase: RowMap.rowBase, vWidth: RowMap.width, vOffset: RowMap.offset,
});

export const GRAD_TILE = 32; // each workgroup: a 32×32 tile of G, 8×8 threads with 4×4 outputs each
const WG = 8;

/** With `ones`, V ≡ 1 and is not bound. Workgroups: x over tiles of C; (y, z) over tiles of R × chunks, folded. */
export function gradProgram(ones: boolean): Program<typeof GradParams> {
  return defineProgram({
    name: 'weight_grad',
    variantKey: ones ? 'ones' : 'outer',
    bindings: [
      { name: 'A', access: 'read', type: 'f32' },
      ...(ones ? [] : [{ name: 'V', access: 'read', type: 'f32' } as const]),
      { name: 'partials', access: 'read_write', type: 'vec2f' },
    ],
    uniform: { name: 'params', struct: 'GradParams', schema: GradParams },
    workgroupSize: [WG, WG],
    dispatch: (p, limits) => [Math.ceil(p.C / GRAD_TILE), ...foldRows(Math.ceil(p.R / GRAD_TILE) * p.chunks, limits.maxWorkgroupsPerDimension)],
    shader: (head) => gradShader(ones, head),
  });
}

function gradShader(ones: boolean, head: ShaderHead): string {
  return wgsl`
${head.declarations}
${compensatedSum('params.one')}
${foldedRow}

fn row_a(n: u32) -> u32 { return (n / params.aRowsPer) * params.aRowStride + params.aRowBase + n % params.aRowsPer; }
fn row_v(n: u32) -> u32 { return (n / params.vRowsPer) * params.vRowStride + params.vRowBase + n % params.vRowsPer; }

@compute @workgroup_size(${head.workgroupSize})
fn main(@builtin(workgroup_id) wg: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_id) lid: vec3u) {
  // x: tile of C; y (folded with z): tile of R × chunk.
  let tilesR = (params.R + ${GRAD_TILE - 1}u) / ${GRAD_TILE}u;
  let yz = folded_row(wg, nwg);
  let chunk = yz / tilesR;
  if (chunk >= params.chunks) { return; }
  let r0 = (yz % tilesR) * ${GRAD_TILE}u;
  let c0 = wg.x * ${GRAD_TILE}u;
  let n0 = chunk * params.chunk;
  let n1 = min(n0 + params.chunk, params.rows);
  // Compensated accumulation: chunks may hold thousands of rows. Rows are walked with running (row, position)
  // counters: an integer division per row and map is what a CPU adapter would spend most of its time on.
  var acc: array<array<vec2f, 4>, 4>;
  var pa = n0 % params.aRowsPer;
  var ra = row_a(n0);
  var pv = n0 % params.vRowsPer;
  var rv = row_v(n0);
  for (var n = n0; n < n1; n++) {
    let ab = ra * params.aWidth + params.aOffset;
    var a: array<f32, 4>;
    for (var i = 0u; i < 4u; i++) { a[i] = A[ab + min(r0 + lid.y + i * ${WG}u, params.R - 1u)]; }
#if ${!ones}
    let vb = rv * params.vWidth + params.vOffset;
    var v: array<f32, 4>;
    for (var j = 0u; j < 4u; j++) { v[j] = V[vb + min(c0 + lid.x + j * ${WG}u, params.C - 1u)]; }
#endif
    for (var i = 0u; i < 4u; i++) {
      for (var j = 0u; j < 4u; j++) {
#if ${!ones}
        acc[i][j] = pair_add_scalar(acc[i][j], a[i] * v[j]);
#else
        acc[i][j] = pair_add_scalar(acc[i][j], a[i]);
#endif
      }
    }
    // Next row: one step along the sequence, or on to the next sequence's first row.
    pa++;
    ra++;
    if (pa == params.aRowsPer) { pa = 0u; ra += params.aRowStride - params.aRowsPer; }
    pv++;
    rv++;
    if (pv == params.vRowsPer) { pv = 0u; rv += params.vRowStride - params.vRowsPer; }
  }
  for (var i = 0u; i < 4u; i++) {
    let r = r0 + lid.y + i * ${WG}u;
    if (r >= params.R) { continue; }
    for (var j = 0u; j < 4u; j++) {
      let c = c0 + lid.x + j * ${WG}u;
      if (c >= params.C) { continue; }
      // Columns are cleared before the first segment; later segments may add into the same ones (wide tensors).
      let at = (r * params.C + c) * params.columns + (params.chunk0 + chunk) % params.columns;
      partials[at] = pair_add(acc[i][j], partials[at]);
    }
  }
}
`;
}
