// The input of a stacked layer (SPEC §13): layer k's x_t is layer k-1's h_t. The forward kernel keeps the states
// time-major ([T, B, W, H], one slot per step); the next layer reads x sequence-major ([B, T, D]). With a tangent,
// each row is [h_t, v_t] (D = 2H): the diagnostics' layer reads h through weight_ih and v through the direction,
// which gives the JVP through the layers below without another kernel (src/diagnostics/stack.ts).
import { d } from '../../src/gpu/layout.ts';
import { defineProgram } from '../../src/gpu/program.ts';
import { elementwiseGrid } from '../../src/gpu/grid.ts';

const WORKGROUP = 256;

export const LayerInputParams = d.struct({
  batch: d.u32,
  T: d.u32,
  H: d.u32,
  W: d.u32, // words per state: 2 (h, c) for torch_lstm, else 1
  tangent: d.u32, // 1: rows [h_t, v_t] of 2H; 0: rows h_t of H
});

export const layerInputProgram = defineProgram({
  name: 'layer_input',
  variantKey: '',
  bindings: [
    { name: 'states', access: 'read', type: 'f32' }, // [T, B, W, H]
    { name: 'v', access: 'read', type: 'f32' }, // [B, T, H] (read with tangent = 1)
    { name: 'x', access: 'read_write', type: 'f32' }, // [B, T, H] or [B, T, 2H]
  ],
  uniform: { name: 'params', struct: 'LayerInputParams', schema: LayerInputParams },
  workgroupSize: [WORKGROUP],
  dispatch: (p, limits) => elementwiseGrid(p.batch * p.T * p.H * (1 + p.tangent), WORKGROUP, limits.maxWorkgroupsPerDimension),
  shader: (head) => /* wgsl */ `${head.declarations}

@compute @workgroup_size(${head.workgroupSize})
fn main(@builtin(global_invocation_id) id: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = id.y * nwg.x * ${head.threads}u + id.x;
  let width = params.H * (1u + params.tangent);
  if (i >= params.batch * params.T * width) { return; }
  let j = i % width;
  let row = i / width;
  let b = row / params.T;
  let t = row % params.T;
  if (j < params.H) { x[i] = states[((t * params.batch + b) * params.W) * params.H + j]; }
  else { x[i] = v[row * params.H + j - params.H]; }
}
`,
});
