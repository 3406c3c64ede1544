// SPEC §4 intermediates of the float64 forward, recomputed here independently: from the forward's own h_{t-1}
// (and c_{t-1}) and the parameters, with this file's own small matrix code, the SPEC §2 step and the §4 formulas.
// The step is checked too (h_t, c_t reproduce), so the recurrence and the diagnostics are both pinned.
import { describe, expect, it } from 'vitest';
import { LAYERNORM_PREFIX, TensorViews, type ParamLayout } from '../../../src/model/index.ts';
import { isTorchCell, stateWidth, windowRuleCell } from '../../../src/model/cells.ts';
import { cellReference, referenceForward, referenceStep, type IntermediateValues } from '../../../src/reference/cells/index.ts';
import { allCases, expectClose, makeFixture, SIZES, type CellCase } from './cases.ts';

type Vec = number[];
const sig = (a: number) => 1 / (1 + Math.exp(-a));

/** Textbook parameter access: W [rows, cols] as rows of numbers. */
function model(layout: ParamLayout, params: Float64Array) {
  const views = new TensorViews(layout, params);
  const vec = (name: string): Vec => [...views.get(name)];
  const mat = (name: string): Vec[] => {
    const spec = layout.tensors.find((t) => t.name === name)!;
    const [rows, cols] = spec.shape as [number, number];
    return Array.from({ length: rows }, (_, r) => [...views.get(name).subarray(r * cols, (r + 1) * cols)]);
  };
  const affine = (w: string, u: string, x: Vec, h: Vec): Vec =>
    mat(`${w}.weight`).map((row, o) => vec(`${w}.bias`)[o]! + row.reduce((s, v, k) => s + v * x[k]!, 0) + mat(`${u}.weight`)[o]!.reduce((s, v, k) => s + v * h[k]!, 0));
  const lnName = LAYERNORM_PREFIX[layout.config.cell];
  const norm = (a: Vec): Vec => {
    if (!layout.config.layernorm) return a;
    const mean = a.reduce((s, v) => s + v, 0) / a.length;
    const variance = a.reduce((s, v) => s + (v - mean) ** 2, 0) / a.length;
    return a.map((v, q) => ((v - mean) / Math.sqrt(variance + 1e-5)) * vec(`${lnName}.weight`)[q]! + vec(`${lnName}.bias`)[q]!);
  };
  const diag = (name: string): Vec => mat(name).map((row, q) => row[q]!);
  return { vec, mat, affine, norm, diag };
}

interface Expected {
  h: Vec;
  c?: Vec;
  terms: Partial<Record<keyof IntermediateValues, Vec>>;
}

/** SPEC §2 step and SPEC §4 terms for one (b, t). */
function expectedStep(c: CellCase, m: ReturnType<typeof model>, x: Vec, hp: Vec, cp: Vec): Expected {
  const H = hp.length;
  const units = [...Array(H).keys()];
  if (c.cell === 'linear') {
    // SPEC §12: h' = Wh h + Wx x + Wx.bias; its one term is the signed diagonal Wh_qq.
    return { h: m.affine('Wx', 'Wh', x, hp), terms: { leak: m.diag('Wh.weight') } };
  }
  if (c.cell === 'lstm') {
    const i = m.affine('Wi', 'Ui', x, hp).map(sig);
    const f = m.affine('Wf', 'Uf', x, hp).map(sig);
    const o = m.affine('Wo', 'Uo', x, hp).map(sig);
    const g = m.norm(m.affine('Wg', 'Ug', x, hp)).map(Math.tanh);
    const cNew = units.map((q) => f[q]! * cp[q]! + i[q]! * g[q]!);
    const [uf, ug, ui] = [m.diag('Uf.weight'), m.diag('Ug.weight'), m.diag('Ui.weight')];
    return {
      h: units.map((q) => o[q]! * Math.tanh(cNew[q]!)),
      c: cNew,
      terms: {
        f,
        e: units.map((q) => o[q]! * (1 - Math.tanh(cNew[q]!) ** 2)),
        cdiag: units.map((q) => cp[q]! * f[q]! * (1 - f[q]!) * uf[q]! + i[q]! * (1 - g[q]! ** 2) * ug[q]! + g[q]! * i[q]! * (1 - i[q]!) * ui[q]!),
      },
    };
  }
  if (c.cell === 'gru') {
    const z = m.affine('Wz', 'Uz', x, hp).map(sig);
    const r = m.affine('Wr', 'Ur', x, hp).map(sig);
    const g = m.norm(m.affine('Wh', 'Uh', x, units.map((q) => r[q]! * hp[q]!))).map(Math.tanh);
    const [uz, ur, uh] = [m.diag('Uz.weight'), m.diag('Ur.weight'), m.diag('Uh.weight')];
    return {
      h: units.map((q) => (1 - z[q]!) * hp[q]! + z[q]! * g[q]!),
      terms: {
        gate: z,
        leak: z.map((v) => 1 - v),
        r,
        rdiag: units.map(
          (q) => (g[q]! - hp[q]!) * z[q]! * (1 - z[q]!) * uz[q]! + z[q]! * (1 - g[q]! ** 2) * uh[q]! * (r[q]! + hp[q]! * r[q]! * (1 - r[q]!) * ur[q]!),
        ),
      },
    };
  }
  const g = m.norm(m.affine('Wx', 'Wh', x, hp)).map(Math.tanh);
  const wh = m.diag('Wh.weight');
  let s: Vec;
  let gateTerm: Vec; // σ'(a_s) Us_q (shared) or σ'(a_s,q) Us_qq (diag); 0 for const
  if (c.cell === 'const') {
    s = units.map(() => m.vec('s_const')[0]!);
    gateTerm = units.map(() => 0);
  } else if (c.cell === 'shared') {
    const scalar = sig(m.affine('Ws', 'Us', x, hp)[0]!);
    s = units.map(() => scalar);
    gateTerm = m.vec('Us.weight').map((u) => scalar * (1 - scalar) * u);
  } else {
    s = m.affine('Ws', 'Us', x, hp).map(sig);
    const us = m.diag('Us.weight');
    gateTerm = units.map((q) => s[q]! * (1 - s[q]!) * us[q]!);
  }
  return {
    h: units.map((q) => (1 - s[q]!) * hp[q]! + s[q]! * g[q]!),
    terms: {
      gate: s,
      leak: s.map((v) => 1 - v),
      rdiag: units.map((q) => (g[q]! - hp[q]!) * gateTerm[q]! + s[q]! * (1 - g[q]! ** 2) * wh[q]!),
    },
  };
}

const EXPECTED_NAMES = {
  const: ['gate', 'leak', 'rdiag'],
  shared: ['gate', 'leak', 'rdiag'],
  diag: ['gate', 'leak', 'rdiag'],
  gru: ['gate', 'leak', 'rdiag', 'r'],
  lstm: ['f', 'e', 'cdiag'],
  linear: ['leak'],
  rnn: ['leak'],
  rnn_relu: ['leak'],
  torch_gru: ['gate', 'leak', 'rdiag'],
  torch_lstm: ['f', 'e', 'cdiag'],
} as const;

// PyTorch's layers' SPEC §13 formulas are checked term by term in test/torch/twin.test.ts; here, lwin's own cells.
describe.each(allCases(['orthogonal', 'perturbed', 'saturated']).filter((c) => !isTorchCell(c.cell)))('$name', (c) => {
  const { layout, params, data } = makeFixture(c);
  const fwd = referenceForward(layout, params, data);
  const { batch, steps, hidden: H, input: D } = SIZES;

  it('records exactly the SPEC §4 arrays, each [B,T,H]', () => {
    expect(Object.keys(fwd.intermediates).sort()).toEqual([...EXPECTED_NAMES[c.cell]].sort());
    for (const values of Object.values(fwd.intermediates)) expect(values.length).toBe(batch * steps * H);
  });

  it('h, c and every intermediate match the SPEC formulas recomputed from h_{t-1}', () => {
    const m = model(layout, params);
    const expected: Record<string, number[]> = { h: [], c: [] };
    for (const name of EXPECTED_NAMES[c.cell]) expected[name] = [];
    for (let b = 0; b < batch; b++) {
      for (let t = 0; t < steps; t++) {
        const row = b * steps + t;
        const x = [...data.x.subarray(row * D, (row + 1) * D)];
        const hp = t === 0 ? Array<number>(H).fill(0) : [...fwd.h.subarray((row - 1) * H, row * H)];
        const cp = t === 0 || !fwd.c ? Array<number>(H).fill(0) : [...fwd.c.subarray((row - 1) * H, row * H)];
        const e = expectedStep(c, m, x, hp, cp);
        expected.h!.push(...e.h);
        if (e.c) expected.c!.push(...e.c);
        for (const name of EXPECTED_NAMES[c.cell]) expected[name]!.push(...e.terms[name]!);
      }
    }
    const rtol = 1e-12;
    const atol = 1e-14;
    expectClose(`${c.name} h`, fwd.h, expected.h!, rtol, atol);
    if (fwd.c) expectClose(`${c.name} c`, fwd.c, expected.c!, rtol, atol);
    for (const name of EXPECTED_NAMES[c.cell]) expectClose(`${c.name} ${name}`, fwd.intermediates[name]!, expected[name]!, rtol, atol);
  });

  it('referenceStep from (h_{t-1}, c_{t-1}) reproduces step t of the forward pass', () => {
    const row = steps + 3; // sequence 1, t = 3
    const slice = (a: Float64Array, r: number) => a.slice(r * H, (r + 1) * H);
    const prev = fwd.c ? { h: slice(fwd.h, row - 1), c: slice(fwd.c, row - 1) } : { h: slice(fwd.h, row - 1) };
    const one = referenceStep(layout, params, data.x.subarray(row * D, (row + 1) * D), prev);
    expect([...one.next.h]).toEqual([...slice(fwd.h, row)]);
    if (fwd.c) expect([...one.next.c!]).toEqual([...slice(fwd.c, row)]);
    expect(one.yHat).toBe(fwd.yHat[row]);
    for (const name of EXPECTED_NAMES[c.cell]) expect([...one.intermediates[name]!], name).toEqual([...slice(fwd.intermediates[name]!, row)]);
  });
});

// Without LayerNorm the diagonal terms are exact Jacobian diagonals for these cells (SPEC §4 leaves out
// only LayerNorm's Jacobian; GRU's rdiag also drops off-diagonal reset-gate mixing, so it is not checked here).
// PyTorch's layers (SPEC §13) too: rnn's d is the whole diagonal, torch_gru's reset acts on its own unit's m only.
const EXACT_DIAGONAL_CASES = allCases(['orthogonal', 'perturbed', 'saturated']).filter((c) => !c.layernorm && c.cell !== 'gru');

describe.each(EXACT_DIAGONAL_CASES)('$name', (c) => {
  const { layout, params, data } = makeFixture(c);
  const fwd = referenceForward(layout, params, data);
  const { steps, hidden: H, input: D } = SIZES;

  it('the diagonal terms equal the one-step Jacobian diagonal (central differences of one step)', () => {
    const cell = cellReference(c.cell);
    const p = new TensorViews(layout, params);
    const step = 1e-6;
    for (let t = 1; t < steps; t++) {
      const row = t; // sequence 0
      const x = Float64Array.from(data.x.subarray(row * D, (row + 1) * D));
      const prev = { h: fwd.h.slice((row - 1) * H, row * H), c: fwd.c?.slice((row - 1) * H, row * H) };
      const fdDiag = (which: 'h' | 'c', wrt: 'h' | 'c') =>
        Array.from({ length: H }, (_, q) => {
          const shifted = (delta: number) => {
            const s = { h: Float64Array.from(prev.h), c: prev.c ? Float64Array.from(prev.c) : undefined };
            s[wrt]![q] = s[wrt]![q]! + delta;
            return cell.step(p, x, stateWidth(c.cell) === 2 ? s : { h: s.h }).next[which]![q]!;
          };
          return (shifted(step) - shifted(-step)) / (2 * step);
        });
      const at = (name: keyof IntermediateValues) => [...fwd.intermediates[name]!.subarray(row * H, (row + 1) * H)];
      if (windowRuleCell(c.cell) === 'lstm') {
        expectClose(`${c.name} t=${t} cdiag = diag ∂c_t/∂h_{t-1}`, at('cdiag'), fdDiag('c', 'h'), 1e-6, 1e-9);
        expectClose(`${c.name} t=${t} f = diag ∂c_t/∂c_{t-1}`, at('f'), fdDiag('c', 'c'), 1e-6, 1e-9);
      } else if (windowRuleCell(c.cell) === 'linear') {
        expectClose(`${c.name} t=${t} leak = diag ∂h_t/∂h_{t-1} = Wh_qq`, at('leak'), fdDiag('h', 'h'), 1e-6, 1e-9);
      } else {
        const leakPlusRdiag = at('leak').map((l, q) => l + at('rdiag')[q]!);
        expectClose(`${c.name} t=${t} leak + rdiag = diag ∂h_t/∂h_{t-1}`, leakPlusRdiag, fdDiag('h', 'h'), 1e-6, 1e-9);
      }
    }
  });
});
