// Gathers a batch from a training set kept on the device: row b of dst (width floats) is row index[b] of the set,
// for the rows whose sequence lies in the part bound as `src` (sequences first … first + held - 1); a set larger
// than one binding is held in parts, one dispatch each.
import { d } from '../src/gpu/layout.ts';
import { defineProgram } from '../src/gpu/program.ts';
import { elementwiseGrid } from '../src/gpu/grid.ts';
import { elementwiseMain } from './loss.ts';

const WORKGROUP = 256;

export const GatherParams = d.struct({ rows: d.u32, width: d.u32, first: d.u32, held: d.u32 });

export const gatherRowsProgram = defineProgram({
  name: 'gather_rows',
  variantKey: '',
  bindings: [
    { name: 'src', access: 'read', type: 'f32' },
    { name: 'index', access: 'read', type: 'u32' },
    { name: 'dst', access: 'read_write', type: 'f32' },
  ],
  uniform: { name: 'params', struct: 'GatherParams', schema: GatherParams },
  workgroupSize: [WORKGROUP],
  dispatch: (p, limits) => elementwiseGrid(p.rows * p.width, WORKGROUP, limits.maxWorkgroupsPerDimension),
  shader: (head) => /* wgsl */ `${elementwiseMain(head, 'params.rows * params.width')}
  let b = i / params.width;
  let n = index[b];
  if (n < params.first || n - params.first >= params.held) { return; }
  dst[i] = src[(n - params.first) * params.width + i % params.width];
}`,
});
