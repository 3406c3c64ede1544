// Batched matrix multiply C[b] = A[b]·B (+ bias), the building block of every cell's input and recurrent maps.
// B is shared by the batch, so the batch is folded into the row axis: rows = batch·M. PyTorch stores a Linear
// weight as [out, in]; `transposeB` reads B as [N, K] so weights are used as stored.
import { wgsl } from 'wgsl-preprocessor/wgsl-preprocessor.js';
import { d } from '../src/gpu/layout.ts';
import { defineProgram, type Program, type ShaderHead } from '../src/gpu/program.ts';
import { foldRows } from '../src/gpu/grid.ts';
import { foldedRow } from './common.ts';

export const MatmulParams = d.struct({
  rows: d.u32, // batch · M
  k: d.u32,
  n: d.u32,
  rowTiles: d.u32, // ceil(rows / TILE); row tiles beyond the y limit fold into z
});

export interface MatmulVariant {
  transposeB: boolean;
  bias: boolean;
  /**
   * 'tiled': A and B tiles staged in workgroup memory (the usual design for discrete GPUs);
   * 'direct': register blocking only, operands read straight from storage (faster on CPU adapters, which
   * pay heavily for workgroup barriers).
   */
  strategy: 'tiled' | 'direct';
}

/** Each workgroup computes a TILE×TILE block of C; each of its 16×16 threads a 4×4 sub-block, interleaved. */
export const MATMUL_TILE = 64;
const WG = 16;
const TILE_K = 16;

export function matmulVariantKey(v: MatmulVariant): string {
  return `${v.strategy},${v.transposeB ? 'bT' : 'b'}${v.bias ? ',bias' : ''}`;
}

/** Workgroups: x over column tiles, (y, z) over row tiles, folded. */
export function matmulProgram(v: MatmulVariant): Program<typeof MatmulParams> {
  return defineProgram({
    name: 'matmul',
    variantKey: matmulVariantKey(v),
    bindings: [
      { name: 'a', access: 'read', type: 'f32' },
      { name: 'b', access: 'read', type: 'f32' },
      ...(v.bias ? [{ name: 'bias', access: 'read', type: 'f32' } as const] : []),
      { name: 'c', access: 'read_write', type: 'f32' },
    ],
    uniform: { name: 'params', struct: 'MatmulParams', schema: MatmulParams },
    workgroupSize: [WG, WG],
    dispatch: (p, limits) => [Math.ceil(p.n / MATMUL_TILE), ...foldRows(p.rowTiles, limits.maxWorkgroupsPerDimension)],
    shader: (head) => matmulShader(v, head),
  });
}

function matmulShader(v: MatmulVariant, head: ShaderHead): string {
  const bIndex = v.transposeB ? 'col * params.k + kk' : 'kk * params.n + col';
  return wgsl`
${head.declarations}
${foldedRow}

const WG: u32 = ${WG}u;
const TILE: u32 = ${MATMUL_TILE}u;
const TILE_K: u32 = ${TILE_K}u;

// B element (kk, col) wherever B's storage order puts it.
fn b_at(kk: u32, col: u32) -> f32 {
  return b[${bIndex}];
}

#if ${v.strategy === 'tiled'}
var<workgroup> a_tile: array<array<f32, TILE_K>, TILE>;
var<workgroup> b_tile: array<array<f32, TILE>, TILE_K>;
#endif

@compute @workgroup_size(${head.workgroupSize})
fn main(@builtin(workgroup_id) wg: vec3u, @builtin(num_workgroups) nwg: vec3u,
        @builtin(local_invocation_id) lid: vec3u, @builtin(local_invocation_index) li: u32) {
  let row_tile = folded_row(wg, nwg);
  if (row_tile >= params.rowTiles) { return; } // uniform per workgroup
  let row0 = row_tile * TILE;
  let col0 = wg.x * TILE;
  var acc: array<array<f32, 4>, 4>;

#if ${v.strategy === 'tiled'}
  for (var k0 = 0u; k0 < params.k; k0 += TILE_K) {
    for (var e = li; e < TILE * TILE_K; e += WG * WG) {
      let r = e / TILE_K;
      let kk = e % TILE_K;
      var av = 0.0;
      if (row0 + r < params.rows && k0 + kk < params.k) { av = a[(row0 + r) * params.k + k0 + kk]; }
      a_tile[r][kk] = av;
      let kb = e / TILE;
      let cb = e % TILE;
      var bv = 0.0;
      if (k0 + kb < params.k && col0 + cb < params.n) { bv = b_at(k0 + kb, col0 + cb); }
      b_tile[kb][cb] = bv;
    }
    workgroupBarrier();
    for (var kk = 0u; kk < TILE_K; kk++) {
      var bv: array<f32, 4>;
      for (var j = 0u; j < 4u; j++) { bv[j] = b_tile[kk][lid.x + j * WG]; }
      for (var i = 0u; i < 4u; i++) {
        let av = a_tile[lid.y + i * WG][kk];
        for (var j = 0u; j < 4u; j++) { acc[i][j] = fma(av, bv[j], acc[i][j]); }
      }
    }
    workgroupBarrier();
  }
#else
  // Clamp indices instead of branching; rows and columns past the edge are computed and then not written.
  var ar: array<u32, 4>;
  var bc: array<u32, 4>;
  for (var i = 0u; i < 4u; i++) { ar[i] = min(row0 + lid.y + i * WG, params.rows - 1u) * params.k; }
  for (var j = 0u; j < 4u; j++) { bc[j] = min(col0 + lid.x + j * WG, params.n - 1u); }
  for (var kk = 0u; kk < params.k; kk++) {
    var bv: array<f32, 4>;
    for (var j = 0u; j < 4u; j++) { let col = bc[j]; bv[j] = b_at(kk, col); }
    for (var i = 0u; i < 4u; i++) {
      let av = a[ar[i] + kk];
      for (var j = 0u; j < 4u; j++) { acc[i][j] = fma(av, bv[j], acc[i][j]); }
    }
  }
#endif

  for (var i = 0u; i < 4u; i++) {
    let row = row0 + lid.y + i * WG;
    if (row >= params.rows) { continue; }
    for (var j = 0u; j < 4u; j++) {
      let col = col0 + lid.x + j * WG;
      if (col >= params.n) { continue; }
#if ${v.bias}
      c[row * params.n + col] = acc[i][j] + bias[col];
#else
      c[row * params.n + col] = acc[i][j];
#endif
    }
  }
}
`;
}
