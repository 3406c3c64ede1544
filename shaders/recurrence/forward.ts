// Forward recurrence: a dispatch advances S sequences per workgroup through `steps` time steps, keeping their
// state in workgroup memory, and writes ŷ, optionally the SPEC §4 intermediates, and the state at chosen steps.
// The state at the dispatch's end goes back to `state` so the next dispatch (or a later call) continues from it.
import { wgsl } from 'wgsl-preprocessor/wgsl-preprocessor.js';
import { wgslStruct } from '../../src/gpu/layout.ts';
import { LAYERNORM_PREFIX, type CellKind } from '../../src/model/cells.ts';
import { foldedRow } from '../common.ts';
import { declareBindings, layerNormForward, recurrentPrelude, threadsPerSequence, type BindingDecl, recurrentEntry } from '../cells/common.ts';
import { leakyForwardStep } from '../cells/leaky.ts';
import { gruForwardStep } from '../cells/gru.ts';
import { lstmForwardStep } from '../cells/lstm.ts';
import { linearForwardStep } from '../cells/linear.ts';
import type { StepContext } from '../cells/step-context.ts';
import { offsetField, recurrentParams } from './params.ts';

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

/** Words of recurrent state per unit: h, plus c for lstm. */
export function stateWidth(cell: CellKind): number {
  return cell === 'lstm' ? 2 : 1;
}

export function forwardBindings(v: ForwardVariant): BindingDecl[] {
  return [
    { name: 'P', decl: 'var<storage, read> P: array<f32>' }, // flat parameters
    { name: 'x', decl: 'var<storage, read> x: array<f32>' }, // [B, T, D]
    { name: 'state', decl: 'var<storage, read_write> state: array<f32>' }, // [B, W, H]: state carried between dispatches
    { name: 'stored', decl: 'var<storage, read_write> stored: array<f32>' }, // [slots, B, W, H]: slot-major, so one slot is one copy
    { name: 'yhat', decl: 'var<storage, read_write> yhat: array<f32>' }, // [B, T]
    ...(v.intermediates ? [{ name: 'inter', decl: 'var<storage, read_write> inter: array<f32>' }] : []), // [n, B, T, H]
    { name: 'params', decl: 'var<uniform> params: RecurrentParams' },
  ];
}

const STEPS: Record<CellKind, (c: StepContext) => string> = {
  const: leakyForwardStep,
  shared: leakyForwardStep,
  diag: leakyForwardStep,
  gru: gruForwardStep,
  lstm: lstmForwardStep,
  linear: linearForwardStep,
};

/** Number of SPEC §4 terms each cell writes (the order of INTERMEDIATE_NAMES). */
export const INTERMEDIATE_COUNT: Record<CellKind, number> = { const: 3, shared: 3, diag: 3, gru: 4, lstm: 3, linear: 1 };

export function stepContext(cell: CellKind, layernorm: boolean): StepContext {
  return { cell, layernorm, lnPrefix: LAYERNORM_PREFIX[cell], o: (t) => `params.${offsetField(t)}` };
}

export function forwardShader(v: ForwardVariant): string {
  const hp = threadsPerSequence(v.hidden);
  const lstm = v.cell === 'lstm';
  const { schema } = recurrentParams(v);
  return wgsl`
${wgslStruct('RecurrentParams', schema)}
${declareBindings(forwardBindings(v))}
${foldedRow}
${recurrentPrelude(hp)}
${layerNormForward}

${recurrentEntry(stateWidth(v.cell))}
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
