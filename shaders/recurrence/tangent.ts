// Tangent recurrence (SPEC §7): a dispatch advances S sequences per workgroup through `steps` time steps. Each step
// re-runs the cell's forward step (for its gates and h_t) and then its tangent step, which turns v_{t-1} into
// v_t = (dh_t/dθ)[w] along the direction w in `Pd` (same layout and offsets as `P`). It writes v_t, optionally the
// LSTM's ċ_t, and ŷ̇_t = out.weight · v_t + ẇ_out · h_t + ḃ_out. The state at the dispatch's end, [B, 2W, H] as
// (h, [c,] v, [ċ]), goes back to `state` so the next dispatch (or a later call) continues from it.
import { wgsl } from 'wgsl-preprocessor/wgsl-preprocessor.js';
import { defineProgram, type BindingDecl, type Program, type ShaderHead } from '../../src/gpu/program.ts';
import { stateWidth, type CellKind } from '../../src/model/cells.ts';
import { foldedRow } from '../common.ts';
import { RECURRENT_WORKGROUP, recurrentGrid, recurrentPrelude, threadsPerSequence, recurrentEntry } from '../cells/common.ts';
import { leakyForwardStep } from '../cells/leaky.ts';
import { gruForwardStep } from '../cells/gru.ts';
import { lstmForwardStep } from '../cells/lstm.ts';
import type { StepContext } from '../cells/step-context.ts';
import { layerNormTangent, tangentPrelude } from '../cells/tangent/common.ts';
import { leakyTangentStep } from '../cells/tangent/leaky.ts';
import { gruTangentDecls, gruTangentStep } from '../cells/tangent/gru.ts';
import { lstmTangentStep } from '../cells/tangent/lstm.ts';
import { linearForwardStep, linearTangentStep } from '../cells/linear.ts';
import { TORCH_FORWARD_STEPS, TORCH_TANGENT_STEPS } from '../cells/torch.ts';
import { stepContext } from './forward.ts';
import { offsetField, recurrentUniform, type RecurrentSchema, type RecurrentUniforms } from './params.ts';

export interface TangentVariant {
  cell: CellKind;
  layernorm: boolean;
  hidden: number;
  /** Write the LSTM's cell-state tangent ċ_t (lstm only). */
  cellTangent: boolean;
  /** Also perturb the input at one step per sequence (lag recovery, SPEC §12); see tangentPrelude. */
  inputTangent?: boolean;
}

export function tangentVariantKey(v: TangentVariant): string {
  return `${v.cell},${v.layernorm ? 'ln' : 'noln'},hp${threadsPerSequence(v.hidden)}${v.cellTangent ? ',vc' : ''}${v.inputTangent ? ',xdot' : ''}`;
}

/** Words of tangent-kernel state per unit: the forward state (h[, c]) then its tangent (v[, ċ]). */
export function tangentStateWidth(cell: CellKind): number {
  return 2 * stateWidth(cell);
}

function tangentBindings(v: TangentVariant): BindingDecl[] {
  return [
    { name: 'P', access: 'read', type: 'f32' }, // flat parameters
    { name: 'Pd', access: 'read', type: 'f32' }, // direction w, in the layout of P
    { name: 'x', access: 'read', type: 'f32' }, // [B, T, D]
    { name: 'state', access: 'read_write', type: 'f32' }, // [B, 2W, H]: h[, c], v[, ċ]
    { name: 'v_out', access: 'read_write', type: 'f32' }, // [B, T, H]: v_t
    ...(v.cellTangent ? [{ name: 'vc_out', access: 'read_write', type: 'f32' } as const] : []), // [B, T, H]: ċ_t
    { name: 'yhat_dot', access: 'read_write', type: 'f32' }, // [B, T]
    ...(v.inputTangent ? [{ name: 'input_dir', access: 'read', type: 'f32' } as const] : []), // [D] ẋ, then [B] its step
  ];
}

/** One dispatch advances the sequences and their tangents by `steps` steps; rows hold S sequences each. */
export function tangentProgram(v: TangentVariant): Program<RecurrentSchema, RecurrentUniforms> {
  return defineProgram({
    name: `tangent_${v.cell}`,
    variantKey: tangentVariantKey(v),
    bindings: tangentBindings(v),
    uniform: recurrentUniform(v),
    workgroupSize: [RECURRENT_WORKGROUP],
    dispatch: recurrentGrid(v.hidden),
    shader: (head) => tangentShader(v, head),
  });
}

interface CellSnippets {
  forward: (c: StepContext) => string;
  tangent: (c: StepContext) => string;
  /** Module-scope WGSL the tangent step needs beyond the tangent prelude. */
  decls?: string;
}

const CELLS: Record<CellKind, CellSnippets> = {
  const: { forward: leakyForwardStep, tangent: leakyTangentStep },
  shared: { forward: leakyForwardStep, tangent: leakyTangentStep },
  diag: { forward: leakyForwardStep, tangent: leakyTangentStep },
  gru: { forward: gruForwardStep, tangent: gruTangentStep, decls: gruTangentDecls },
  lstm: { forward: lstmForwardStep, tangent: lstmTangentStep },
  linear: { forward: linearForwardStep, tangent: linearTangentStep },
  rnn: { forward: TORCH_FORWARD_STEPS.rnn, tangent: TORCH_TANGENT_STEPS.rnn },
  rnn_relu: { forward: TORCH_FORWARD_STEPS.rnn_relu, tangent: TORCH_TANGENT_STEPS.rnn_relu },
  torch_gru: { forward: TORCH_FORWARD_STEPS.torch_gru, tangent: TORCH_TANGENT_STEPS.torch_gru },
  torch_lstm: { forward: TORCH_FORWARD_STEPS.torch_lstm, tangent: TORCH_TANGENT_STEPS.torch_lstm },
};

function tangentShader(v: TangentVariant, head: ShaderHead): string {
  const lstm = stateWidth(v.cell) === 2;
  if (v.cellTangent && !lstm) throw new Error(`tangent_${v.cell}: only lstm and torch_lstm have a cell-state tangent to write`);
  const hp = threadsPerSequence(v.hidden);
  const snippets = CELLS[v.cell];
  const context = stepContext(v.cell, v.layernorm);
  const outWeight = `params.${offsetField('out.weight')}`;
  return wgsl`
${recurrentPrelude(hp, head)}
${foldedRow}
${tangentPrelude(Boolean(v.inputTangent))}
${layerNormTangent}
${snippets.decls ?? ''}

${recurrentEntry(stateWidth(v.cell), head)}
  let state_base = seq * 2u * W * params.H + q;
  let tangent_base = state_base + W * params.H;
  var h0 = 0.0;
  var v0 = 0.0;
  if (live) {
    h0 = state[state_base];
    v0 = state[tangent_base];
  }
  hbuf[lid] = h0;
  vbuf[lid] = v0;
#if ${lstm}
  var c_state = 0.0;
  var c_dot = 0.0;
  if (live) {
    c_state = state[state_base + params.H];
    c_dot = state[tangent_base + params.H];
  }
#endif
  workgroupBarrier();

  for (var k = 0u; k < params.steps; k++) {
    let t = params.t0 + k;
    tt = t;
    let hq = hbuf[lid];
    let vq = vbuf[lid];
${snippets.forward(context)}
${snippets.tangent(context)}
    // ŷ̇_t = out.weight · v_t + ẇ_out · h_t + ḃ_out; the sum's barriers also end every read of hbuf and vbuf.
    let y_dot = seq_sum(lid, select(0.0, P[${outWeight} + q] * v_new + Pd[${outWeight} + q] * h_new, live));
    hbuf[lid] = select(0.0, h_new, live);
    vbuf[lid] = select(0.0, v_new, live);
    if (live) {
      let at = (seq * params.T + t) * params.H + q;
      v_out[at] = v_new;
#if ${v.cellTangent}
      vc_out[at] = c_dot;
#endif
    }
    if (q == 0u && seq < params.batch) { yhat_dot[seq * params.T + t] = y_dot + Pd[params.${offsetField('out.bias')}]; }
    workgroupBarrier();
  }

  if (live) {
    state[state_base] = hbuf[lid];
    state[tangent_base] = vbuf[lid];
#if ${lstm}
    state[state_base + params.H] = c_state;
    state[tangent_base + params.H] = c_dot;
#endif
  }
}
`;
}
