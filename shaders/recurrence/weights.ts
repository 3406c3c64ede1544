// The recurrent kernels' weights by columns: copies one unit-row matrix [R, C] (R a multiple of H) of the flat
// parameters into the same place of a second flat buffer with each block of H rows stored column-major, [C][H].
// Element (row, col) goes to offset + ⌊row/H⌋·H·C + col·H + row mod H. See `rows` in shaders/cells/tile.ts.
import { wgsl } from 'wgsl-preprocessor/wgsl-preprocessor.js';
import { d } from '../../src/gpu/layout.ts';
import { defineProgram, type Program, type ShaderHead } from '../../src/gpu/program.ts';
import { foldRows } from '../../src/gpu/grid.ts';
import { foldedRow } from '../common.ts';

export const ColumnsParams = d.struct({
  offset: d.u32, // the matrix's first element, in both buffers
  R: d.u32, // rows: a multiple of H
  C: d.u32,
  H: d.u32,
});

const WG = 256;

export const columnsProgram: Program<typeof ColumnsParams> = defineProgram({
  name: 'weights_by_columns',
  variantKey: '',
  bindings: [
    { name: 'P', access: 'read', type: 'f32' },
    { name: 'PT', access: 'read_write', type: 'f32' },
  ],
  uniform: { name: 'params', struct: 'ColumnsParams', schema: ColumnsParams },
  workgroupSize: [WG],
  dispatch: (p, limits) => [1, ...foldRows(Math.ceil((p.R * p.C) / WG), limits.maxWorkgroupsPerDimension)],
  shader: (head: ShaderHead) => wgsl`
${head.declarations}
${foldedRow}

@compute @workgroup_size(${head.workgroupSize})
fn main(@builtin(workgroup_id) wg: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  // Consecutive threads write consecutive words of PT (one column of a block), reading P with stride C.
  let e = folded_row(wg, nwg) * ${WG}u + lid;
  if (e >= params.R * params.C) { return; }
  let block = e / (params.H * params.C);
  let within = e % (params.H * params.C);
  let col = within / params.H;
  let unit = within % params.H;
  PT[params.offset + e] = P[params.offset + (block * params.H + unit) * params.C + col];
}
`,
});
