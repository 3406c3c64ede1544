// Backward recurrence (BPTT): steps run in reverse; each recomputes its forward step from the stored state before
// it (the same WGSL as the forward kernel), then runs the cell's adjoint. It writes, per (sequence, step), the
// pre-activation adjoints of every gate block and the vectors the recurrent weights multiplied (h_{t-1}, h_t, and
// gru's r ⊙ h_{t-1}); weight gradients are then batched reductions over them (src/cells/gradients.ts).
// The adjoint of the state at the dispatch's start goes back to `adj` for the next (earlier) dispatch.
import { wgsl } from 'wgsl-preprocessor/wgsl-preprocessor.js';
import { defineProgram, type BindingDecl, type Program, type ShaderHead } from '../../src/gpu/program.ts';
import { stateWidth, type CellKind } from '../../src/model/cells.ts';
import { foldedRow } from '../common.ts';
import { RECURRENT_WORKGROUP, backwardHelpers, layerNormForward, recurrentGrid, recurrentPrelude, threadsPerSequence, recurrentEntry } from '../cells/common.ts';
import { leakyBackwardStep, leakyForwardStep } from '../cells/leaky.ts';
import { gruBackwardStep, gruForwardStep } from '../cells/gru.ts';
import { lstmBackwardStep, lstmForwardStep } from '../cells/lstm.ts';
import { linearBackwardStep, linearForwardStep } from '../cells/linear.ts';
import type { StepContext } from '../cells/step-context.ts';
import { offsetField, recurrentUniform, type RecurrentSchema, type RecurrentUniforms } from './params.ts';
import { stepContext } from './forward.ts';

export interface BackwardVariant {
  cell: CellKind;
  layernorm: boolean;
  hidden: number;
}

export function backwardVariantKey(v: BackwardVariant): string {
  return `${v.cell},${v.layernorm ? 'ln' : 'noln'},hp${threadsPerSequence(v.hidden)}`;
}

/** Gate blocks per cell, in the order the adjoint snippets fill `blocks`. */
export const GATE_BLOCKS: Record<CellKind, readonly string[]> = {
  const: ['g'],
  shared: ['g', 's'],
  diag: ['g', 's'],
  gru: ['z', 'r', 'g'],
  lstm: ['i', 'f', 'o', 'g'],
  linear: ['a'], // the state's own pre-activation
};

/** Blocks of the adjoint buffer: the gate blocks, then LayerNorm's weight and bias terms when on. */
export function adjointBlocks(cell: CellKind, layernorm: boolean): string[] {
  return [...GATE_BLOCKS[cell], ...(layernorm ? ['ln_w', 'ln_b'] : [])];
}

/** Vectors kept per (sequence, step) for the weight gradients. */
export function operandNames(cell: CellKind): string[] {
  return cell === 'gru' ? ['h_prev', 'h', 'rh'] : ['h_prev', 'h'];
}

const BACKWARD_BINDINGS: readonly BindingDecl[] = [
  { name: 'P', access: 'read', type: 'f32' },
  { name: 'x', access: 'read', type: 'f32' }, // [B, T, D]
  { name: 'dy', access: 'read', type: 'f32' }, // [B, T]: ∂L/∂ŷ
  { name: 'states', access: 'read', type: 'f32' }, // [slots, B, W, H]: state after step storeFrom + slot
  { name: 'start', access: 'read', type: 'f32' }, // [*, B, W, H]: slot startSlot = state before storeFrom
  { name: 'adj', access: 'read_write', type: 'f32' }, // [B, W, H]: adjoint of the state, carried
  { name: 'deltas', access: 'read_write', type: 'f32' }, // [B, segment steps, blocks, H]
  { name: 'ops', access: 'read_write', type: 'f32' }, // [B, segment steps, operands, H]
];

/** One dispatch walks `steps` steps backwards; rows of workgroups hold S sequences each. */
export function backwardProgram(v: BackwardVariant): Program<RecurrentSchema, RecurrentUniforms> {
  return defineProgram({
    name: `backward_${v.cell}`,
    variantKey: backwardVariantKey(v),
    bindings: BACKWARD_BINDINGS,
    uniform: recurrentUniform(v),
    workgroupSize: [RECURRENT_WORKGROUP],
    dispatch: recurrentGrid(v.hidden),
    shader: (head) => backwardShader(v, head),
  });
}

const FORWARD: Record<CellKind, (c: StepContext) => string> = {
  const: leakyForwardStep, shared: leakyForwardStep, diag: leakyForwardStep, gru: gruForwardStep, lstm: lstmForwardStep, linear: linearForwardStep,
};
const BACKWARD: Record<CellKind, (c: StepContext) => string> = {
  const: leakyBackwardStep, shared: leakyBackwardStep, diag: leakyBackwardStep, gru: gruBackwardStep, lstm: lstmBackwardStep, linear: linearBackwardStep,
};

function backwardShader(v: BackwardVariant, head: ShaderHead): string {
  const hp = threadsPerSequence(v.hidden);
  const lstm = v.cell === 'lstm';
  const ctx = stepContext(v.cell, v.layernorm);
  const blocks = adjointBlocks(v.cell, v.layernorm);
  const gates = GATE_BLOCKS[v.cell].length;
  const operands = operandNames(v.cell);
  return wgsl`
${recurrentPrelude(hp, head)}
${foldedRow}
${layerNormForward}
${backwardHelpers}

${recurrentEntry(stateWidth(v.cell), head)}
  let adj_base = seq * W * params.H + q;
  var dh_carry = 0.0;
  var dc_carry = 0.0;
  if (live) {
    dh_carry = adj[adj_base];
#if ${lstm}
    dc_carry = adj[adj_base + params.H];
#endif
  }

  for (var k = 0u; k < params.steps; k++) {
    let t = params.t0 + params.steps - 1u - k;
    load_x(lid, group, t);
    // The state before step t: stored after step t-1, or the segment's starting state.
    var h_before = 0.0;
    var c_before = 0.0;
    if (live) {
      var base = 0xffffffffu;
      if (t > params.storeFrom) {
        base = (((t - 1u - params.storeFrom) * params.batch + seq) * W) * params.H + q;
        h_before = states[base];
        c_before = select(0.0, states[base + params.H], W == 2u);
      } else if (params.startSlot != 0xffffffffu) {
        base = ((params.startSlot * params.batch + seq) * W) * params.H + q;
        h_before = start[base];
        c_before = select(0.0, start[base + params.H], W == 2u);
      }
    }
    hbuf[lid] = h_before;
    var c_state = c_before;
    workgroupBarrier();
    let hq = hbuf[lid];
${FORWARD[v.cell](ctx)}
    var dy_t = 0.0;
    if (seq < params.batch) { dy_t = dy[seq * params.T + t]; }
    let dh = select(0.0, dh_carry + dy_t * P[params.${offsetField('out.weight')} + q], live);
${BACKWARD[v.cell](ctx)}
    if (live) {
      let row = seq * params.slots + (t - params.storeFrom); // rows of this segment: [B, slots]
      for (var b = 0u; b < ${gates}u; b++) { deltas[(row * ${blocks.length}u + b) * params.H + q] = blocks[b]; }
#if ${v.layernorm}
      deltas[(row * ${blocks.length}u + ${gates}u) * params.H + q] = dln_w;
      deltas[(row * ${blocks.length}u + ${gates + 1}u) * params.H + q] = dln_b;
#endif
      ops[(row * ${operands.length}u) * params.H + q] = hq;
      ops[(row * ${operands.length}u + 1u) * params.H + q] = h_new;
#if ${v.cell === 'gru'}
      ops[(row * ${operands.length}u + 2u) * params.H + q] = r * hq;
#endif
    }
    dh_carry = dh_prev;
    workgroupBarrier();
  }

  if (live) {
    adj[adj_base] = dh_carry;
#if ${lstm}
    adj[adj_base + params.H] = dc_carry;
#endif
  }
}
`;
}
