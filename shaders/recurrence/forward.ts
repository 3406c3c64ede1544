// Forward recurrence: a dispatch advances S sequences per workgroup through `steps` time steps, keeping their
// state in workgroup memory, and writes ŷ, optionally the SPEC §4 intermediates, and the state at chosen steps.
// The state at the dispatch's end goes back to `state` so the next dispatch (or a later call) continues from it.
import { wgsl } from 'wgsl-preprocessor/wgsl-preprocessor.js';
import { defineProgram, type BindingDecl, type Program, type ShaderHead } from '../../src/gpu/program.ts';
import { INTERMEDIATE_COUNT, LAYERNORM_PREFIX, stateWidth, type CellKind } from '../../src/model/cells.ts';
import { foldedRow } from '../common.ts';
import { RECURRENT_WORKGROUP, layerNormForward, recurrentGrid, recurrentPrelude, threadsPerSequence, recurrentEntry } from '../cells/common.ts';
import { leakyForwardStep } from '../cells/leaky.ts';
import { gruForwardStep } from '../cells/gru.ts';
import { lstmForwardStep } from '../cells/lstm.ts';
import { linearForwardStep } from '../cells/linear.ts';
import type { StepContext } from '../cells/step-context.ts';
import { offsetField, recurrentUniform, type RecurrentSchema, type RecurrentUniforms } from './params.ts';

export interface ForwardVariant {
  cell: CellKind;
  layernorm: boolean;
  hidden: number;
  /** Write the SPEC §4 terms. */
  intermediates: boolean;
}

export function forwardVariantKey(v: ForwardVariant): string {
  return `${v.cell},${v.layernorm ? 'ln' : 'noln'},hp${threadsPerSequence(v.hidden)}${v.intermediates ? ',inter' : ''}`;
}

function forwardBindings(v: ForwardVariant): BindingDecl[] {
  return [
    { name: 'P', access: 'read', type: 'f32' }, // flat parameters
    { name: 'x', access: 'read', type: 'f32' }, // [B, T, D]
    { name: 'state', access: 'read_write', type: 'f32' }, // [B, W, H]: state carried between dispatches
    { name: 'stored', access: 'read_write', type: 'f32' }, // [slots, B, W, H]: slot-major, so one slot is one copy
    { name: 'yhat', access: 'read_write', type: 'f32' }, // [B, T]
    ...(v.intermediates ? [{ name: 'inter', access: 'read_write', type: 'f32' } as const] : []), // [n, B, T, H]
  ];
}

/** One dispatch advances the sequences by `steps` steps; rows of workgroups hold S sequences each. */
export function forwardProgram(v: ForwardVariant): Program<RecurrentSchema, RecurrentUniforms> {
  return defineProgram({
    name: `forward_${v.cell}`,
    variantKey: forwardVariantKey(v),
    bindings: forwardBindings(v),
    uniform: recurrentUniform(v),
    workgroupSize: [RECURRENT_WORKGROUP],
    dispatch: recurrentGrid(v.hidden),
    shader: (head) => forwardShader(v, head),
  });
}

const STEPS: Record<CellKind, (c: StepContext) => string> = {
  const: leakyForwardStep,
  shared: leakyForwardStep,
  diag: leakyForwardStep,
  gru: gruForwardStep,
  lstm: lstmForwardStep,
  linear: linearForwardStep,
};

export function stepContext(cell: CellKind, layernorm: boolean): StepContext {
  return { cell, layernorm, lnPrefix: LAYERNORM_PREFIX[cell], o: (t) => `params.${offsetField(t)}` };
}

function forwardShader(v: ForwardVariant, head: ShaderHead): string {
  const hp = threadsPerSequence(v.hidden);
  const lstm = v.cell === 'lstm';
  return wgsl`
${recurrentPrelude(hp, head)}
${foldedRow}
${layerNormForward}

${recurrentEntry(stateWidth(v.cell), head)}
  let state_base = seq * W * params.H + q;
  var h0 = 0.0;
  if (live) { h0 = state[state_base]; }
  hbuf[lid] = h0;
#if ${lstm}
  var c_state = 0.0;
  if (live) { c_state = state[state_base + params.H]; }
#endif
  workgroupBarrier();

  for (var k = 0u; k < params.steps; k++) {
    let t = params.t0 + k;
    load_x(lid, group, t);
    let hq = hbuf[lid];
${STEPS[v.cell](stepContext(v.cell, v.layernorm))}
    // ŷ_t = out.weight · h_t + out.bias; the sum's barriers also end every read of hbuf for this step.
    let y = seq_sum(lid, select(0.0, P[params.${offsetField('out.weight')} + q] * h_new, live));
    hbuf[lid] = select(0.0, h_new, live);
    if (live) {
      let rel = t + 1u - params.storeFrom;
      if (t + 1u >= params.storeFrom && rel % params.storeEvery == 0u) {
        let slot = rel / params.storeEvery - 1u;
        let base = ((slot * params.batch + seq) * W) * params.H + q;
        stored[base] = h_new;
#if ${lstm}
        stored[base + params.H] = c_state;
#endif
      }
#if ${v.intermediates}
      let plane = params.batch * params.T * params.H;
      let at = (seq * params.T + t) * params.H + q;
      for (var n = 0u; n < ${INTERMEDIATE_COUNT[v.cell]}u; n++) { inter[n * plane + at] = terms[n]; }
#endif
    }
    if (q == 0u && seq < params.batch) { yhat[seq * params.T + t] = y + P[params.${offsetField('out.bias')}]; }
    workgroupBarrier();
  }

  if (live) {
    state[state_base] = hbuf[lid];
#if ${lstm}
    state[state_base + params.H] = c_state;
#endif
  }
}
`;
}
