// The adjoint of a PyTorch layer's input (SPEC §13, stacked layers): from the pre-activation adjoints the backward
// kernel writes ([B, slots, blocks, H]: `deltas`), ∂L/∂x_t = Σ_g W_ih[g]ᵀ da_{g,t} over the layer's input row blocks
// (rnn: h; torch_gru: r, z, n; torch_lstm: i, f, g, o; torch_gru's fourth block m is the hidden rows' and is not
// read). In a stack, layer k's x_t is layer k-1's h_t, so this is the error the layer below receives at step t.
// One thread per (sequence, step, four input columns); only the first `width` of the D columns are written (a layer whose
// input carries extra columns for the tangent, src/diagnostics/stack.ts, has zero weights there).
import { d } from '../../src/gpu/layout.ts';
import { defineProgram } from '../../src/gpu/program.ts';
import { elementwiseGrid } from '../../src/gpu/grid.ts';

const WORKGROUP = 256;

export const InputAdjointParams = d.struct({
  batch: d.u32,
  T: d.u32, // steps of dx's sequences
  t0: d.u32, // first step of the range written
  steps: d.u32, // steps written: [t0, t0 + steps)
  storeFrom: d.u32, // the step of deltas' slot 0
  slots: d.u32, // deltas' steps per sequence
  D: d.u32, // weight_ih's row length
  width: d.u32, // input columns written (≤ D); dx is [B, T, width]
  H: d.u32,
  blocks: d.u32, // blocks per (sequence, step) in deltas
  gates: d.u32, // input row blocks: the first `gates` blocks, each against weight_ih's rows g·H … g·H + H-1
  weightIh: d.u32, // offset of weight_ih_l0 in P
});

/** Input columns per thread: each loaded adjoint serves four columns (register blocking along the row). */
const COLUMNS = 4;

export const inputAdjointProgram = defineProgram({
  name: 'input_adjoint',
  variantKey: '',
  bindings: [
    { name: 'P', access: 'read', type: 'f32' }, // flat parameters (by rows)
    { name: 'deltas', access: 'read', type: 'f32' }, // [B, slots, blocks, H]
    { name: 'dx', access: 'read_write', type: 'f32' }, // [B, T, width]
  ],
  uniform: { name: 'params', struct: 'InputAdjointParams', schema: InputAdjointParams },
  workgroupSize: [WORKGROUP],
  dispatch: (p, limits) => elementwiseGrid(p.batch * p.steps * Math.ceil(p.width / COLUMNS), WORKGROUP, limits.maxWorkgroupsPerDimension),
  shader: (head) => /* wgsl */ `${head.declarations}

@compute @workgroup_size(${head.workgroupSize})
fn main(@builtin(global_invocation_id) id: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = id.y * nwg.x * ${head.threads}u + id.x;
  let quads = (params.width + ${COLUMNS - 1}u) / ${COLUMNS}u;
  if (i >= params.batch * params.steps * quads) { return; }
  let j0 = (i % quads) * ${COLUMNS}u;
  let row = i / quads;
  let b = row / params.steps;
  let t = params.t0 + row % params.steps;
  let block0 = (b * params.slots + t - params.storeFrom) * params.blocks * params.H;
  // columns past the width read column width-1 (a real weight) and are not written
  let last = params.width - 1u;
  let cols = vec4u(j0, min(j0 + 1u, last), min(j0 + 2u, last), min(j0 + 3u, last));
  var acc = vec4f(0.0);
  for (var g = 0u; g < params.gates; g++) {
    let base = params.weightIh + g * params.H * params.D;
    let da = block0 + g * params.H;
    for (var r = 0u; r < params.H; r++) {
      let w = base + r * params.D;
      acc = fma(vec4f(P[w + cols.x], P[w + cols.y], P[w + cols.z], P[w + cols.w]), vec4f(deltas[da + r]), acc);
    }
  }
  let out = (b * params.T + t) * params.width;
  for (var c = 0u; c < ${COLUMNS}u; c++) {
    if (j0 + c < params.width) { dx[out + j0 + c] = acc[c]; }
  }
}
`,
});
