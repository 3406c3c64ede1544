// Dot products and sums kept by the forward and replayed by the backward. A BPTT step recomputes its forward step
// from the stored state before it, and the dot products of that recomputation (U·h_{t-1}, W·x_t: 2·G·H·(H+D) of
// the step's FLOPs) cost as much as the adjoint's own Uᵀ·δ; its sums over units (LayerNorm's mean and variance,
// shared's gate) cost barriers. The training forward already computed them all, so it keeps each one's value
// (`keep_dot`, `keep_ln`) while it stores the states, and the backward reads them back (`replay_dot`) instead of
// recomputing: only the forward step's elementwise work runs again in the backward, from the same values, so it
// gives what the forward computed, bit for bit.
//
// A value is named by its place among the step's helper calls (pre_sum, pre_seq, row_h, row_a, row_x, row_x0,
// unit_sum, and layer_norm and layer_norm_and(2), which keep two: n̂ and 1/σ), in the order of the cell's forward-step
// WGSL: the forward and the backward generate that WGSL from the same snippet, so the i-th call of one is the i-th of
// the other.
//
// The candidate's pre-activation under LayerNorm (pre_norm) is neither kept nor read back: LayerNorm takes it whole,
// and the replayed step starts from LayerNorm's n̂ and 1/σ (it reads V(0.0) in its place, overwritten at once).
//
// Some values are one per sequence, the same on every unit: a sum over units, LayerNorm's 1/σ, shared's gate
// (pre_seq). Unit 0 alone keeps those (`keep_seq`), and every unit reads them back from unit 0's place
// (`replay_seq`): the same address on every thread, one load a group on a GPU and a uniform load on lavapipe, where a
// per-unit value costs a gather per component.
//
// The values live in a buffer of their own, `kept`: step-major, [steps][B][ND][H] floats, each step's block padded
// to `params.keptStride` floats (a multiple of the adapter's storage-offset alignment), so that every dispatch binds
// only the window of its own steps, from step params.t0 on. No binding needs the whole buffer, so the values do not
// count against maxStorageBufferBindingSize (the paper's batch keeps 0.5–1.25 GiB of them). The replaying backward reads
// neither the row helpers' weights nor x, so `kept` takes one of their two bindings: it stays within WebGPU's 8
// storage buffers per stage.
import { helperCalls } from './held-weights.ts';
import { d } from '../../src/gpu/layout.ts';
import { type Tile } from './tile.ts';
import { components, perComponent, tileIndices, vec } from './tile-components.ts';

/**
 * The helpers whose values are kept and replayed: every dot product and every sum over units of a forward step, and
 * pre_sum, a layer pair's pre-activation b + W x + U u, kept whole instead of its two dot products (helperCalls finds
 * the outermost calls only); `replayed`, any other value a step marks for its backward (leaky cells' g - h_{t-1});
 * pre_norm is listed so that its dot products are not kept either. On lavapipe each value
 * a thread keeps or reads back costs a store or load per lane; lstm keeps four values per unit and step instead of
 * eight (five with LayerNorm: three gates, n̂ and 1/σ).
 */
const KEPT = ['pre_sum', 'pre_seq', 'pre_norm', 'replayed', 'row_h', 'row_a', 'row_x', 'row_x0', 'unit_sum', 'layer_norm', 'layer_norm_and', 'layer_norm_and2'] as const;

/**
 * Words a call keeps per unit: LnOut's two, none for pre_norm, one for the others. layer_norm_and(2) keeps its LnOut alone: its other
 * sums (shared's gate, read only inside a pre_sum, which is kept whole; the forward kernel's readout) are never read
 * by a replayed step.
 */
const words = (name: string) => (name === 'pre_norm' ? 0 : name.startsWith('layer_norm') ? 2 : 1);
const KEEP: Record<string, string> = { layer_norm: 'keep_ln', layer_norm_and: 'keep_ln_and', layer_norm_and2: 'keep_ln_and', pre_seq: 'keep_seq', unit_sum: 'keep_seq' };
/** The calls whose one value is the same on every unit of a sequence (LnOut's 1/σ too): those keep_seq keeps. */
const PER_SEQUENCE = new Set(Object.keys(KEEP).filter((name) => KEEP[name] === 'keep_seq'));

/** Values kept per unit of a forward step's WGSL (ND). */
export function dotCount(step: string): number {
  return helperCalls(step, KEPT).reduce((n, call) => n + words(call.name), 0);
}

/** `step` with each kept call replaced by `wrap(i, call, name)`, i its first word among the values. */
function rewrite(step: string, wrap: (i: number, call: string, name: string) => string): string {
  let out = '';
  let at = 0;
  let i = 0;
  for (const call of helperCalls(step, KEPT)) {
    out += `${step.slice(at, call.start)}${wrap(i, step.slice(call.start, call.end), call.name)}`;
    at = call.end;
    i += words(call.name);
  }
  return out + step.slice(at);
}

/** The forward step keeping every value (keepDotsWgsl defines keep_dot and keep_ln). */
export function keepDots(step: string): string {
  return rewrite(step, (i, call, name) => (name === 'pre_norm' ? call : `${KEEP[name] ?? 'keep_dot'}(${i}u, ${call})`));
}

/**
 * The forward step reading every value back instead of computing it (replayDotsWgsl defines replay_dot). Its
 * second per-unit vector (gru's r ⊙ h_{t-1}, put_a) then has no reader, row_a's value being read back: the put and
 * the barrier after it go too.
 */
export function replayDots(step: string): string {
  const ln = (i: number) => `LnOut(replay_dot(${i}u), replay_seq(${i + 1}u))`;
  const replayed = rewrite(step, (i, _call, name) =>
    name === 'pre_norm' ? 'V(0.0)' : name === 'layer_norm' ? ln(i) : name.startsWith('layer_norm_and') ? `LnAnd(${ln(i)}, V(0.0), V(0.0))` : PER_SEQUENCE.has(name) ? `replay_seq(${i}u)` : `replay_dot(${i}u)`);
  return replayed.replace(/^[ \t]*put_a\([^;]*\);\n[ \t]*workgroupBarrier\(\);\n/gm, '');
}

/** Where value i of step tt of sequence `seq`, unit `unit` lies in the dispatch's window of `kept`. */
const place = (seq: string, unit: string) => `kept[(tt - params.t0) * params.keptStride + (${seq} * ND + i) * params.H + ${unit}]`;

/**
 * keep_dot(i, v): v, written into `kept` for the backward (lane 0 of a split unit alone); keep_seq(i, v), v the
 * same on every unit, by unit 0 alone.
 */
export function keepDotsWgsl(tile: Tile, count: number): string {
  const writes = (units: (unit: string) => string) => perComponent(tile, ({ unit, seq, lead, comp }) => `  if (${lead}${seq} < params.batch && ${units(unit)}) { ${place(seq, unit)} = ${comp('v')}; }`);
  return `
const ND: u32 = ${count}u; // values kept per unit and step (shaders/cells/replay.ts)
fn keep_dot(i: u32, v: V) -> V {
${writes((unit) => `${unit} < params.H`)}
  return v;
}
fn keep_seq(i: u32, v: V) -> V {
${writes((unit) => `${unit} == 0u`)}
  return v;
}
fn keep_ln(i: u32, ln: LnOut) -> LnOut {
  _ = keep_dot(i, ln.n);
  _ = keep_seq(i + 1u, ln.inv_std);
  return ln;
}
fn keep_ln_and(i: u32, lna: LnAnd) -> LnAnd {
  _ = keep_ln(i, lna.ln);
  return lna;
}`;
}

/**
 * replay_dot(i): the value keep_dot(i, ·) kept at step tt, for every component (idle ones read a clamped place);
 * replay_seq(i): keep_seq's, unit 0's for every unit.
 */
export function replayDotsWgsl(tile: Tile, count: number): string {
  const { rs, unitLets } = tileIndices(tile);
  const seqLets = rs.map((r) => `let s${r} = min(tseq0 + ${r}u, params.batch - 1u);`).join(' ');
  return `
const ND: u32 = ${count}u; // values replayed per unit and step (shaders/cells/replay.ts)
fn replay_dot(i: u32) -> V {
  ${unitLets}
  ${seqLets}
  return ${vec(components(tile).map((c) => place(`s${c.r}`, `u${c.k}`)))};
}
fn replay_seq(i: u32) -> V {
  ${seqLets}
  return ${vec(components(tile).map((c) => place(`s${c.r}`, '0u')))};
}`;
}

/** The uniform field of the kernels that keep or replay: floats per step in `kept` (keptStride). */
export const KEPT_FIELD = { keptStride: d.u32 };

/**
 * Floats per step of `kept` for B sequences, H units and ND values: B·ND·H rounded up to the adapter's storage
 * offset alignment (bytes), so that a window starting at any step is a valid binding offset.
 */
export function keptStride(batch: number, values: number, hidden: number, alignment: number): number {
  const quantum = Math.max(1, alignment / 4);
  return Math.ceil((batch * values * hidden) / quantum) * quantum;
}
