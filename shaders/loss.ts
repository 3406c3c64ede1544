// Mean squared error pieces (SPEC §2): per element, the squared residual (summed into the loss by the segmented
// reduction) and ∂L/∂ŷ = 2 (ŷ - y) / N, N = B·T, the seed of the backward pass.
import { d, wgslStruct } from '../src/gpu/layout.ts';

export const ResidualParams = d.struct({ count: d.u32, slope: d.f32 });

export function residualShader(): string {
  return /* wgsl */ `
${wgslStruct('ResidualParams', ResidualParams)}
@group(0) @binding(0) var<storage, read> yhat: array<f32>;
@group(0) @binding(1) var<storage, read> y: array<f32>;
@group(0) @binding(2) var<storage, read_write> sq: array<f32>;
@group(0) @binding(3) var<storage, read_write> dy: array<f32>;
@group(0) @binding(4) var<uniform> params: ResidualParams;

@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) id: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = id.y * nwg.x * 256u + id.x;
  if (i >= params.count) { return; }
  let r = yhat[i] - y[i];
  sq[i] = r * r;
  dy[i] = params.slope * r;
}
`;
}

export const DeltaParams = d.struct({ count: d.u32, H: d.u32, outWeight: d.u32 });

/** SPEC §7: δ_t = (ŷ_t - y_t) · out.weight ∈ R^H, for every (sequence, step): [count, H] with count = B·T. */
export function readoutDeltaShader(): string {
  return /* wgsl */ `
${wgslStruct('DeltaParams', DeltaParams)}
@group(0) @binding(0) var<storage, read> P: array<f32>;
@group(0) @binding(1) var<storage, read> yhat: array<f32>;
@group(0) @binding(2) var<storage, read> y: array<f32>;
@group(0) @binding(3) var<storage, read_write> delta: array<f32>;
@group(0) @binding(4) var<uniform> params: DeltaParams;

@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) id: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = id.y * nwg.x * 256u + id.x;
  if (i >= params.count * params.H) { return; }
  let row = i / params.H;
  let q = i % params.H;
  delta[i] = (yhat[row] - y[row]) * P[params.outWeight + q];
}
`;
}
