// Backward recurrence (BPTT): steps run in reverse; each recomputes its forward step from the stored state before
// it (the same WGSL as the forward kernel), then runs the cell's adjoint. It writes, per (sequence, step), the
// pre-activation adjoints of every gate block, and gru's r ⊙ h_{t-1} (operandNames); weight gradients are then
// batched reductions over them and the stored states, h_{t-1} and h_t (src/cells/gradients.ts). LayerNorm's
// per-unit terms it sums over the steps itself, per sequence (LN_PLANES).
// The adjoint of the state at the dispatch's start goes back to `adj` for the next (earlier) dispatch.
// Each thread computes the tile's R sequences × K units (shaders/cells/tile.ts).
import { wgsl } from 'wgsl-preprocessor/wgsl-preprocessor.js';
import { defineProgram, type BindingDecl, type Program, type ShaderHead } from '../../src/gpu/program.ts';
import { stateWidth, type CellKind } from '../../src/model/cells.ts';
import { foldedRow } from '../common.ts';
import { leakyBackwardStep } from '../cells/leaky.ts';
import { gruBackwardStep } from '../cells/gru.ts';
import { lstmBackwardStep } from '../cells/lstm.ts';
import { linearBackwardStep } from '../cells/linear.ts';
import { TORCH_BACKWARD_STEPS } from '../cells/torch.ts';
import type { StepContext } from '../cells/step-context.ts';
import { backwardTile, tileShader } from '../cells/held-weights.ts';
import { residentBlocks, sumCopies, tileGrid, tileKey, tileSequences, tileUnits, tileWidth, tileVariantKey, type RowWeights, type Tile } from '../cells/tile.ts';
import { perComponent } from '../cells/tile-components.ts';
import { tilePrelude } from '../cells/prelude.ts';
import { valuesSummedTogether } from '../cells/unit-sum.ts';
import { NO_SLOT, offsetField, recurrentUniform, type RecurrentSchema, type RecurrentUniforms } from './params.ts';
import { KEPT_FIELD, dotCount, replayDots, replayDotsWgsl } from '../cells/replay.ts';
import { FORWARD_STEPS, loadState, readoutKey, rowsKey, stepContext, storeState, tileEntry } from './forward.ts';

export interface BackwardVariant {
  cell: CellKind;
  layernorm: boolean;
  tile: Tile;
  /** K: outputs of the readout (dy is [B, T, K]); absent: 1. */
  outputs?: number;
  /** PT holds the weights by columns (src/cells/weights.ts); absent: by rows (PT is P). */
  rows?: RowWeights['layout'];
  /**
   * Where the loss reaches h_t: 'readout' (default), dy is ∂L/∂ŷ and out.weight carries it to h; 'hidden', dy is
   * ∂L/∂h_t [B, T, H] itself, the error a layer of a stack gets from the layer above (SPEC §13).
   */
  errors?: 'readout' | 'hidden';
  /**
   * Same-step adjoints only: nothing is carried to the step before, so each step's blocks are the adjoint of that
   * step alone given dy_t (SPEC §13's δ^{(k)}, chained through the same-step input Jacobians).
   */
  local?: boolean;
  /**
   * Read the recomputed forward step's dot products and sums over units back from `kept`, where the training
   * forward kept them (ForwardVariant.keepDots; shaders/cells/replay.ts), instead of computing them again.
   */
  replay?: boolean;
}

export function backwardVariantKey(v: BackwardVariant): string {
  const stack = `${v.errors === 'hidden' ? ',dh' : ''}${v.local ? ',local' : ''}${v.replay ? ',replay' : ''}`;
  return `${v.cell},${v.layernorm ? 'ln' : 'noln'},${tileVariantKey(v.tile)}${readoutKey(v.outputs)}${rowsKey(v.rows)}${stack}`;
}

/** Gate blocks per cell, in the order the adjoint snippets fill `blocks`. */
export const GATE_BLOCKS: Record<CellKind, readonly string[]> = {
  const: ['g'],
  shared: ['g', 's'],
  diag: ['g', 's'],
  gru: ['z', 'r', 'g'],
  lstm: ['i', 'f', 'o', 'g'],
  linear: ['a'], // the state's own pre-activation
  // PyTorch's layers in their row-block order; torch_gru's `m` is the hidden n rows' adjoint r ⊙ ∂L/∂a_n
  rnn: ['h'],
  rnn_relu: ['h'],
  torch_gru: ['r', 'z', 'n', 'm'],
  torch_lstm: ['i', 'f', 'g', 'o'],
};

/**
 * Gate blocks whose adjoint is one value per sequence and step (a sum over units), the same on every unit: the
 * backward writes it on unit 0 alone, the row its gate's one-row weights' gradients read.
 */
export const FIRST_UNIT_BLOCKS: Partial<Record<CellKind, readonly string[]>> = { shared: ['s'] };

/** Blocks of the adjoint buffer per (sequence, step): the gate blocks. */
export function adjointBlocks(cell: CellKind): string[] {
  return [...GATE_BLOCKS[cell]];
}

/**
 * LayerNorm's weight and bias gradients are sums over (sequence, step) of per-unit terms (dln_w = ∂L/∂g̃ ⊙ n̂,
 * dln_b = ∂L/∂g̃). Instead of writing them at every step for a reduction after BPTT, each thread sums its own
 * sequences' terms over the steps in registers (Kahan-compensated, steps in the walk's order) and carries the sums
 * from dispatch to dispatch in planes after the adjoint blocks in `deltas`: [4][B][H], the weight term's sum and
 * compensation, then the bias term's. The walk's first dispatch (the one that ends at step T) starts from zero, and
 * its last (from step 0) leaves each total, sum minus compensation, in planes 0 and 2: the weight gradients then
 * sum those over the B sequences (src/cells/gradients.ts). A checkpointed pass walks the same steps in the same
 * order, so both give the same bits.
 */
export const LN_PLANES = 4;

/** Floats of `deltas` for B sequences, `slots` steps and H units: the adjoint blocks, then LayerNorm's planes. */
export function deltasFloats(cell: CellKind, layernorm: boolean, batch: number, slots: number, hidden: number): number {
  return batch * (slots * adjointBlocks(cell).length + (layernorm ? LN_PLANES : 0)) * hidden;
}

/**
 * Vectors the backward keeps per (sequence, step) for the weight gradients, besides the states they read as stored
 * (h_{t-1} and h_t): gru's r ⊙ h_{t-1}, which its candidate's U multiplied.
 */
export function operandNames(cell: CellKind): string[] {
  return cell === 'gru' ? ['rh'] : [];
}

/**
 * Slots of a BPTT segment's states buffer [slots, B, W, H] for k steps: the state after each, then the state before
 * the first (startSlot k): zero for the segment from step 0, else the checkpoint before it.
 */
export function startStateSlots(k: number): number {
  return k + 1;
}

const BACKWARD_BINDINGS: readonly BindingDecl[] = [
  { name: 'P', access: 'read', type: 'f32' },
  { name: 'PT', access: 'read', type: 'f32' }, // the row helpers' weights (src/cells/weights.ts; P itself by rows)
  { name: 'x', access: 'read', type: 'f32' }, // [B, T, D]
  { name: 'dy', access: 'read', type: 'f32' }, // [B, T] ([B, T, K] with K outputs): ∂L/∂ŷ
  // [slots, B, W, H]: the state after step storeFrom + slot; slot startSlot, unless NO_SLOT (the zero state), holds
  // the state before step storeFrom (BPTT: a slot after the others, where the host puts the segment's checkpoint)
  { name: 'states', access: 'read', type: 'f32' },
  { name: 'adj', access: 'read_write', type: 'f32' }, // [B, W, H]: the adjoint of the state, carried between dispatches
  { name: 'deltas', access: 'read_write', type: 'f32' }, // [B, segment steps, blocks, H]
  { name: 'ops', access: 'read_write', type: 'f32' }, // [B, segment steps, operands, H]: gru's alone (operandNames)
];

/**
 * The backward's storage bindings. Replayed, it reads neither the row helpers' weights nor x (no cell's adjoint
 * calls a row helper), so `kept` takes their place. A cell without operands (operandNames) binds no `ops`.
 */
export function backwardBindings(v: BackwardVariant): BindingDecl[] {
  const bindings = operandNames(v.cell).length > 0 ? BACKWARD_BINDINGS : BACKWARD_BINDINGS.filter((b) => b.name !== 'ops');
  if (!v.replay) return [...bindings];
  if (ROW_HELPER.test(BACKWARD_STEPS[v.cell](stepContext(v.cell, v.layernorm)))) throw new Error(`backward_${v.cell}: its adjoint calls a row helper, so it cannot replay (no binding is left for kept values)`);
  return [...bindings.filter((b) => b.name !== 'PT' && b.name !== 'x'), { name: 'kept', access: 'read', type: 'f32' }];
}

/** A call of a row helper (shaders/cells/tile.ts): what reads h_{t-1} from hbuf, the weights from PT, or x. */
const ROW_HELPER = /\brow_(h|a|x|x0)\(/;

/** One dispatch walks `steps` steps backwards; rows of workgroups hold the tile's sequences each. */
export function backwardProgram(variant: BackwardVariant): Program<RecurrentSchema, RecurrentUniforms> {
  const v = { ...variant, tile: backwardTile(variant.tile) }; // a tile held in the forward only streams here
  if (residentBlocks(v.tile) < 1) throw new RangeError(`backward_${v.cell}: tile ${tileKey(v.tile)} leaves no workgroup memory for an adjoint block`);
  return defineProgram({
    name: `backward_${v.cell}`,
    variantKey: backwardVariantKey(v),
    bindings: backwardBindings(v),
    uniform: recurrentUniform(v, v.replay ? KEPT_FIELD : {}),
    workgroupSize: [v.tile.threads],
    dispatch: tileGrid(v.tile),
    shader: (head) => tileShader(v.tile, { layout: v.rows ?? 'rows', buffer: 'PT' }, backwardShader(v, head)),
  });
}

export const BACKWARD_STEPS: Record<CellKind, (c: StepContext) => string> = {
  const: leakyBackwardStep, shared: leakyBackwardStep, diag: leakyBackwardStep, gru: gruBackwardStep, lstm: lstmBackwardStep, linear: linearBackwardStep,
  ...TORCH_BACKWARD_STEPS,
};

/**
 * Whether a backward step needs a barrier at its end. After its last barrier a step reads only what col_d reads (dbuf,
 * and a split unit's partials) and unit_sum's last level (rtop, a set of its own per call); before its first
 * barrier the next step writes hbuf (put_h, recomputing) and then whatever its adjoint writes first. Where that is
 * a sum over units (LayerNorm's, shared's gate: red), nothing written before a barrier is read after one, so the loop
 * needs no barrier of its own: one fewer a step. Where it is put_d, the barrier keeps dbuf from being overwritten under the col_d before it.
 */
export function needsEndBarrier(backwardStep: string): boolean {
  const at = (pattern: RegExp) => pattern.exec(backwardStep)?.index ?? Infinity;
  return !(at(/\b(layer_norm_backward(_and)?|unit_sums?[23]?)\(/) < at(/\bput_d\(/));
}

function backwardShader(v: BackwardVariant, head: ShaderHead): string {
  const { tile } = v;
  const lstm = stateWidth(v.cell) === 2;
  const resident = residentBlocks(tile);
  const ctx = stepContext(v.cell, v.layernorm, resident);
  const blocks = adjointBlocks(v.cell);
  const gates = GATE_BLOCKS[v.cell].length;
  const operands = operandNames(v.cell);
  const n = tileWidth(tile);
  const set = (name: string, c: number) => (n === 1 ? name : `${name}[${c}]`);
  const outputs = v.outputs ?? 1;
  const forwardStep = FORWARD_STEPS[v.cell](ctx);
  const backwardStep = BACKWARD_STEPS[v.cell](ctx);
  // dbuf holds the adjoint blocks the step puts there (columnProducts: at most `resident`), and the room left takes
  // copies of unit_sum's scratch for LayerNorm's sums side by side (layer_norm_backward: two; shared's: three).
  const dbufBlocks = Math.max(1, ...[...backwardStep.matchAll(/\bput_d\((\d+)u/g)].map((m) => Number(m[1]) + 1));
  const sums = valuesSummedTogether(backwardStep);
  const copies = sumCopies(tile, sums, dbufBlocks * tileSequences(tile) * tileUnits(tile));
  // Replayed, the forward step reads no h_{t-1} from hbuf (its dot products were the only readers).
  const putH = !v.replay;
  const endBarrier = needsEndBarrier(backwardStep);
  // The state before step t (slot before_slot: see the binding `states`).
  const before = (word: number, name: string) => `  var ${name} = V(0.0);
${perComponent(tile, ({ c, unit, seq }) => `  if (before_slot != ${NO_SLOT}u && ${seq} < params.batch && ${unit} < params.H) { ${set(name, c)} = states[((before_slot * params.batch + ${seq}) * W + ${word}u) * params.H + ${unit}]; }`)}`;
  // A block the same on every unit (shared's s, a sum over units) is written on unit 0 alone: its gradients' one-row
  // W and U read that row only (src/cells/gradients.ts), so the others would be stores nothing reads.
  const write = (buffer: string, width: number, index: number, value: string, firstUnit = false) =>
    perComponent(tile, ({ unit, seq, lead, comp }) => `    if (${lead}${seq} < params.batch && ${unit} ${firstUnit ? '== 0u' : '< params.H'}) { ${buffer}[((${seq} * params.slots + t - params.storeFrom) * ${width}u + ${index}u) * params.H + ${unit}] = ${comp(value)}; }`);
  const firstUnit = FIRST_UNIT_BLOCKS[v.cell] ?? [];
  // LayerNorm's sums (LN_PLANES): plane j [B][H] after the adjoint blocks, loaded (when `guard`) and stored.
  const lnSums = ['lnw_s', 'lnw_c', 'lnb_s', 'lnb_c'];
  const lnAt = (j: number, seq: string, unit: string) => `deltas[(params.batch * params.slots * ${blocks.length}u + ${j}u * params.batch + ${seq}) * params.H + ${unit}]`;
  const lnLoads = (guard: string) => lnSums.map((name, j) => `  var ${name} = V(0.0);
${perComponent(tile, ({ c, unit, seq }) => `  if (${guard} && ${seq} < params.batch && ${unit} < params.H) { ${set(name, c)} = ${lnAt(j, seq, unit)}; }`)}`).join('\n');
  const lnStores = lnSums.map((name, j) => perComponent(tile, ({ unit, seq, lead, comp }) => `  if (${lead}${seq} < params.batch && ${unit} < params.H) { ${lnAt(j, seq, unit)} = ${comp(name)}; }`)).join('\n');
  return wgsl`
${head.declarations}
${foldedRow}
${tilePrelude(tile, { arrays: true, dbufBlocks, sumValues: copies, rows: v.replay ? 'none' : { layout: v.rows ?? 'rows', buffer: 'PT' } })}
const W: u32 = ${stateWidth(v.cell)}u;
${v.replay ? replayDotsWgsl(tile, dotCount(forwardStep)) : ''}

// Adjoint of LayerNorm's normalisation: given dn = ∂L/∂n̂ per unit, ∂L/∂a = (dn - mean(dn) - n̂·mean(dn·n̂)) / σ.
// The two means are independent: one unit_sums2 sums both.
fn layer_norm_backward(dn: V, n: V, inv_std: V, live: M) -> V {
  let inv_h = 1.0 / f32(params.H);
  let m = unit_sums2(select(V(0.0), dn, live), select(V(0.0), dn * n, live));
  return inv_std * (dn - m[0] * inv_h - n * (m[1] * inv_h));
}

struct LnBackward { da: V, sum: V }

// layer_norm_backward's ∂L/∂a, and the sum over units of \`extra\` (shared's gate), summed with its means.
fn layer_norm_backward_and(dn: V, n: V, inv_std: V, live: M, extra: V) -> LnBackward {
  let inv_h = 1.0 / f32(params.H);
  let m = unit_sums3(select(V(0.0), dn, live), select(V(0.0), dn * n, live), extra);
  return LnBackward(inv_std * (dn - m[0] * inv_h - n * (m[1] * inv_h)), m[2]);
}

// Kahan-compensated s += x, c the compensation (the total is s - c).
fn kahan_add(s: ptr<function, V>, c: ptr<function, V>, x: V) {
  let y = x - *c;
  let t = *s + y;
  *c = (t - *s) - y;
  *s = t;
}

${tileEntry(head)}
${loadState(tile, 'dh_carry', 'adj', (seq) => seq, 0)}
#if ${v.layernorm}
  // LayerNorm's gradient terms summed over the steps (LN_PLANES), carried on from the dispatch before in the walk.
  let ln_carry = params.t0 + params.steps < params.T;
${lnLoads('ln_carry')}
#endif
#if ${lstm}
${loadState(tile, 'dc_carry', 'adj', (seq) => seq, 1)}
#else
  var dc_carry = V(0.0);
#endif

  for (var k = 0u; k < params.steps; k++) {
    let t = params.t0 + params.steps - 1u - k;
    tt = t;
    let before_slot = select(params.startSlot, t - 1u - params.storeFrom, t > params.storeFrom);
${before(0, 'h_before')}
#if ${lstm}
${before(1, 'c_state')}
#endif
#if ${putH}
    put_h(h_before);
    workgroupBarrier();
#endif
    let hq = h_before;
${v.replay ? replayDots(forwardStep) : forwardStep}
${v.errors === 'hidden' ? `    // ∂L/∂h_t from the layer above (SPEC §13), [B, T, H]
    var dy_h = V(0.0);
${perComponent(tile, ({ c, seq, unit }) => `    if (${seq} < params.batch && ${unit} < params.H) { ${set('dy_h', c)} = dy[(${seq} * params.T + t) * params.H + ${unit}]; }`)}
    let dh = select(V(0.0), dh_carry + dy_h, live);` : outputs === 1 ? `    var dy_t = V(0.0);
${perComponent(tile, ({ c, seq }) => `    if (${seq} < params.batch) { ${set('dy_t', c)} = dy[${seq} * params.T + t]; }`)}
    let dh = select(V(0.0), dh_carry + dy_t * pu(params.${offsetField('out.weight')}), live);` : `    // ∂L/∂h_t from the readout: out.weightᵀ ∂L/∂ŷ_t over the K outputs (SPEC §13)
    var dy_out = V(0.0);
    for (var ko = 0u; ko < ${outputs}u; ko++) {
      var dy_t = V(0.0);
${perComponent(tile, ({ c, seq }) => `      if (${seq} < params.batch) { ${set('dy_t', c)} = dy[(${seq} * params.T + t) * ${outputs}u + ko]; }`)}
      dy_out += dy_t * pu(params.${offsetField('out.weight')} + ko * params.H);
    }
    let dh = select(V(0.0), dh_carry + dy_out, live);`}
${backwardStep}
${blocks.slice(0, gates).map((b, i) => write('deltas', blocks.length, i, `blocks[${i}]`, firstUnit.includes(b))).join('\n')}
#if ${v.layernorm}
    kahan_add(&lnw_s, &lnw_c, dln_w);
    kahan_add(&lnb_s, &lnb_c, dln_b);
#endif
${operands.includes('rh') ? write('ops', operands.length, operands.indexOf('rh'), 'r * hq') : ''}
#if ${Boolean(v.local)}
    dh_carry = V(0.0);
    dc_carry = V(0.0);
#else
    dh_carry = dh_prev;
#endif
#if ${endBarrier}
    workgroupBarrier(); // the next step's put_d writes dbuf, which this step's col_d may still read
#endif
  }

${storeState(tile, 'dh_carry', 'adj', (seq) => seq, 0)}
#if ${lstm}
${storeState(tile, 'dc_carry', 'adj', (seq) => seq, 1)}
#endif
#if ${v.layernorm}
  // The walk's last dispatch leaves the totals; the others, sums and compensations for the next.
  if (params.t0 == 0u) {
    lnw_s -= lnw_c;
    lnb_s -= lnb_c;
  }
${lnStores}
#endif
}
`;
}
