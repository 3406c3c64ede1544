// Mean squared error pieces (SPEC §2): per element, the squared residual (summed into the loss by the segmented
// reduction) and ∂L/∂ŷ = 2 (ŷ - y) / N, N = B·T, the seed of the backward pass.
import { d } from '../src/gpu/layout.ts';
import { defineProgram, type ShaderHead } from '../src/gpu/program.ts';
import { elementwiseGrid } from '../src/gpu/grid.ts';

const WORKGROUP = 256;

/**
 * The declarations and opening of an elementwise kernel over `count` items on elementwiseGrid's grid: `i` is the
 * item, and invocations past the end return. The body follows and closes the function.
 */
export function elementwiseMain(head: ShaderHead, count: string): string {
  return /* wgsl */ `${head.declarations}

@compute @workgroup_size(${head.workgroupSize})
fn main(@builtin(global_invocation_id) id: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = id.y * nwg.x * ${head.threads}u + id.x;
  if (i >= ${count}) { return; }`;
}

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
${elementwiseMain(head, 'params.count')}
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
${elementwiseMain(head, 'params.count * params.H')}
  let row = i / params.H;
  let q = i % params.H;
  delta[i] = (yhat[row] - y[row]) * P[params.outWeight + q];
}
`;
}

export const ReadoutLossParams = d.struct({ rows: d.u32, T: d.u32, K: d.u32, last: d.u32, scale: d.f32 });

/**
 * SPEC §13's losses of a K-output readout, one thread per (sequence, step) row: `mse` (targets [B, T, K]) or `ce`
 * (class indices [B, T] as f32; softmax over the K logits), taken at every step or (`last` = 1) at t = T-1 only.
 * Writes the row's share of the loss (×scale = 1/terms, so the rows sum to the mean) and ∂L/∂ŷ [B, T, K]
 * (0 at rows without loss).
 */
export function readoutLossProgram(loss: 'mse' | 'ce') {
  return defineProgram({
    name: 'readout_loss',
    variantKey: loss,
    bindings: [
      { name: 'yhat', access: 'read', type: 'f32' },
      { name: 'y', access: 'read', type: 'f32' },
      { name: 'rowloss', access: 'read_write', type: 'f32' },
      { name: 'dy', access: 'read_write', type: 'f32' },
    ],
    uniform: { name: 'params', struct: 'ReadoutLossParams', schema: ReadoutLossParams },
    workgroupSize: [WORKGROUP],
    dispatch: (p, limits) => elementwiseGrid(p.rows, WORKGROUP, limits.maxWorkgroupsPerDimension),
    shader: (head) => readoutLossShader(loss, head),
  });
}

function readoutLossShader(loss: 'mse' | 'ce', head: ShaderHead): string {
  const body = loss === 'mse'
    ? `
  var total = 0.0;
  for (var k = 0u; k < params.K; k++) {
    let r = select(0.0, yhat[i * params.K + k] - y[i * params.K + k], taken);
    total += r * r;
    dy[i * params.K + k] = 2.0 * params.scale * r;
  }
  rowloss[i] = total * params.scale;`
    : `
  // log-sum-exp with the largest logit taken out, so no exp overflows
  var top = yhat[i * params.K];
  for (var k = 1u; k < params.K; k++) { top = max(top, yhat[i * params.K + k]); }
  var sum = 0.0;
  for (var k = 0u; k < params.K; k++) { sum += exp(yhat[i * params.K + k] - top); }
  let lse = top + log(sum);
  let label = u32(y[i]);
  for (var k = 0u; k < params.K; k++) {
    let p = exp(yhat[i * params.K + k] - lse);
    dy[i * params.K + k] = select(0.0, params.scale * (p - select(0.0, 1.0, k == label)), taken);
  }
  rowloss[i] = select(0.0, params.scale * (lse - yhat[i * params.K + min(label, params.K - 1u)]), taken);`;
  return /* wgsl */ `
${elementwiseMain(head, 'params.rows')}
  let taken = params.last == 0u || i % params.T == params.T - 1u;${body}
}
`;
}

export const HeadDeltaParams = d.struct({ count: d.u32, H: d.u32, K: d.u32, outWeight: d.u32 });

/**
 * SPEC §13: δ_t = out.weightᵀ r_t ∈ R^H for a K-output head, r_t [K] the readout loss's residual (readout_loss's
 * ∂L/∂ŷ up to a constant factor, 0 at steps without loss): [count, H] with count = B·T.
 */
export const headDeltaProgram = defineProgram({
  name: 'head_delta',
  variantKey: '',
  bindings: [
    { name: 'P', access: 'read', type: 'f32' },
    { name: 'dy', access: 'read', type: 'f32' },
    { name: 'delta', access: 'read_write', type: 'f32' },
  ],
  uniform: { name: 'params', struct: 'HeadDeltaParams', schema: HeadDeltaParams },
  workgroupSize: [WORKGROUP],
  dispatch: (p, limits) => elementwiseGrid(p.count * p.H, WORKGROUP, limits.maxWorkgroupsPerDimension),
  shader: (head) => /* wgsl */ `
${elementwiseMain(head, 'params.count * params.H')}
  let row = i / params.H;
  let q = i % params.H;
  var acc = 0.0;
  for (var k = 0u; k < params.K; k++) { acc = fma(P[params.outWeight + k * params.H + q], dy[row * params.K + k], acc); }
  delta[i] = acc;
}
`,
});
