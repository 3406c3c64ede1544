// Exact transport (SPEC §6, paper Appendix C), float64 on the host: the full product of one-step state Jacobians
// over sampled windows, its diagonal, and the exact envelope that the diagonal envelope f̂ (SPEC §5) is checked against.
//
//   sampleTransportPairs(count, sequences N, steps T, maxLag, rng) → TransportPair[] {sequence, t}
//       `count` independent draws: sequence ~ U{0…N-1}, t ~ U{maxLag…T-1} (SPEC §5: a window of lag ℓ ends at t ≥ ℓ,
//       so every grid lag ≤ maxLag has a window at every sampled t). Throws when T ≤ maxLag: no window of that lag
//       exists; cap maxLag at T-1 (lags ≥ T then have no pairs and a NaN envelope).
//   exactTransport(layout, params, x [N,T,D], T, pairs, lags, { keepDiagonals? }) → TransportResult
//       P(ℓ) = J_t J_{t-1} … J_{t-ℓ+1},  J_j = ∂h_j/∂h_{j-1} (gates, recurrent mixing and LayerNorm included);
//       lstm: the ∂h_t/∂c_{t-ℓ} block of the product of stacked (h, c) Jacobians.
//       f_exact(ℓ) = mean over the pairs with t ≥ ℓ of mean_q |diag P(ℓ)|_q  (NaN where no pair has t ≥ ℓ).
//       The lags may come in any order, with repeats; each pair costs max(lags) matrix products, one pass.
//   transportBlocks(layout, params, x [T,D] of one sequence, t, lags) → P(ℓ) [H,H] per lag (tests, inspection).
//   spearman, logPearson, transportAgreement(f̂, f_exact): see correlation.ts.
//
// The one-step Jacobians are assembled as matrices from the records of the reference cells' own `step`: the same
// derivative `cellReference(kind).tangent` takes column by column (the tests hold the two to rounding), built
// directly because H tangent calls per step would cost several times the product itself.
import type { FloatArray, ParamLayout } from '../model/params.ts';
import { prepareModel, zeroState, type PreparedModel, type StepRecord } from '../model/f64/index.ts';
import type { Rng } from '../util/random.ts';
import { copyBlock, createWorkspace, multiplyTransport, resetTransport, transportDiagonalAt, type TransportWorkspace } from './jacobian.ts';

export { logPearson, spearman, transportAgreement, type TransportAgreement } from './correlation.ts';

export interface TransportPair {
  sequence: number;
  /** Window end (SPEC §5). */
  t: number;
}

export interface TransportResult {
  /** The lag grid as given. */
  lags: number[];
  /** f_exact(ℓ) per lag: mean over pairs with t ≥ ℓ of mean_q |diag P(ℓ)|_q; NaN where no pair has t ≥ ℓ. */
  exactEnvelope: Float64Array;
  /** Pairs that contributed to each lag (those with t ≥ ℓ). */
  pairsUsed: Int32Array;
  pairs: TransportPair[];
  hiddenSize: number;
  /** diag P(ℓ) (signed) as [pairs, lags, H]; NaN where t < ℓ. Only with `keepDiagonals`. */
  diagonals?: Float64Array;
}

export interface TransportOptions {
  /** Keep the signed diagonals of every pair and lag (memory pairs × lags × H). */
  keepDiagonals?: boolean;
}

export function sampleTransportPairs(count: number, sequences: number, steps: number, maxLag: number, rng: Rng): TransportPair[] {
  for (const [name, value, min] of [['count', count, 0], ['sequences', sequences, 1], ['steps', steps, 1], ['maxLag', maxLag, 0]] as const) {
    if (!Number.isInteger(value) || value < min) throw new Error(`sampleTransportPairs: ${name} must be an integer ≥ ${min}, got ${value}`);
  }
  if (steps <= maxLag) {
    throw new Error(`sampleTransportPairs: a window of lag ${maxLag} needs an end t ∈ [${maxLag}, T-1] but T = ${steps}; pass maxLag ≤ ${steps - 1} (SPEC §5)`);
  }
  const span = steps - maxLag;
  return Array.from({ length: count }, () => {
    const sequence = rng.int(sequences);
    return { sequence, t: maxLag + rng.int(span) };
  });
}

/** SPEC §6 for `pairs` (see the header): the pairs' terms, summed. */
/**
 * The inputs of the sequences `pairs` sample (x holds `perSequence` values a sequence), numbered from 0 in order of
 * first appearance, into an array from `allocate`, and the pairs on that numbering: all a transport of those pairs
 * reads, without the rest of the set.
 */
export function sampledSequences<A extends Float32Array | Float64Array>(
  pairs: readonly TransportPair[], x: Float32Array | Float64Array, perSequence: number, allocate: (length: number) => A,
): { x: A; pairs: TransportPair[] } {
  const sequences = [...new Set(pairs.map((p) => p.sequence))];
  const local = new Map(sequences.map((s, i) => [s, i]));
  const out = allocate(sequences.length * perSequence);
  sequences.forEach((s, i) => out.set(x.subarray(s * perSequence, (s + 1) * perSequence), i * perSequence));
  return { x: out, pairs: pairs.map((p) => ({ ...p, sequence: local.get(p.sequence)! })) };
}

export function exactTransport(...call: Parameters<typeof transportPairTerms>): TransportResult {
  const [layout, , , , pairs, lags] = call;
  return sumTransport(layout.config.hiddenSize, pairs, lags, transportPairTerms(...call));
}

/**
 * What exactTransport sums, pair by pair: meanAbs [pairs, lags] = mean_q |diag P(ℓ)|_q (NaN where t < ℓ), and with
 * `keepDiagonals` the signed diagonals [pairs, lags, H]. Each pair's values depend on that pair alone, so any subset
 * of the pairs may be computed apart (transport-pool.ts gives subsets to worker threads).
 */
export interface PairTerms {
  meanAbs: Float64Array;
  diagonals?: Float64Array;
}

export function transportPairTerms(
  layout: ParamLayout,
  params: ArrayLike<number>,
  x: ArrayLike<number>,
  steps: number,
  pairs: TransportPair[],
  lags: readonly number[],
  options: TransportOptions = {},
): PairTerms {
  const model = prepareModel(layout, asFloatArray(params));
  const sequences = countSequences(model, x, steps);
  checkLags(lags);
  pairs.forEach((pair, i) => checkPair(pair, i, sequences, steps));
  const n = model.hiddenSize;
  const lagSlots = slotsByLag(lags);
  const maxGridLag = Math.max(0, ...lags);
  const meanAbs = new Float64Array(pairs.length * lags.length).fill(NaN);
  const diagonals = options.keepDiagonals ? new Float64Array(pairs.length * lags.length * n).fill(NaN) : undefined;
  const ws = createWorkspace(model);
  for (const [sequence, pairIndices] of groupBySequence(pairs)) {
    const lastT = Math.max(...pairIndices.map((i) => pairs[i]!.t));
    const records = rolloutSequence(model, x, steps, sequence, lastT);
    for (const pairIndex of pairIndices) {
      const t = pairs[pairIndex]!.t;
      walkWindow(model, ws, records, t, Math.min(maxGridLag, t), (lag, diagonal) => {
        let sum = 0;
        for (let q = 0; q < n; q++) sum += Math.abs(diagonal[q]!);
        for (const slot of lagSlots.get(lag) ?? []) {
          meanAbs[pairIndex * lags.length + slot] = sum / n;
          diagonals?.set(diagonal, (pairIndex * lags.length + slot) * n);
        }
      });
    }
  }
  return diagonals ? { meanAbs, diagonals } : { meanAbs };
}

/**
 * f_exact from the pairs' terms: per lag, the mean over the pairs with t ≥ ℓ, summed in one fixed order (the pairs
 * grouped by sequence, sequences in order of first appearance), so the result does not depend on how the terms
 * were computed.
 */
export function sumTransport(hiddenSize: number, pairs: TransportPair[], lags: readonly number[], terms: PairTerms): TransportResult {
  const sums = new Float64Array(lags.length);
  const pairsUsed = new Int32Array(lags.length);
  for (const pairIndices of groupBySequence(pairs).values()) {
    for (const pairIndex of pairIndices) {
      lags.forEach((lag, slot) => {
        if (lag > pairs[pairIndex]!.t) return;
        sums[slot] = sums[slot]! + terms.meanAbs[pairIndex * lags.length + slot]!;
        pairsUsed[slot] = pairsUsed[slot]! + 1;
      });
    }
  }
  const exactEnvelope = sums.map((s, i) => (pairsUsed[i]! > 0 ? s / pairsUsed[i]! : NaN));
  const result: TransportResult = { lags: [...lags], exactEnvelope, pairsUsed, pairs: pairs.map((p) => ({ ...p })), hiddenSize };
  if (terms.diagonals) result.diagonals = terms.diagonals;
  return result;
}

/** The full P(ℓ) blocks [H,H] (row-major) of one window ending at t, one per lag; x is that sequence [T,D]. */
export function transportBlocks(layout: ParamLayout, params: ArrayLike<number>, x: ArrayLike<number>, t: number, lags: readonly number[]): Float64Array[] {
  const model = prepareModel(layout, asFloatArray(params));
  const steps = x.length / model.inputSize;
  countSequences(model, x, steps);
  checkLags(lags);
  checkPair({ sequence: 0, t }, 0, 1, steps);
  for (const lag of lags) if (lag > t) throw new Error(`transportBlocks: lag ${lag} has no window ending at t = ${t} (SPEC §5 needs t ≥ ℓ)`);
  const ws = createWorkspace(model);
  const records = rolloutSequence(model, x, steps, 0, t);
  const blocks = new Map<number, Float64Array>();
  walkWindow(model, ws, records, t, Math.max(0, ...lags), (lag) => {
    if (lags.includes(lag)) blocks.set(lag, copyBlock(ws));
  });
  return lags.map((lag) => blocks.get(lag)!);
}

/** Multiplies J_t, J_{t-1}, … into the workspace and calls `visit(ℓ, diag P(ℓ))` for ℓ = 1 … maxLag. */
function walkWindow(
  model: PreparedModel,
  ws: TransportWorkspace,
  records: StepRecord[],
  t: number,
  maxLag: number,
  visit: (lag: number, diagonal: Float64Array) => void,
): void {
  resetTransport(ws);
  for (let lag = 1; lag <= maxLag; lag++) {
    multiplyTransport(model, ws, records[t - lag + 1]!); // P(ℓ) = P(ℓ-1) J_{t-ℓ+1}
    visit(lag, transportDiagonalAt(ws));
  }
}

/** Steps 0 … lastT of one sequence from the zero state (the reference cell's own step). */
function rolloutSequence(model: PreparedModel, x: ArrayLike<number>, steps: number, sequence: number, lastT: number): StepRecord[] {
  const d = model.inputSize;
  let state = zeroState(model);
  const records: StepRecord[] = [];
  for (let t = 0; t <= lastT; t++) {
    const input = new Float64Array(d);
    const start = (sequence * steps + t) * d;
    for (let k = 0; k < d; k++) input[k] = x[start + k]!;
    const rec = model.cell.step(model.p, input, state);
    records.push(rec);
    state = rec.next;
  }
  return records;
}

function asFloatArray(values: ArrayLike<number>): FloatArray {
  return values instanceof Float64Array || values instanceof Float32Array ? values : Float64Array.from(values);
}

function countSequences(model: PreparedModel, x: ArrayLike<number>, steps: number): number {
  const perSequence = steps * model.inputSize;
  if (!Number.isInteger(steps) || steps < 1 || x.length === 0 || x.length % perSequence !== 0) {
    throw new Error(`exact transport: X has ${x.length} values, not a whole number of [T,D] = [${steps},${model.inputSize}] sequences`);
  }
  return x.length / perSequence;
}

function checkLags(lags: readonly number[]): void {
  lags.forEach((lag, i) => {
    if (!Number.isInteger(lag) || lag < 1) throw new Error(`exact transport: lags[${i}] = ${lag}; lags must be integers ≥ 1`);
  });
}

function checkPair(pair: TransportPair, index: number, sequences: number, steps: number): void {
  const { sequence, t } = pair;
  if (!Number.isInteger(sequence) || sequence < 0 || sequence >= sequences || !Number.isInteger(t) || t < 0 || t >= steps) {
    throw new Error(`exact transport: pairs[${index}] = {sequence: ${sequence}, t: ${t}} lies outside the diagnostic set (N = ${sequences}, T = ${steps})`);
  }
}

/** Lag → the positions it occupies in the grid (a grid from integer linspace may repeat a lag). */
function slotsByLag(lags: readonly number[]): Map<number, number[]> {
  const slots = new Map<number, number[]>();
  lags.forEach((lag, i) => slots.set(lag, [...(slots.get(lag) ?? []), i]));
  return slots;
}

function groupBySequence(pairs: readonly TransportPair[]): Map<number, number[]> {
  const groups = new Map<number, number[]>();
  pairs.forEach((pair, i) => groups.set(pair.sequence, [...(groups.get(pair.sequence) ?? []), i]));
  return groups;
}

// ---- The running product and the one-step Jacobians ----------------------------------------------------------
