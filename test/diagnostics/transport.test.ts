// Exact transport (SPEC §6): P(ℓ) = J_t … J_{t-ℓ+1} against products of one-step Jacobians taken two independent
// ways (the reference cells' tangent, and central differences of their step), the lstm block choice, the ℓ = 1
// identity with SPEC §4's terms, the envelope's bookkeeping, the correlations and the pair sampling.
//
// Tolerances.
// - Tangent-built Jacobians are exact, so their product differs from P only by rounding in ≤ 9 products of 5×5 (or
//   10×10) O(1) matrices: |Δ| ≤ 1e-12 |P| + 1e-14 leaves ~100× room over the expected ~1e-15.
// - A float64 central difference with step ε = 1e-5 on O(1) states has truncation ε²|f'''|/6 ≈ 1e-11 and rounding
//   ≈ 2.2e-16/ε ≈ 2e-11 per entry (see test/reference/cells/gradients.test.ts). A product of ℓ ≤ 5 such matrices
//   with norms ≲ 3 carries about ℓ·3^{ℓ-1}·H·3e-11 ≲ 1e-7 at worst, typically far less: |Δ| ≤ 1e-6 |P| + 1e-7.
//   A wrong term (a missing LayerNorm projection, a transposed U) is an O(1e-2 … 1) error.
import { describe, expect, it } from 'vitest';
import { CELL_KINDS, buildLayout, initParams, TensorViews, type CellKind, type ParamLayout, layerNormChoices, stateWidth } from '../../src/model/index.ts';
import { matmul } from '../../src/model/f64/linalg.ts';
import { prepareModel, rollout, type RecurrentState, type StepRecord } from '../../src/reference/cells/index.ts';
import { Rng } from '../../src/util/random.ts';
import { averageRanks, pearson } from '../../src/diagnostics/correlation.ts';
import { exactTransport, logPearson, sampleTransportPairs, spearman, transportAgreement, transportBlocks } from '../../src/diagnostics/transport.ts';
import { expectClose } from '../reference/cells/cases.ts';

const SIZE = { hidden: 5, input: 3, steps: 10, sequences: 3 };
const FD_STEP = 1e-5;

interface Model {
  name: string;
  cell: CellKind;
  layout: ParamLayout;
  params: Float64Array;
  /** X [N,T,D]. */
  x: Float64Array;
}

/** Orthogonal init plus N(0, 0.3²) on every trainable element (Us ≠ 0, LayerNorm γ ≠ 1, β ≠ 0); const gate 0.3. */
function makeModel(cell: CellKind, layernorm: boolean, seed = 11): Model {
  const layout = buildLayout({ cell, inputSize: SIZE.input, hiddenSize: SIZE.hidden, layernorm });
  const params = initParams(layout, { seed, constS: 0.3, orthogonal: true });
  const rng = new Rng(seed + 500);
  for (const t of layout.tensors) if (t.trainable) for (let i = t.offset; i < t.offset + t.size; i++) params[i] = params[i]! + 0.3 * rng.normal();
  const x = rng.fillNormal(new Float64Array(SIZE.sequences * SIZE.steps * SIZE.input)) as Float64Array;
  return { name: `${cell} ln=${layernorm ? 'on' : 'off'}`, cell, layout, params, x };
}

const CASES = CELL_KINDS.flatMap((cell) => layerNormChoices(cell).map((ln) => makeModel(cell, ln)));

function sequenceOf(m: Model, b: number): Float64Array {
  const len = SIZE.steps * SIZE.input;
  return m.x.slice(b * len, (b + 1) * len);
}

function records(m: Model, b: number): StepRecord[] {
  const model = prepareModel(m.layout, m.params);
  return rollout(model, { x: m.x, batch: SIZE.sequences, steps: SIZE.steps }, b);
}

/** The state as one vector: h, or [h; c] for lstm. */
function flatten(state: RecurrentState): Float64Array {
  if (!state.c) return Float64Array.from(state.h);
  const out = new Float64Array(2 * state.h.length);
  out.set(state.h);
  out.set(state.c, state.h.length);
  return out;
}

function unflatten(v: Float64Array, lstm: boolean): RecurrentState {
  const n = SIZE.hidden;
  return lstm ? { h: v.slice(0, n), c: v.slice(n) } : { h: Float64Array.from(v) };
}

/** Full one-step Jacobian of the (stacked) state, S×S row-major, column k from `column(k)`. */
function assemble(size: number, column: (k: number) => Float64Array): Float64Array {
  const j = new Float64Array(size * size);
  for (let k = 0; k < size; k++) column(k).forEach((v, r) => (j[r * size + k] = v));
  return j;
}

function tangentJacobian(m: Model, rec: StepRecord): Float64Array {
  const model = prepareModel(m.layout, m.params);
  const zeroDirection = new TensorViews(m.layout, new Float64Array(m.layout.totalSize));
  const size = flatten(rec.prev).length;
  return assemble(size, (k) => {
    const unit = new Float64Array(size);
    unit[k] = 1;
    return flatten(model.cell.tangent(model.p, zeroDirection, rec, unflatten(unit, stateWidth(m.cell) === 2)));
  });
}

function finiteDifferenceJacobian(m: Model, rec: StepRecord): Float64Array {
  const model = prepareModel(m.layout, m.params);
  const base = flatten(rec.prev);
  const stepFrom = (v: Float64Array) => flatten(model.cell.step(model.p, rec.x, unflatten(v, stateWidth(m.cell) === 2)).next);
  return assemble(base.length, (k) => {
    const plus = Float64Array.from(base);
    const minus = Float64Array.from(base);
    plus[k] = plus[k]! + FD_STEP;
    minus[k] = minus[k]! - FD_STEP;
    const [up, down] = [stepFrom(plus), stepFrom(minus)];
    return up.map((v, r) => (v - down[r]!) / (2 * FD_STEP));
  });
}

/** J_t J_{t-1} … J_{t-ℓ+1}, then the h_t rows and the h (or, for lstm, c) columns of the start. */
function productBlock(jacobians: Float64Array[], t: number, lag: number, lstm: boolean): Float64Array {
  const size = Math.sqrt(jacobians[0]!.length);
  let p = jacobians[t]!;
  for (let j = t - 1; j > t - lag; j--) p = matmul(p, jacobians[j]!, size, size, size);
  const n = SIZE.hidden;
  const col0 = lstm ? n : 0;
  const block = new Float64Array(n * n);
  for (let r = 0; r < n; r++) for (let c = 0; c < n; c++) block[r * n + c] = p[r * size + col0 + c]!;
  return block;
}

const T_END = 9;
const LAGS = [1, 2, 3, 5, 9];

describe.each(CASES)('$name: P(ℓ)', (m) => {
  const recs = records(m, 1);
  const blocks = transportBlocks(m.layout, m.params, sequenceOf(m, 1), T_END, LAGS);

  it('equals the product of Jacobians from the reference tangent (zero parameter direction, unit state direction)', () => {
    const jacobians = recs.map((rec) => tangentJacobian(m, rec));
    LAGS.forEach((lag, i) => expectClose(`${m.name} P(${lag}) vs tangent product`, blocks[i]!, productBlock(jacobians, T_END, lag, stateWidth(m.cell) === 2), 1e-12, 1e-14));
  });

  it('equals the product of central-difference Jacobians of the reference step', () => {
    const jacobians = recs.map((rec) => finiteDifferenceJacobian(m, rec));
    LAGS.slice(0, 4).forEach((lag, i) => expectClose(`${m.name} P(${lag}) vs finite differences`, blocks[i]!, productBlock(jacobians, T_END, lag, stateWidth(m.cell) === 2), 1e-6, 1e-7));
  });
});

describe('lstm: P is the ∂h_t/∂c_{t-ℓ} block', () => {
  const m = makeModel('lstm', true);
  const recs = records(m, 0);
  const blocks = transportBlocks(m.layout, m.params, sequenceOf(m, 0), T_END, [1, 3]);

  /** Central differences of h_t with respect to the h (part 0) or c (part 1) half of the state at t-ℓ. */
  function composite(lag: number, part: 0 | 1): Float64Array {
    const model = prepareModel(m.layout, m.params);
    const n = SIZE.hidden;
    const start = flatten(recs[T_END - lag]!.next);
    const run = (v: Float64Array) => {
      let state = unflatten(v, true);
      for (let j = T_END - lag + 1; j <= T_END; j++) state = model.cell.step(model.p, recs[j]!.x, state).next;
      return state.h;
    };
    const out = new Float64Array(n * n);
    for (let k = 0; k < n; k++) {
      const [plus, minus] = [Float64Array.from(start), Float64Array.from(start)];
      plus[part * n + k] = plus[part * n + k]! + FD_STEP;
      minus[part * n + k] = minus[part * n + k]! - FD_STEP;
      const [up, down] = [run(plus), run(minus)];
      for (let r = 0; r < n; r++) out[r * n + k] = (up[r]! - down[r]!) / (2 * FD_STEP);
    }
    return out;
  }

  it('matches central differences of h_t with respect to c_{t-ℓ} through ℓ steps', () => {
    expectClose('lstm ∂h_t/∂c_{t-1}', blocks[0]!, composite(1, 1), 1e-6, 1e-8);
    expectClose('lstm ∂h_t/∂c_{t-3}', blocks[1]!, composite(3, 1), 1e-6, 1e-8);
  });

  it('is not the ∂h_t/∂h_{t-ℓ} block', () => {
    const hBlock = composite(3, 0);
    const gap = Math.max(...blocks[1]!.map((v, i) => Math.abs(v - hBlock[i]!)));
    expect(gap, 'max |∂h_t/∂c_{t-3} - ∂h_t/∂h_{t-3}|').toBeGreaterThan(1e-3);
  });

  it('at ℓ = 1 is diag(e_t f_t), SPEC §5 μ0 for a one-step window', () => {
    const model = prepareModel(m.layout, m.params);
    const { e, f } = model.cell.intermediates(model.p, recs[T_END]!);
    const n = SIZE.hidden;
    const expected = new Float64Array(n * n);
    for (let q = 0; q < n; q++) expected[q * n + q] = e![q]! * f![q]!;
    expectClose('lstm P(1) vs diag(e f)', blocks[0]!, expected, 1e-14, 0);
  });
});

/** diag of an H×H row-major block. */
const diagonalOf = (block: Float64Array) => Array.from({ length: SIZE.hidden }, (_, q) => block[q * SIZE.hidden + q]!);

describe.each(['const', 'shared', 'diag', 'gru'] as const)('%s, layernorm off: diag P(1) and SPEC §4', (cell) => {
  it('diag P(1) = leak + rdiag (gru: plus the reset gate\'s cross terms SPEC §4 leaves out)', () => {
    const m = makeModel(cell, false);
    const model = prepareModel(m.layout, m.params);
    for (const t of [1, 4, 9]) {
      const rec = records(m, 2)[t]!;
      const { leak, rdiag } = model.cell.intermediates(model.p, rec);
      const expected = leak!.map((v, q) => v + rdiag![q]! + (cell === 'gru' ? gruCrossTerm(m, rec, q) : 0));
      const [block] = transportBlocks(m.layout, m.params, sequenceOf(m, 2), t, [1]);
      expectClose(`${cell} diag P(1) at t=${t}`, diagonalOf(block!), expected, 1e-13, 1e-15);
    }
  });
});

/** z_q (1-g_q²) Σ_{k≠q} Uh_qk h_k r_k(1-r_k) Ur_kq: the off-diagonal reset path of J_qq (no LayerNorm). */
function gruCrossTerm(m: Model, rec: StepRecord, q: number): number {
  const { z, r, candidate } = rec as StepRecord & { z: Float64Array; r: Float64Array; candidate: { g: Float64Array } };
  const p = new TensorViews(m.layout, m.params);
  const [uh, ur] = [p.get('Uh.weight'), p.get('Ur.weight')];
  const n = SIZE.hidden;
  let sum = 0;
  for (let k = 0; k < n; k++) if (k !== q) sum += uh[q * n + k]! * rec.prev.h[k]! * r[k]! * (1 - r[k]!) * ur[k * n + q]!;
  return z[q]! * (1 - candidate.g[q]! ** 2) * sum;
}

describe('diag P(1) and SPEC §4, special cases', () => {
  it('gru with a diagonal Uh: diag P(1) = leak + rdiag exactly', () => {
    const m = makeModel('gru', false);
    const uh = new TensorViews(m.layout, m.params).get('Uh.weight');
    uh.forEach((_, i, w) => (w[i] = i % (SIZE.hidden + 1) === 0 ? w[i]! : 0));
    const model = prepareModel(m.layout, m.params);
    const rec = records(m, 0)[6]!;
    const { leak, rdiag } = model.cell.intermediates(model.p, rec);
    const [block] = transportBlocks(m.layout, m.params, sequenceOf(m, 0), 6, [1]);
    expectClose('gru (diagonal Uh) diag P(1)', diagonalOf(block!), leak!.map((v, q) => v + rdiag![q]!), 1e-13, 1e-15);
  });

  it('with layernorm on, diag P(1) differs from leak + rdiag by LayerNorm\'s Jacobian (SPEC §4 leaves it out)', () => {
    const m = makeModel('const', true);
    const model = prepareModel(m.layout, m.params);
    const { leak, rdiag } = model.cell.intermediates(model.p, records(m, 0)[6]!);
    const [block] = transportBlocks(m.layout, m.params, sequenceOf(m, 0), 6, [1]);
    const gap = Math.max(...diagonalOf(block!).map((v, q) => Math.abs(v - leak![q]! - rdiag![q]!)));
    expect(gap).toBeGreaterThan(1e-3);
  });

  it('const with s = 0 holds the state: P(ℓ) = I', () => {
    const m = makeModel('const', true);
    new TensorViews(m.layout, m.params).get('s_const')[0] = 0;
    const identity = new Float64Array(SIZE.hidden ** 2).map((_, i) => (i % (SIZE.hidden + 1) === 0 ? 1 : 0));
    for (const block of transportBlocks(m.layout, m.params, sequenceOf(m, 0), 9, [1, 9])) expectClose('const s=0 P', block, identity, 0, 0);
  });
});

describe('exactTransport', () => {
  const m = makeModel('gru', true);
  const pairs = [
    { sequence: 2, t: 9 },
    { sequence: 0, t: 4 },
    { sequence: 2, t: 6 },
    { sequence: 1, t: 9 },
  ];
  const lags = [3, 1, 7, 3, 10]; // unsorted, a repeat, one beyond t = 4, one beyond every t

  it('averages mean_q |diag P(ℓ)| over the pairs with t ≥ ℓ, per grid slot', () => {
    const result = exactTransport(m.layout, m.params, m.x, SIZE.steps, pairs, lags, { keepDiagonals: true });
    expect(Array.from(result.pairsUsed)).toEqual([4, 4, 2, 4, 0]);
    const n = SIZE.hidden;
    lags.forEach((lag, slot) => {
      const using = pairs.map((pair, i) => ({ pair, i })).filter(({ pair }) => pair.t >= lag);
      const perPair = using.map(({ pair, i }) => {
        const diag = diagonalOf(transportBlocks(m.layout, m.params, sequenceOf(m, pair.sequence), pair.t, [lag])[0]!);
        expectClose(`diagonals[pair ${i}, slot ${slot}]`, result.diagonals!.subarray((i * lags.length + slot) * n, (i * lags.length + slot + 1) * n), diag, 1e-14, 0);
        return diag.reduce((s, v) => s + Math.abs(v), 0) / n;
      });
      const expected = perPair.length ? perPair.reduce((a, b) => a + b, 0) / perPair.length : NaN;
      expectClose(`f_exact(${lag})`, [result.exactEnvelope[slot]!], [expected], 1e-14, 0);
    });
    expect(Array.from(result.diagonals!.subarray((1 * lags.length + 2) * n, (1 * lags.length + 3) * n)).every(Number.isNaN), 'pair t=4 at ℓ=7').toBe(true);
  });

  it('takes float32 X and any ArrayLike params, and checks its inputs', () => {
    const x32 = Float32Array.from(m.x);
    const a = exactTransport(m.layout, m.params, x32, SIZE.steps, pairs, [2, 5]);
    const b = exactTransport(m.layout, Array.from(m.params), Float64Array.from(x32), SIZE.steps, pairs, [2, 5]);
    expect(Array.from(a.exactEnvelope)).toEqual(Array.from(b.exactEnvelope));
    expect(() => exactTransport(m.layout, m.params, m.x, SIZE.steps, [{ sequence: 3, t: 1 }], [1])).toThrow(/outside the diagnostic set/);
    expect(() => exactTransport(m.layout, m.params, m.x, 7, pairs, [1])).toThrow(/whole number/);
    expect(() => exactTransport(m.layout, m.params, m.x, SIZE.steps, pairs, [0])).toThrow(/integers ≥ 1/);
    expect(() => transportBlocks(m.layout, m.params, sequenceOf(m, 0), 4, [5])).toThrow(/t ≥ ℓ/);
  });
});

describe('correlations', () => {
  it('averageRanks gives tied values the mean of their ranks', () => {
    expect(Array.from(averageRanks([10, 20, 20, 5, 20]))).toEqual([2, 4, 4, 1, 4]);
  });

  it.each([
    { name: 'identical', a: [1, 2, 3, 4, 5], b: [1, 2, 3, 4, 5], rho: 1 },
    { name: 'monotone transform', a: [0.1, 3, -2, 7, 1], b: [0.1, 3, -2, 7, 1].map(Math.exp), rho: 1 },
    { name: 'perfect anti-correlation', a: [1, 2, 3, 4, 5], b: [1, 2, 3, 4, 5].map((v) => -(v ** 3)), rho: -1 },
    // ranks a = [1, 2.5, 2.5, 4], b = [1, 2, 3, 4]: r = 4.5 / √(4.5·5) = √0.9
    { name: 'ties', a: [1, 2, 2, 3], b: [1, 2, 3, 4], rho: Math.sqrt(0.9) },
    // d = [1, -1, 1, -1, 0] on permutation ranks: 1 - 6·4/(5·24) = 0.8
    { name: 'no ties, classic formula', a: [1, 2, 3, 4, 5], b: [2, 1, 4, 3, 5], rho: 0.8 },
  ])('spearman: $name', ({ a, b, rho }) => {
    expect(spearman(a, b)).toBeCloseTo(rho, 14);
  });

  it('spearman is NaN for a constant series and rejects non-finite values', () => {
    expect(spearman([1, 1, 1], [1, 2, 3])).toBeNaN();
    expect(() => spearman([1, NaN, 3], [1, 2, 3])).toThrow(/not finite/);
    expect(() => spearman([1, 2], [1, 2, 3])).toThrow(/one value per lag/);
  });

  it('logPearson is ±1 for power laws, skipping non-positive entries', () => {
    const a = [1e-8, 1e-5, 0.01, 0.3, 2];
    expect(logPearson(a, a.map((v) => 3 * v ** 2.5)).r).toBeCloseTo(1, 14);
    expect(logPearson(a, a.map((v) => v ** -0.5)).r).toBeCloseTo(-1, 14);
    const withZeros = logPearson([0, ...a, -1], [1, ...a.map((v) => 7 * v), 5]);
    expect(withZeros).toEqual({ r: expect.closeTo(1, 14), used: 5 });
    expect(logPearson([1, 0], [1, 1]).r).toBeNaN();
    expect(pearson([1, 2, 3], [2, 4, 7])).toBeCloseTo(0.9933992677987828, 14);
  });

  it('transportAgreement skips lags where either envelope is not finite', () => {
    const fHat = [0.9, 0.5, 0.2, NaN, 0.05, 0];
    const fExact = [0.8, 0.6, 0.1, 0.07, 0.02, 0.001];
    const agreement = transportAgreement(fHat, fExact);
    expect(agreement).toEqual({ spearman: expect.closeTo(1, 14), logPearson: expect.any(Number), lagsUsed: 5, logLagsUsed: 4 });
    expect(agreement.logPearson).toBeCloseTo(logPearson([0.9, 0.5, 0.2, 0.05], [0.8, 0.6, 0.1, 0.02]).r, 14);
  });
});

describe('sampleTransportPairs', () => {
  it('is seeded and stays in range', () => {
    const a = sampleTransportPairs(500, 4, 10, 3, new Rng(5));
    expect(sampleTransportPairs(500, 4, 10, 3, new Rng(5))).toEqual(a);
    expect(sampleTransportPairs(500, 4, 10, 3, new Rng(6))).not.toEqual(a);
    expect(a.every((p) => Number.isInteger(p.sequence) && p.sequence >= 0 && p.sequence < 4 && p.t >= 3 && p.t <= 9)).toBe(true);
    expect(sampleTransportPairs(0, 4, 10, 3, new Rng(5))).toEqual([]);
    expect(sampleTransportPairs(3, 1, 10, 9, new Rng(5)).map((p) => p.t)).toEqual([9, 9, 9]);
  });

  it('is uniform over sequences and over t ∈ [maxLag, T-1]', () => {
    const count = 28000;
    const pairs = sampleTransportPairs(count, 4, 10, 3, new Rng(8));
    const bySequence = [0, 1, 2, 3].map((s) => pairs.filter((p) => p.sequence === s).length);
    const byT = [3, 4, 5, 6, 7, 8, 9].map((t) => pairs.filter((p) => p.t === t).length);
    // Each count is binomial; 5 standard deviations around the mean.
    const within = (counts: number[], cells: number) => {
      const mean = count / cells;
      const sd = Math.sqrt(count * (1 / cells) * (1 - 1 / cells));
      return counts.every((c) => Math.abs(c - mean) < 5 * sd);
    };
    expect(within(bySequence, 4), `per sequence ${bySequence}`).toBe(true);
    expect(within(byT, 7), `per t ${byT}`).toBe(true);
  });

  it('refuses T ≤ maxLag and bad sizes', () => {
    expect(() => sampleTransportPairs(5, 4, 10, 10, new Rng(1))).toThrow(/maxLag ≤ 9/);
    expect(() => sampleTransportPairs(5, 0, 10, 3, new Rng(1))).toThrow(/sequences must be an integer ≥ 1/);
    expect(() => sampleTransportPairs(1.5, 4, 10, 3, new Rng(1))).toThrow(/count/);
  });
});
