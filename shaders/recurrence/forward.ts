// Forward recurrence: a dispatch advances the workgroup's sequences through `steps` time steps, keeping their
// state in workgroup memory, and writes ŷ, optionally the SPEC §4 intermediates, and the state at chosen steps.
// The state at the dispatch's end goes back to `state` so the next dispatch (or a later call) continues from it.
// Each thread computes the tile's R sequences × K units (shaders/cells/tile.ts).
import { wgsl } from 'wgsl-preprocessor/wgsl-preprocessor.js';
import { defineProgram, type BindingDecl, type Program, type ShaderHead } from '../../src/gpu/program.ts';
import { INTERMEDIATE_COUNT, LAYERNORM_PREFIX, stateWidth, type CellKind } from '../../src/model/cells.ts';
import { foldedRow } from '../common.ts';
import { leakyForwardStep } from '../cells/leaky.ts';
import { gruForwardStep } from '../cells/gru.ts';
import { lstmForwardStep } from '../cells/lstm.ts';
import { linearForwardStep } from '../cells/linear.ts';
import { TORCH_FORWARD_STEPS } from '../cells/torch.ts';
import type { StepContext } from '../cells/step-context.ts';
import { KEPT_FIELD, dotCount, keepDots, keepDotsWgsl } from '../cells/replay.ts';
import { HELD_WEIGHTS, tileShader } from '../cells/held-weights.ts';
import { sumCopies, tileGrid, tileKey, tileWidth, tileVariantKey, type RowWeights, type Tile } from '../cells/tile.ts';
import { perComponent } from '../cells/tile-components.ts';
import { tilePrelude } from '../cells/prelude.ts';
import { valuesSummedTogether } from '../cells/unit-sum.ts';
import { offsetField, recurrentUniform, type RecurrentSchema, type RecurrentUniforms } from './params.ts';

export interface ForwardVariant {
  cell: CellKind;
  layernorm: boolean;
  tile: Tile;
  /** Write the SPEC §4 terms. */
  intermediates: boolean;
  /** K: outputs of the readout out.weight [K, H] (SPEC §13); absent: 1, ŷ [B, T]. */
  outputs?: number;
  /** P holds the weights by columns (src/cells/weights.ts); absent: by rows, the parameters as they are. */
  rows?: RowWeights['layout'];
  /** Also keep every dot product and sum over units of each step in `kept`, for the backward to replay (shaders/cells/replay.ts). */
  keepDots?: boolean;
}

export function forwardVariantKey(v: ForwardVariant): string {
  return `${v.cell},${v.layernorm ? 'ln' : 'noln'},${tileVariantKey(v.tile)}${v.intermediates ? ',inter' : ''}${readoutKey(v.outputs)}${rowsKey(v.rows)}${v.keepDots ? ',keep' : ''}`;
}

/** The variant-key suffix of the row helpers' weight layout ('' by rows). */
export function rowsKey(rows: RowWeights['layout'] | undefined): string {
  return rows === 'columns' ? ',wcols' : '';
}

/** The variant-key suffix of a K-output readout ('' for the scalar readout, so those keys stay as they were). */
export function readoutKey(outputs: number | undefined): string {
  return (outputs ?? 1) === 1 ? '' : `,k${outputs}`;
}

/**
 * ŷ_t [K] = out.weight h_t + out.bias for K > 1, written to yhat [B, T, K] as each output's sum completes (its
 * barriers also end every read of hbuf for this step). The scalar readout keeps its own lines in the shader.
 */
function readoutOutputs(tile: Tile, outputs: number): string {
  return `    for (var ko = 0u; ko < ${outputs}u; ko++) {
      let y = unit_sum(select(V(0.0), pu(params.${offsetField('out.weight')} + ko * params.H) * h_new, live));
${perComponent(tile, ({ k, seq, lead, comp }) => (k === 0 ? `      if (${lead}tq == 0u && ${seq} < params.batch) { yhat[(${seq} * params.T + t) * ${outputs}u + ko] = ${comp('y')} + P[params.${offsetField('out.bias')} + ko]; }` : ''))}
    }`;
}

function forwardBindings(v: ForwardVariant): BindingDecl[] {
  return [
    { name: 'P', access: 'read', type: 'f32' }, // flat parameters (by columns with rows = 'columns': src/cells/weights.ts)
    { name: 'x', access: 'read', type: 'f32' }, // [B, T, D]
    { name: 'state', access: 'read_write', type: 'f32' }, // [B, W, H]: state carried between dispatches
    { name: 'stored', access: 'read_write', type: 'f32' }, // [slots, B, W, H]: slot-major, so one slot is one copy
    { name: 'yhat', access: 'read_write', type: 'f32' }, // [B, T] ([B, T, K] with K outputs)
    ...(v.intermediates ? [{ name: 'inter', access: 'read_write', type: 'f32' } as const] : []), // [n, B, T, H]
    ...(v.keepDots ? [{ name: 'kept', access: 'read_write', type: 'f32' } as const] : []), // this dispatch's steps of [steps, B, ND, H]
  ];
}

/** One dispatch advances the sequences by `steps` steps; rows of workgroups hold the tile's sequences each. */
export function forwardProgram(v: ForwardVariant): Program<RecurrentSchema, RecurrentUniforms> {
  return defineProgram({
    name: `forward_${v.cell}`,
    variantKey: forwardVariantKey(v),
    bindings: forwardBindings(v),
    uniform: recurrentUniform(v, v.keepDots ? KEPT_FIELD : {}),
    workgroupSize: [v.tile.threads],
    dispatch: tileGrid(v.tile),
    shader: (head) => tileShader(v.tile, { layout: v.rows ?? 'rows', buffer: 'P' }, forwardShader(v, head)),
  });
}

export const FORWARD_STEPS: Record<CellKind, (c: StepContext) => string> = {
  const: leakyForwardStep,
  shared: leakyForwardStep,
  diag: leakyForwardStep,
  gru: gruForwardStep,
  lstm: lstmForwardStep,
  linear: linearForwardStep,
  ...TORCH_FORWARD_STEPS,
};

/** Values the training forward keeps per unit and step of `cell`: its dot products and sums over units (shaders/cells/replay.ts). */
export function forwardDots(cell: CellKind, layernorm: boolean): number {
  return dotCount(FORWARD_STEPS[cell](stepContext(cell, layernorm)));
}

export function stepContext(cell: CellKind, layernorm: boolean, resident?: number): StepContext {
  return { cell, layernorm, lnPrefix: LAYERNORM_PREFIX[cell], o: (t) => `params.${offsetField(t)}`, resident };
}

/**
 * The opening of a tiled recurrent kernel's entry point: the tile's coordinates, `live` (the components on real
 * units) and `ok(r)` (sequence r of the thread's group is in the batch). The body follows and closes the function.
 */
export function tileEntry(head: ShaderHead): string {
  return /* wgsl */ `
@compute @workgroup_size(${head.workgroupSize})
fn main(@builtin(workgroup_id) wg: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  tile_init(lid, folded_row(wg, nwg));
  ${HELD_WEIGHTS}
  let live = unit_live();`;
}

/** WGSL reading a [·, B, W, H]-shaped state word `word` of every component at `slotExpr` into V `name`. */
export function loadState(tile: Tile, name: string, buffer: string, slot: (seq: string) => string, word: number, guard = 'true'): string {
  return `  var ${name} = V(0.0);
${perComponent(tile, ({ unit, seq, c }) => `  if (${guard} && ${seq} < params.batch && ${unit} < params.H) { ${tileWidth(tile) === 1 ? name : `${name}[${c}]`} = ${buffer}[((${slot(seq)}) * W + ${word}u) * params.H + ${unit}]; }`)}`;
}

/** WGSL storing V `value` into word `word` of a [·, B, W, H]-shaped buffer for every live component. */
export function storeState(tile: Tile, value: string, buffer: string, slot: (seq: string) => string, word: number): string {
  return perComponent(tile, ({ unit, seq, lead, comp }) => `  if (${lead}${seq} < params.batch && ${unit} < params.H) { ${buffer}[((${slot(seq)}) * W + ${word}u) * params.H + ${unit}] = ${comp(value)}; }`);
}

function forwardShader(v: ForwardVariant, head: ShaderHead): string {
  const { tile } = v;
  const lstm = stateWidth(v.cell) === 2; // a cell state c beside h (lstm, torch_lstm)
  const W = stateWidth(v.cell);
  const stateSlot = (seq: string) => seq;
  const storedSlot = (seq: string) => `slot * params.batch + ${seq}`;
  const outputs = v.outputs ?? 1;
  const scalar = outputs === 1;
  // With LayerNorm, the scalar readout of a step is summed beside the next step's LayerNorm mean (candidateNorm), the
  // same sum with none of its own barriers (LayerNorm's end the step's reads of hbuf); the dispatch's last is summed
  // after its loop.
  const deferred = scalar ? FORWARD_STEPS[v.cell]({ ...stepContext(v.cell, v.layernorm), readout: { name: 'y_prev', value: 'y_terms' } }) : '';
  const defer = deferred.includes('y_prev');
  const forwardStep = defer ? deferred : FORWARD_STEPS[v.cell](stepContext(v.cell, v.layernorm));
  const sums = valuesSummedTogether(forwardStep);
  const yhatAt = (step: string, value: string, indent: string) =>
    perComponent(tile, ({ k, seq, lead, comp }) => (k === 0 ? `${indent}if (${lead}tq == 0u && ${seq} < params.batch) { yhat[${seq} * params.T + ${step}] = ${comp(value)} + P[params.${offsetField('out.bias')}]; }` : ''));
  return wgsl`
${head.declarations}
${foldedRow}
${tilePrelude(tile, { arrays: true, rows: { layout: v.rows ?? 'rows', buffer: 'P' }, sumValues: sums > 1 ? sumCopies(tile, sums, 0) : 1 })}
const W: u32 = ${W}u;
${v.keepDots ? keepDotsWgsl(tile, dotCount(forwardStep)) : ''}

${tileEntry(head)}
${loadState(tile, 'h0', 'state', stateSlot, 0)}
  put_h(h0);
#if ${lstm}
${loadState(tile, 'c_state', 'state', stateSlot, 1)}
#endif
  workgroupBarrier();
#if ${defer}
  var y_terms = V(0.0); // the readout's terms of the step before (none before the first)
#endif

  for (var k = 0u; k < params.steps; k++) {
    let t = params.t0 + k;
    tt = t;
    let hq = get_h();
${v.keepDots ? keepDots(forwardStep) : forwardStep}
#if ${defer}
    // ŷ_{t-1}, summed with this step's LayerNorm mean; then the terms of ŷ_t.
    if (k > 0u) {
${yhatAt('t - 1u', 'y_prev', '      ')}
    }
    y_terms = select(V(0.0), pu(params.${offsetField('out.weight')}) * h_new, live);
#elif ${scalar}
    // ŷ_t = out.weight · h_t + out.bias; the sum's barriers also end every read of hbuf for this step.
    let y = unit_sum(select(V(0.0), pu(params.${offsetField('out.weight')}) * h_new, live));
#else
${readoutOutputs(tile, outputs)}
#endif
    put_h(select(V(0.0), h_new, live));
    let rel = t + 1u - params.storeFrom;
    if (t + 1u >= params.storeFrom && rel % params.storeEvery == 0u) {
      let slot = rel / params.storeEvery - 1u;
${storeState(tile, 'h_new', 'stored', storedSlot, 0)}
#if ${lstm}
${storeState(tile, 'c_state', 'stored', storedSlot, 1)}
#endif
    }
#if ${v.intermediates}
    let plane = params.batch * params.T * params.H;
${perComponent(tile, ({ unit, seq, lead, comp }) => `    if (${lead}${seq} < params.batch && ${unit} < params.H) {
      for (var n = 0u; n < ${INTERMEDIATE_COUNT[v.cell]}u; n++) { inter[n * plane + (${seq} * params.T + t) * params.H + ${unit}] = ${comp('terms[n]')}; }
    }`)}
#endif
#if ${scalar && !defer}
${yhatAt('t', 'y', '    ')}
#endif
    workgroupBarrier();
  }
#if ${defer}
  let y_last = unit_sum(y_terms); // ŷ of the dispatch's last step
${yhatAt('params.t0 + params.steps - 1u', 'y_last', '  ')}
#endif

  let hq_end = get_h();
${storeState(tile, 'hq_end', 'state', stateSlot, 0)}
#if ${lstm}
${storeState(tile, 'c_state', 'state', stateSlot, 1)}
#endif
}
`;
}
