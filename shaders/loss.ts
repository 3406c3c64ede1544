// Mean squared error pieces (SPEC §2): per element, the squared residual (summed into the loss by the segmented
// reduction) and ∂L/∂ŷ = 2 (ŷ - y) / N, N = B·T, the seed of the backward pass.
import { d } from '../src/gpu/layout.ts';
import { defineProgram, type ShaderHead } from '../src/gpu/program.ts';
import { elementwiseGrid } from '../src/gpu/grid.ts';

const WORKGROUP = 256;

export const ResidualParams = d.struct({ count: d.u32, slope: d.f32 });

export const residualProgram = defineProgram({
  name: 'mse_residual',
  variantKey: '',
  bindings: [
    { name: 'yhat', access: 'read', type: 'f32' },
    { name: 'y', access: 'read', type: 'f32' },
    { name: 'sq', access: 'read_write', type: 'f32' },
    { name: 'dy', access: 'read_write', type: 'f32' },
  ],
  uniform: { name: 'params', struct: 'ResidualParams', schema: ResidualParams },
  workgroupSize: [WORKGROUP],
  dispatch: (p, limits) => elementwiseGrid(p.count, WORKGROUP, limits.maxWorkgroupsPerDimension),
  shader: residualShader,
});

function residualShader(head: ShaderHead): string {
  return /* wgsl */ `
${head.declarations}

@compute @workgroup_size(${head.workgroupSize})
fn main(@builtin(global_invocation_id) id: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = id.y * nwg.x * ${head.threads}u + id.x;
  if (i >= params.count) { return; }
  let r = yhat[i] - y[i];
  sq[i] = r * r;
  dy[i] = params.slope * r;
}
`;
}

export const DeltaParams = d.struct({ count: d.u32, H: d.u32, outWeight: d.u32 });

/** SPEC §7: δ_t = (ŷ_t - y_t) · out.weight ∈ R^H, for every (sequence, step): [count, H] with count = B·T. */
export const readoutDeltaProgram = defineProgram({
  name: 'readout_delta',
  variantKey: '',
  bindings: [
    { name: 'P', access: 'read', type: 'f32' },
    { name: 'yhat', access: 'read', type: 'f32' },
    { name: 'y', access: 'read', type: 'f32' },
    { name: 'delta', access: 'read_write', type: 'f32' },
  ],
  uniform: { name: 'params', struct: 'DeltaParams', schema: DeltaParams },
  workgroupSize: [WORKGROUP],
  dispatch: (p, limits) => elementwiseGrid(p.count * p.H, WORKGROUP, limits.maxWorkgroupsPerDimension),
  shader: readoutDeltaShader,
});

function readoutDeltaShader(head: ShaderHead): string {
  return /* wgsl */ `
${head.declarations}

@compute @workgroup_size(${head.workgroupSize})
fn main(@builtin(global_invocation_id) id: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = id.y * nwg.x * ${head.threads}u + id.x;
  if (i >= params.count * params.H) { return; }
  let row = i / params.H;
  let q = i % params.H;
  delta[i] = (yhat[row] - y[row]) * P[params.outWeight + q];
}
`;
}
