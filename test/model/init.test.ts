// SPEC §2 initialisation: zeros and constants where SPEC puts them, uniform bounds, orthogonality, seeding;
// and the Householder QR behind orthogonal init.
import { describe, expect, it } from 'vitest';
import {
  CELL_KINDS,
  TensorViews,
  buildLayout,
  initParams,
  linearFanIn,
  layerNormChoices,
  logit,
  orthogonalWeights,
  type CellKind,
} from '../../src/model/index.ts';
import { householderQr, matmul, semiOrthogonal, transpose } from '../../src/model/f64/linalg.ts';
import { Rng } from '../../src/util/random.ts';

const CASES = CELL_KINDS.flatMap((cell) =>
  layerNormChoices(cell).flatMap((layernorm) =>
    [false, true].map((orthogonal) => ({ name: `${cell} ln=${layernorm ? 'on' : 'off'} orthogonal=${orthogonal}`, cell, layernorm, orthogonal })),
  ),
);

/** Layers SPEC §2 zeroes after the default init. */
const ZERO_BIASES: Record<CellKind, string[]> = {
  const: ['Wx.bias', 'out.bias'],
  shared: ['Wx.bias', 'out.bias'],
  diag: ['Wx.bias', 'out.bias'],
  gru: ['out.bias'],
  lstm: ['out.bias'],
  linear: ['Wx.bias', 'out.bias'],
  rnn: ['out.bias'],
  rnn_relu: ['out.bias'],
  torch_gru: ['out.bias'],
  torch_lstm: ['out.bias'],
};

function expectIdentity(what: string, m: Float64Array, n: number, tol: number): void {
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < n; j++) {
      const expected = i === j ? 1 : 0;
      const got = m[i * n + j]!;
      expect(Math.abs(got - expected) <= tol, `${what}[${i},${j}]: expected ${expected}, got ${got}, tolerance ${tol}`).toBe(true);
    }
  }
}

describe.each(CASES)('$name', ({ cell, layernorm, orthogonal }) => {
  // D = 7 > H = 4 makes the W-layers wide ([4,7]) and exercises the transposed (rows < cols) orthogonal path.
  for (const [d, h] of [[3, 5], [7, 4]] as const) {
    const layout = buildLayout({ cell, inputSize: d, hiddenSize: h, layernorm });
    const params = initParams(layout, { seed: 11, constS: 0.05, orthogonal });
    const views = new TensorViews(layout, params);
    const tag = `D=${d} H=${h}`;

    it(`${tag}: zeros, ones and gate constants where SPEC §2 puts them`, () => {
      for (const name of ZERO_BIASES[cell]) expect([...views.get(name)], name).toEqual(Array(views.get(name).length).fill(0));
      if (layernorm) {
        const prefix = layout.tensors.find((t) => t.name.endsWith('.weight') && t.shape.length === 1)!.name.split('.')[0];
        expect([...views.get(`${prefix}.weight`)]).toEqual(Array(h).fill(1));
        expect([...views.get(`${prefix}.bias`)]).toEqual(Array(h).fill(0));
      }
      if (cell === 'shared' || cell === 'diag') {
        expect(views.get('Ws.weight').every((v) => v === 0), 'Ws.weight = 0').toBe(true);
        expect(views.get('Us.weight').every((v) => v === 0), 'Us.weight = 0').toBe(true);
        for (const b of views.get('Ws.bias')) expect(b).toBeCloseTo(Math.log(0.05 / 0.95), 14);
      }
      if (cell === 'const') expect(views.get('s_const')[0]).toBe(0.05);
    });

    it(`${tag}: other Linear tensors are uniform within ±1/√fan_in or (semi-)orthogonal`, () => {
      const orth = new Set(orthogonal ? orthogonalWeights(layout).map((t) => t.name) : []);
      for (const t of layout.tensors) {
        const values = views.get(t.name);
        if (orth.has(t.name)) {
          const [rows, cols] = t.shape as [number, number];
          const w = Float64Array.from(values);
          const gram = rows >= cols ? matmul(transpose(w, rows, cols), w, cols, rows, cols) : matmul(w, transpose(w, rows, cols), rows, cols, rows);
          expectIdentity(`${t.name} ${rows >= cols ? 'WᵀW' : 'WWᵀ'}`, gram, Math.min(rows, cols), 1e-12);
        } else if (t.trainable && !t.name.startsWith('ln') && !ZERO_BIASES[cell].includes(t.name) && !/^(Ws|Us)\./.test(t.name)) {
          const bound = 1 / Math.sqrt(linearFanIn(layout, t));
          for (let i = 0; i < values.length; i++) {
            expect(Math.abs(values[i]!) <= bound, `${t.name}[${i}] = ${values[i]} outside ±${bound}`).toBe(true);
          }
        }
      }
    });
  }

  it('same seed gives the same values; another seed gives other values', () => {
    const layout = buildLayout({ cell, inputSize: 3, hiddenSize: 5, layernorm });
    const a = initParams(layout, { seed: 5, orthogonal });
    const b = initParams(layout, { seed: 5, orthogonal });
    const c = initParams(layout, { seed: 6, orthogonal });
    expect([...a]).toEqual([...b]);
    // Every randomly drawn element changes with the seed (the SPEC constants do not).
    const fixed = (name: string) => name === 's_const' || name.startsWith('ln') || ZERO_BIASES[cell].includes(name) || /^(Ws|Us)\./.test(name);
    for (const t of layout.tensors.filter((t) => !fixed(t.name))) {
      const same = [...Array(t.size).keys()].filter((i) => a[t.offset + i] === c[t.offset + i]);
      expect(same, `${t.name}: elements equal under seeds 5 and 6`).toEqual([]);
    }
  });
});

describe("PyTorch's layers (SPEC §13)", () => {
  it.each(['rnn', 'torch_gru', 'torch_lstm'] as const)('%s: every recurrent weight and bias in ±1/√H (PyTorch: fan_in is H), not ±1/√D', (cell) => {
    const [D, H] = [1, 16]; // 1/√D = 1 would admit values the 1/√H = 0.25 bound refuses
    const layout = buildLayout({ cell, inputSize: D, hiddenSize: H, layernorm: false });
    const views = new TensorViews(layout, initParams(layout, { seed: 3, orthogonal: false }));
    for (const name of ['weight_ih_l0', 'weight_hh_l0', 'bias_ih_l0', 'bias_hh_l0']) {
      const values = [...views.get(name)];
      expect(Math.max(...values.map(Math.abs)), name).toBeLessThanOrEqual(0.25);
      expect(Math.max(...values.map(Math.abs)), `${name} spans its range`).toBeGreaterThan(0.2);
    }
  });
});

describe('initialisation options', () => {
  it('orthogonal is on by default (SPEC §2: paper default)', () => {
    const layout = buildLayout({ cell: 'gru', inputSize: 3, hiddenSize: 5, layernorm: true });
    expect([...initParams(layout, { seed: 1 })]).toEqual([...initParams(layout, { seed: 1, orthogonal: true })]);
  });

  it('const_s is clipped to [1e-6, 1-1e-6] as in the reference, and refused outside [0, 1]', () => {
    const layout = buildLayout({ cell: 'diag', inputSize: 2, hiddenSize: 3, layernorm: false });
    const views = new TensorViews(layout, initParams(layout, { seed: 1, constS: 0 }));
    expect(views.get('Ws.bias')[0]).toBeCloseTo(logit(1e-6), 12);
    expect(() => initParams(layout, { seed: 1, constS: 1.5 })).toThrow(/const_s must lie in \[0, 1\], got 1.5/);
  });

  it.each(CELL_KINDS)('%s: init_scale multiplies every Linear weight and leaves the rest (SPEC §12)', (cell) => {
    const layout = buildLayout({ cell, inputSize: 3, hiddenSize: 5, layernorm: false });
    const base = initParams(layout, { seed: 3 });
    const scaled = initParams(layout, { seed: 3, scale: 0.125 }); // a power of two: the products are exact
    for (const t of layout.tensors) {
      const factor = t.shape.length === 2 ? 0.125 : 1;
      for (let i = 0; i < t.size; i++) expect(scaled[t.offset + i], `${t.name}[${i}]`).toBe(base[t.offset + i]! * factor);
    }
    expect(() => initParams(layout, { seed: 3, scale: 0 })).toThrow(/init_scale must be a positive number, got 0/);
  });
});

describe('Householder QR and semiOrthogonal', () => {
  it.each([
    [6, 6],
    [9, 4],
    [5, 1],
    [3, 8],
    [1, 7],
  ])('[%i,%i]', (rows, cols) => {
    const g = new Rng(rows * 100 + cols).fillNormal(new Float64Array(rows * cols)) as Float64Array;
    const tall = rows >= cols;
    const [m, n] = tall ? [rows, cols] : [cols, rows];
    const a = tall ? g : transpose(g, rows, cols);
    const { q, r } = householderQr(a, m, n);
    // A = QR, R upper triangular, QᵀQ = I.
    const qr = matmul(q, r, m, n, n);
    for (let i = 0; i < m * n; i++) expect(Math.abs(qr[i]! - a[i]!) <= 1e-12 * (1 + Math.abs(a[i]!)), `QR[${i}] = ${qr[i]} vs A ${a[i]}`).toBe(true);
    for (let i = 0; i < n; i++) for (let j = 0; j < i; j++) expect(r[i * n + j], `R[${i},${j}]`).toBe(0);
    expectIdentity('QᵀQ', matmul(transpose(q, m, n), q, n, m, n), n, 1e-12);
    // The sign fix makes the factor unique: Q_fixed = A R_fixed⁻¹ with diag(R_fixed) > 0, so Q_fixedᵀ A is
    // upper triangular with a positive diagonal.
    const w = semiOrthogonal(g, rows, cols);
    const wTall = tall ? w : transpose(w, rows, cols);
    const rFixed = matmul(transpose(wTall, m, n), a, n, m, n);
    for (let i = 0; i < n; i++) {
      expect(rFixed[i * n + i]!, `diag(R)[${i}] after the sign fix`).toBeGreaterThan(0);
      for (let j = 0; j < i; j++) expect(Math.abs(rFixed[i * n + j]!) < 1e-12, `R[${i},${j}] = ${rFixed[i * n + j]}`).toBe(true);
    }
  });

  it('refuses a wide matrix', () => {
    expect(() => householderQr(new Float64Array(6), 2, 3)).toThrow(/rows ≥ cols/);
  });
});
