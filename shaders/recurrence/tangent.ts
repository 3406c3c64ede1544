// Tangent recurrence (SPEC §7): a dispatch advances the tile's sequences through `steps` time steps. Each step
// re-runs the cell's forward step (for its gates and h_t) and then its tangent step, which turns v_{t-1} into
// v_t = (dh_t/dθ)[w] along the direction w in `Pd` (same layout and offsets as `P`). It writes v_t, optionally the
// LSTM's ċ_t, and ŷ̇_t = out.weight · v_t + ẇ_out · h_t + ḃ_out. The state at the dispatch's end, [B, 2W, H] as
// (h, [c,] v, [ċ]), goes back to `state` so the next dispatch (or a later call) continues from it.
import { wgsl } from 'wgsl-preprocessor/wgsl-preprocessor.js';
import { defineProgram, type BindingDecl, type Program, type ShaderHead } from '../../src/gpu/program.ts';
import { stateWidth, type CellKind } from '../../src/model/cells.ts';
import { foldedRow } from '../common.ts';
import { WORKGROUP_FLOATS, sumCopies, tileArrayFloats, tileGrid, tileKey, tileSequences, tileUnits, tileVariantKey, type RowWeights, type Tile } from '../cells/tile.ts';
import { perComponent } from '../cells/tile-components.ts';
import { tilePrelude } from '../cells/prelude.ts';
import { tileShader } from '../cells/held-weights.ts';
import { leakyForwardStep } from '../cells/leaky.ts';
import { gruForwardStep } from '../cells/gru.ts';
import { lstmForwardStep } from '../cells/lstm.ts';
import type { StepContext } from '../cells/step-context.ts';
import { tangentPrelude } from '../cells/tangent/common.ts';
import { leakyTangentStep } from '../cells/tangent/leaky.ts';
import { gruTangentStep } from '../cells/tangent/gru.ts';
import { lstmTangentStep } from '../cells/tangent/lstm.ts';
import { linearForwardStep, linearTangentStep } from '../cells/linear.ts';
import { TORCH_FORWARD_STEPS, TORCH_TANGENT_STEPS } from '../cells/torch.ts';
import { loadState, stepContext, storeState, tileEntry } from './forward.ts';
import { offsetField, recurrentUniform, type RecurrentSchema, type RecurrentUniforms } from './params.ts';

export interface TangentVariant {
  cell: CellKind;
  layernorm: boolean;
  /** The thread tile (src/cells/tangent.ts: the training kernels' default tile for H, R = 1). */
  tile: Tile;
  /** Write the LSTM's cell-state tangent ċ_t (lstm only). */
  cellTangent: boolean;
  /** Also perturb the input at one step per sequence (lag recovery, SPEC §12); see tangentPrelude. */
  inputTangent?: boolean;
  /**
   * How P and Pd hold the unit-row matrices (shaders/cells/tile.ts): by columns, copies made per call (the training
   * kernels' layout for the cell), or by rows (absent: the parameters and direction as they are). Same bits.
   */
  rows?: RowWeights['layout'];
}

export function tangentVariantKey(v: TangentVariant): string {
  return `${v.cell},${v.layernorm ? 'ln' : 'noln'},${tileVariantKey(v.tile)}${v.cellTangent ? ',vc' : ''}${v.inputTangent ? ',xdot' : ''}${v.rows === 'columns' ? ',cols' : ''}`;
}

/** Floats of workgroup memory of the tangent kernel on `tile`: hbuf, abuf, red and vbuf. */
export function tangentWorkgroupFloats(tile: Tile): number {
  return tileArrayFloats(tile) + tileSequences(tile) * tileUnits(tile);
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
  if (tangentWorkgroupFloats(v.tile) > WORKGROUP_FLOATS) throw new RangeError(`tangent_${v.cell}: tile ${tileKey(v.tile)} needs ${tangentWorkgroupFloats(v.tile)} floats of workgroup memory, over ${WORKGROUP_FLOATS}`);
  return defineProgram({
    name: `tangent_${v.cell}`,
    variantKey: tangentVariantKey(v),
    bindings: tangentBindings(v),
    uniform: recurrentUniform(v),
    workgroupSize: [v.tile.threads],
    dispatch: tileGrid(v.tile),
    shader: (head) => tileShader(v.tile, { layout: v.rows ?? 'rows', buffer: 'P' }, tangentShader(v, head)),
  });
}

interface CellSnippets {
  forward: (c: StepContext) => string;
  tangent: (c: StepContext) => string;
}

const CELLS: Record<CellKind, CellSnippets> = {
  const: { forward: leakyForwardStep, tangent: leakyTangentStep },
  shared: { forward: leakyForwardStep, tangent: leakyTangentStep },
  diag: { forward: leakyForwardStep, tangent: leakyTangentStep },
  gru: { forward: gruForwardStep, tangent: gruTangentStep },
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
  const { tile } = v;
  const snippets = CELLS[v.cell];
  const context = stepContext(v.cell, v.layernorm);
  const outWeight = `params.${offsetField('out.weight')}`;
  // state [B, 2W, H]: h[, c] in words 0..W-1, then v[, ċ]
  const slot = (seq: string) => seq;
  return wgsl`
${head.declarations}
${foldedRow}
${tilePrelude(tile, { arrays: true, rows: { layout: v.rows ?? 'rows', buffer: 'P' }, sumValues: v.layernorm ? sumCopies(tile, 2, tileSequences(tile) * tileUnits(tile)) : 1 })}
${tangentPrelude(tile, Boolean(v.inputTangent), v.rows ?? 'rows')}
const W: u32 = ${2 * stateWidth(v.cell)}u;

${tileEntry(head)}
${loadState(tile, 'h0', 'state', slot, 0)}
${loadState(tile, 'v0', 'state', slot, stateWidth(v.cell))}
  put_h(h0);
  put_v(v0);
#if ${lstm}
${loadState(tile, 'c_state', 'state', slot, 1)}
${loadState(tile, 'c_dot', 'state', slot, 3)}
#endif
  workgroupBarrier();

  for (var k = 0u; k < params.steps; k++) {
    let t = params.t0 + k;
    tt = t;
    let hq = get_h();
    let vq = get_v();
${snippets.forward(context)}
${snippets.tangent(context)}
    // ŷ̇_t = out.weight · v_t + ẇ_out · h_t + ḃ_out; the sum's barriers also end every read of hbuf and vbuf.
    let y_dot = unit_sum(select(V(0.0), pu(${outWeight}) * v_new + pdu(${outWeight}) * h_new, live));
    put_h(select(V(0.0), h_new, live));
    put_v(select(V(0.0), v_new, live));
${perComponent(tile, ({ unit, seq, comp }) => `    if (${seq} < params.batch && ${unit} < params.H) {
      let at = (${seq} * params.T + t) * params.H + ${unit};
      v_out[at] = ${comp('v_new')};${v.cellTangent ? `
      vc_out[at] = ${comp('c_dot')};` : ''}
    }`)}
${perComponent(tile, ({ k, seq, comp }) => (k === 0 ? `    if (tq == 0u && ${seq} < params.batch) { yhat_dot[${seq} * params.T + t] = ${comp('y_dot')} + Pd[params.${offsetField('out.bias')}]; }` : ''))}
    workgroupBarrier();
  }

  let h_end = get_h();
  let v_end = get_v();
${storeState(tile, 'h_end', 'state', slot, 0)}
${storeState(tile, 'v_end', 'state', slot, stateWidth(v.cell))}
#if ${lstm}
${storeState(tile, 'c_state', 'state', slot, 1)}
${storeState(tile, 'c_dot', 'state', slot, 3)}
#endif
}
`;
}
