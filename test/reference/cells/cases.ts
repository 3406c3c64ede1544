// Shared fixtures for the float64 cell tests: small models in four parameter regimes, random data, and
// a comparison that reports the worst element.
import { expect } from 'vitest';
import { CELL_KINDS, buildLayout, initParams, layerNormChoices, TensorViews, type CellKind, type ParamLayout } from '../../../src/model/index.ts';
import { compareToReference, describeComparison } from '../../../src/reference/compare.ts';
import type { SequenceBatch } from '../../../src/reference/cells/index.ts';
import { Rng } from '../../../src/util/random.ts';

export const SIZES = { batch: 2, steps: 6, hidden: 5, input: 3 };

/**
 * default:    PyTorch-default uniform init (gate weights 0 for shared/diag).
 * orthogonal: the paper's init.
 * perturbed:  orthogonal init + N(0, 0.3²) on every trainable element, so Us ≠ 0, LN γ ≠ 1, β ≠ 0.
 * saturated:  perturbed, then every gate bias set to ±6 alternating by unit (σ ≈ 0.0025 or 0.9975), and the
 *             const gate s_const = 0.98: gates near 0 and 1.
 */
export const REGIMES = ['default', 'orthogonal', 'perturbed', 'saturated'] as const;
export type Regime = (typeof REGIMES)[number];

export interface CellCase {
  name: string;
  cell: CellKind;
  layernorm: boolean;
  regime: Regime;
}

export function allCases(regimes: readonly Regime[] = REGIMES): CellCase[] {
  const cases: CellCase[] = [];
  for (const cell of CELL_KINDS) {
    for (const layernorm of layerNormChoices(cell)) {
      for (const regime of regimes) cases.push({ name: `${cell} ln=${layernorm ? 'on' : 'off'} ${regime}`, cell, layernorm, regime });
    }
  }
  return cases;
}

const GATE_BIASES: Readonly<Record<CellKind, readonly string[]>> = {
  const: [],
  shared: ['Ws.bias'],
  diag: ['Ws.bias'],
  gru: ['Wz.bias', 'Wr.bias'],
  lstm: ['Wi.bias', 'Wf.bias', 'Wo.bias'],
  linear: [], // no gates: its saturated regime is the perturbed one
  // PyTorch's layers: gate rows of bias_ih_l0 (TORCH_SATURATED_ROWS); rnn has no gate
  rnn: [],
  rnn_relu: [],
  torch_gru: [],
  torch_lstm: [],
};

/** Row blocks of bias_ih_l0 that are gates (SPEC §13): torch_gru r, z; torch_lstm i, f, o. */
const TORCH_SATURATED_BLOCKS: Readonly<Partial<Record<CellKind, readonly number[]>>> = { torch_gru: [0, 1], torch_lstm: [0, 1, 3] };

export interface Fixture {
  layout: ParamLayout;
  params: Float64Array;
  data: SequenceBatch & { y: Float64Array };
}

export function makeFixture(c: CellCase, seed = 7): Fixture {
  const layout = buildLayout({ cell: c.cell, inputSize: SIZES.input, hiddenSize: SIZES.hidden, layernorm: c.layernorm });
  const params = initParams(layout, { seed, constS: 0.3, orthogonal: c.regime !== 'default' });
  const rng = new Rng(seed + 1000);
  if (c.regime === 'perturbed' || c.regime === 'saturated') {
    for (const t of layout.tensors) {
      if (!t.trainable) continue;
      for (let i = t.offset; i < t.offset + t.size; i++) params[i] = params[i]! + 0.3 * rng.normal();
    }
  }
  if (c.regime === 'saturated') {
    const views = new TensorViews(layout, params);
    for (const name of GATE_BIASES[c.cell]) views.get(name).forEach((_, q, bias) => (bias[q] = q % 2 === 0 ? 6 : -6));
    if (c.cell === 'const') views.get('s_const')[0] = 0.98;
    const H = SIZES.hidden;
    for (const block of TORCH_SATURATED_BLOCKS[c.cell] ?? []) {
      for (let q = 0; q < H; q++) views.get('bias_ih_l0')[block * H + q] = q % 2 === 0 ? 6 : -6;
    }
  }
  const { batch, steps, input } = SIZES;
  const x = rng.fillNormal(new Float64Array(batch * steps * input)) as Float64Array;
  const y = rng.fillNormal(new Float64Array(batch * steps)) as Float64Array;
  return { layout, params, data: { x, y, batch, steps } };
}

/** A random unit direction over the trainable tensors (0 elsewhere), as SPEC §7's w. */
export function randomDirection(layout: ParamLayout, seed: number): Float64Array {
  const rng = new Rng(seed);
  const w = new Float64Array(layout.totalSize);
  for (const t of layout.tensors) if (t.trainable) for (let i = t.offset; i < t.offset + t.size; i++) w[i] = rng.normal();
  const norm = Math.sqrt(w.reduce((s, v) => s + v * v, 0));
  return w.map((v) => v / norm);
}

/** Fails with the worst element (index, expected, got, tolerance) when any |got - expected| > atol + rtol |expected|. */
export function expectClose(what: string, got: ArrayLike<number>, expected: ArrayLike<number>, rtol: number, atol: number): void {
  const c = compareToReference(got, expected, (i) => atol + rtol * Math.abs(expected[i]!));
  expect(c.ok, describeComparison(what, c)).toBe(true);
}
