// The float64 twin of PyTorch's stock layers checked against itself by finite differences (SPEC §13): every
// parameter's BPTT gradient, the tangents v^{(k)}_t, the one-step state and input Jacobians, the layer errors
// δ^{(k)}_t, and the SPEC §13 diagonal terms against the Jacobian's diagonal. Central differences with step 1e-6
// have truncation error ~1e-12 and rounding error ~1e-16/1e-6 = 1e-10 on these O(1) quantities, hence 1e-7 + 1e-6·|v|.
import { describe, expect, it } from 'vitest';
import {
  layerErrors, outputErrors, torchDiagonalTerms, torchForward, torchForwardLoss, torchGradients, torchInputJacobian, torchLayout,
  torchParams, torchStateJacobian, torchTangents, torchRho, cellOf, WINDOW_RULE,
  type LossSteps, type TorchCell, type TorchLoss, type TorchModelConfig, type TorchNonlinearity, type TorchParams, type TorchTargets,
} from '../../src/model/f64/torch/index.ts';
import type { RecurrentState } from '../../src/model/f64/types.ts';
import { Rng } from '../../src/util/random.ts';
import { INTERMEDIATE_NAMES } from '../../src/model/cells.ts';

const EPS = 1e-6;
const TOL = { abs: 1e-7, rel: 1e-6 };
const [B, T, D, H, K] = [2, 5, 3, 4, 2];

interface Variant { name: string; cell: TorchCell; nonlinearity: TorchNonlinearity; layers: number; bias: boolean }
const VARIANTS: Variant[] = [
  ...([1, 2] as const).flatMap((layers) => [
    { name: `rnn tanh L${layers}`, cell: 'rnn' as const, nonlinearity: 'tanh' as const, layers, bias: true },
    { name: `rnn relu L${layers}`, cell: 'rnn' as const, nonlinearity: 'relu' as const, layers, bias: true },
    { name: `torch_gru L${layers}`, cell: 'torch_gru' as const, nonlinearity: 'tanh' as const, layers, bias: true },
    { name: `torch_lstm L${layers}`, cell: 'torch_lstm' as const, nonlinearity: 'tanh' as const, layers, bias: true },
  ]),
  { name: 'torch_gru L2 bias=False', cell: 'torch_gru', nonlinearity: 'tanh', layers: 2, bias: false },
  { name: 'torch_lstm L3 bias=False', cell: 'torch_lstm', nonlinearity: 'tanh', layers: 3, bias: false },
];
const LOSSES: [TorchLoss, LossSteps][] = [['mse', 'all'], ['mse', 'last'], ['ce', 'all'], ['ce', 'last']];

function setup(v: Variant, seed = 7) {
  const rng = new Rng(seed);
  const config: TorchModelConfig = { cell: v.cell, nonlinearity: v.nonlinearity, layers: v.layers, inputSize: D, hiddenSize: H, bias: v.bias, outputs: K, readoutBias: true };
  const layout = torchLayout(config);
  const params = torchParams(layout, uniform(rng, layout.totalSize, -0.7, 0.7));
  const x = normal(rng, B * T * D);
  const yMse = normal(rng, B * T * K);
  const yCe = Float64Array.from({ length: B * T }, () => rng.int(K));
  const dir = torchParams(layout, normal(rng, layout.totalSize));
  return { params, batch: { x, batch: B, steps: T }, yMse, yCe, dir, rng };
}

function shifted(params: TorchParams, dir: Float64Array, scale: number): TorchParams {
  return torchParams(params.layout, params.data.map((p, i) => p + scale * dir[i]!));
}

function expectClose(label: string, got: ArrayLike<number>, want: ArrayLike<number>): void {
  expect(got.length, `${label}: length`).toBe(want.length);
  for (let i = 0; i < want.length; i++) {
    const tolerance = TOL.abs + TOL.rel * Math.abs(want[i]!);
    if (!(Math.abs(got[i]! - want[i]!) <= tolerance)) expect.fail(`${label} [${i}]: expected ${want[i]}, got ${got[i]}, tolerance ${tolerance}`);
  }
}

describe.each(VARIANTS)('float64 twin, $name', (v) => {
  const { params, batch, yMse, yCe, dir, rng } = setup(v);

  it.each(LOSSES)('BPTT gradient of every parameter matches finite differences (%s, %s)', (loss, lossSteps) => {
    const targets: TorchTargets = { loss, lossSteps, y: loss === 'mse' ? yMse : yCe };
    const { grad } = torchGradients(params, batch, targets);
    const lossAt = (p: TorchParams) => torchForwardLoss(p, torchForward(p, batch), targets).loss;
    const fd = params.data.map((_, i) => {
      const e = new Float64Array(params.data.length);
      e[i] = 1;
      return (lossAt(shifted(params, e, EPS)) - lossAt(shifted(params, e, -EPS))) / (2 * EPS);
    });
    for (const spec of params.layout.tensors) {
      expectClose(`∂L/∂${spec.name}`, grad.data.subarray(spec.offset, spec.offset + spec.size), fd.subarray(spec.offset, spec.offset + spec.size));
    }
  });

  it('tangents v^(k)_t match finite differences of every layer\'s h along the direction', () => {
    const forward = torchForward(params, batch);
    const { hidden, cell } = torchTangents(params, forward, dir);
    const plus = torchForward(shifted(params, dir.data, EPS), batch);
    const minus = torchForward(shifted(params, dir.data, -EPS), batch);
    for (let k = 0; k < v.layers; k++) {
      expectClose(`v^(${k})`, hidden[k]!, plus.hidden[k]!.map((h, i) => (h - minus.hidden[k]![i]!) / (2 * EPS)));
      if (v.cell === 'torch_lstm') expectClose(`c tangent (${k})`, cell![k]!, plus.cellStates![k]!.map((c, i) => (c - minus.cellStates![k]![i]!) / (2 * EPS)));
    }
    expect(cell === null).toBe(v.cell !== 'torch_lstm');
  });

  it('input tangents (parameters fixed, x perturbed: SPEC §12) match finite differences', () => {
    const xDot = normal(rng, B * T * D);
    const { hidden } = torchTangents(params, torchForward(params, batch), null, xDot);
    const at = (scale: number) => torchForward(params, { ...batch, x: batch.x.map((v, i) => v + scale * xDot[i]!) });
    const [plus, minus] = [at(EPS), at(-EPS)];
    for (let k = 0; k < v.layers; k++) expectClose(`ẋ → h^(${k})`, hidden[k]!, plus.hidden[k]!.map((h, i) => (h - minus.hidden[k]![i]!) / (2 * EPS)));
    expect(() => torchTangents(params, torchForward(params, batch), null, new Float64Array(3))).toThrow(/input tangent has 3 values; \[B,T,D\] = \[2,5,3\] needs 30/);
  });

  it('ρ is the J²-weighted mean of η over the layer\'s own parameters, J by finite differences of one step', () => {
    const forward = torchForward(params, batch);
    const eta = uniform(rng, params.layout.totalSize, 1e-4, 1e-2);
    const rho = torchRho(params, forward, eta);
    const etaBar = eta.reduce((a, x) => a + x, 0) / eta.length; // where a unit has no sensitivity (a dead ReLU)
    const cell = cellOf(params);
    for (let k = 0; k < v.layers; k++) {
      const [b, t] = [rng.int(B), rng.int(T)];
      const rec = forward.records[k]![b]![t]!;
      const own = params.layout.tensors.filter((s) => s.name.endsWith(`_l${k}`)).flatMap((s) => Array.from({ length: s.size }, (_, i) => s.offset + i));
      const [weighted, total] = [new Float64Array(H), new Float64Array(H)];
      for (const p of own) {
        const step = (scale: number) => cell.step(shifted(params, unit(params.layout.totalSize, p), scale).layers[k]!, rec.x, rec.prev).next.h;
        const [up, down] = [step(EPS), step(-EPS)];
        for (let q = 0; q < H; q++) {
          const j = (up[q]! - down[q]!) / (2 * EPS);
          weighted[q]! += j * j * eta[p]!;
          total[q]! += j * j;
        }
      }
      expectClose(`ρ layer ${k}, b ${b}, t ${t}`, rho[k]!.subarray((b * T + t) * H, (b * T + t + 1) * H), weighted.map((w, q) => (total[q]! > 0 ? w / total[q]! : etaBar)));
    }
    // SGD: η = lr everywhere gives ρ = lr exactly (SPEC §5).
    for (const layer of torchRho(params, forward, new Float64Array(params.layout.totalSize).fill(0.01))) expect(layer.every((r) => Math.abs(r - 0.01) < 1e-17)).toBe(true);
  });

  it('one-step state and input Jacobians match finite differences of the step', () => {
    const cell = cellOf(params);
    const forward = torchForward(params, batch);
    for (let k = 0; k < v.layers; k++) {
      const rec = forward.records[k]![1]![3]!;
      const p = params.layers[k]!;
      const stacked = [...rec.prev.h, ...(rec.prev.c ?? [])];
      const width = stacked.length;
      const state = (s: number[]): RecurrentState => ({ h: Float64Array.from(s.slice(0, H)), ...(rec.prev.c ? { c: Float64Array.from(s.slice(H)) } : {}) });
      const out = (r: ReturnType<typeof cell.step>) => [...r.next.h, ...(r.next.c ?? [])];
      const fdState = new Float64Array(width * width);
      for (let j = 0; j < width; j++) {
        const up = [...stacked];
        const down = [...stacked];
        up[j]! += EPS;
        down[j]! -= EPS;
        const [a, b] = [out(cell.step(p, rec.x, state(up))), out(cell.step(p, rec.x, state(down)))];
        for (let i = 0; i < width; i++) fdState[i * width + j] = (a[i]! - b[i]!) / (2 * EPS);
      }
      expectClose(`layer ${k} ∂(h',c')/∂(h,c)`, torchStateJacobian(cell, p, rec), fdState);
      const inputs = rec.x.length;
      const fdInput = new Float64Array(H * inputs);
      for (let j = 0; j < inputs; j++) {
        const [up, down] = [Float64Array.from(rec.x), Float64Array.from(rec.x)];
        up[j]! += EPS;
        down[j]! -= EPS;
        const [a, b] = [cell.step(p, up, rec.prev).next.h, cell.step(p, down, rec.prev).next.h];
        for (let i = 0; i < H; i++) fdInput[i * inputs + j] = (a[i]! - b[i]!) / (2 * EPS);
      }
      expectClose(`layer ${k} ∂h'/∂x`, torchInputJacobian(cell, p, rec), fdInput);
    }
  });

  it('SPEC §13 diagonal terms are the one-step Jacobian\'s diagonal', () => {
    const cell = cellOf(params);
    const forward = torchForward(params, batch);
    const terms = torchDiagonalTerms(params, forward);
    for (let k = 0; k < v.layers; k++) {
      forward.records[k]!.forEach((sequence, b) => sequence.forEach((rec, t) => {
        const j = torchStateJacobian(cell, params.layers[k]!, rec);
        const at = (name: string) => terms[k]![name]!.subarray((b * T + t) * H, (b * T + t + 1) * H);
        const width = rec.prev.c ? 2 * H : H;
        const entry = (row: number, col: number) => Array.from({ length: H }, (_, q) => j[(row + q) * width + col + q]!);
        const where = `layer ${k}, b ${b}, t ${t}`;
        if (v.cell === 'rnn') expectClose(`${where}: d = ∂h'_q/∂h_q`, at('d'), entry(0, 0));
        if (v.cell === 'torch_gru') {
          expectClose(`${where}: leak + rdiag = ∂h'_q/∂h_q`, at('leak').map((l, q) => l + at('rdiag')[q]!), entry(0, 0));
          expectClose(`${where}: gate = 1 - leak`, at('gate'), at('leak').map((l) => 1 - l));
        }
        if (v.cell === 'torch_lstm') {
          expectClose(`${where}: f = ∂c'_q/∂c_q`, at('f'), entry(H, H));
          expectClose(`${where}: cdiag = ∂c'_q/∂h_q`, at('cdiag'), entry(H, 0));
          expectClose(`${where}: e f = ∂h'_q/∂c_q`, at('e').map((e, q) => e * at('f')[q]!), entry(0, H));
        }
      }));
    }
    expect(Object.keys(terms[0]!)).toEqual([...cell.termNames]);
    // The planes line up with the cell whose SPEC §5 window rule they follow (rnn's d is linear's leak).
    expect(cell.termNames.map((n) => (n === 'd' ? 'leak' : n))).toEqual(INTERMEDIATE_NAMES[WINDOW_RULE[v.cell]]);
  });

  it('layer errors δ^(k)_t chain δ_t down through the same-step input Jacobians', () => {
    const cell = cellOf(params);
    const forward = torchForward(params, batch);
    const loss = torchForwardLoss(params, forward, { loss: 'mse', lossSteps: 'all', y: yMse });
    const delta = outputErrors(params, loss.residual, B * T);
    const errors = layerErrors(params, forward, delta);
    expect(errors[v.layers - 1]).toBe(delta);
    for (let k = 0; k < v.layers - 1; k++) {
      const [b, t] = [rng.int(B), rng.int(T)];
      const row = b * T + t;
      // (∂h^(L-1)_t/∂h^(k)_t)ᵀ δ_t by perturbing h^(k)_t and re-running layers k+1…L-1 at step t from their previous states.
      const top = (hk: Float64Array) => {
        let h = hk;
        for (let m = k + 1; m < v.layers; m++) h = cell.step(params.layers[m]!, h, forward.records[m]![b]![t]!.prev).next.h;
        return h;
      };
      const hk = forward.hidden[k]!.slice(row * H, (row + 1) * H);
      const fd = hk.map((_, j) => {
        const [up, down] = [Float64Array.from(hk), Float64Array.from(hk)];
        up[j]! += EPS;
        down[j]! -= EPS;
        const [a, c] = [top(up), top(down)];
        return a.reduce((s, ai, q) => s + ((ai - c[q]!) / (2 * EPS)) * delta[row * H + q]!, 0);
      });
      expectClose(`δ^(${k}) at b ${b}, t ${t}`, errors[k]!.subarray(row * H, (row + 1) * H), fd);
    }
  });
});

describe('readout losses', () => {
  const { params, batch, yMse, yCe } = setup(VARIANTS[3]!);
  const forward = torchForward(params, batch);

  it('with `last`, one target per sequence gives the same loss as [B,T,...] targets read at T-1', () => {
    const lastMse = Float64Array.from({ length: B * K }, (_, i) => yMse[(Math.floor(i / K) * T + T - 1) * K + (i % K)]!);
    const lastCe = Float64Array.from({ length: B }, (_, b) => yCe[b * T + T - 1]!);
    expect(torchForwardLoss(params, forward, { loss: 'mse', lossSteps: 'last', y: lastMse }).loss).toBe(torchForwardLoss(params, forward, { loss: 'mse', lossSteps: 'last', y: yMse }).loss);
    expect(torchForwardLoss(params, forward, { loss: 'ce', lossSteps: 'last', y: lastCe }).loss).toBe(torchForwardLoss(params, forward, { loss: 'ce', lossSteps: 'last', y: yCe }).loss);
  });

  it('ce reports accuracy (argmax = target), mse none; residual is zero off the loss steps', () => {
    const ce = torchForwardLoss(params, forward, { loss: 'ce', lossSteps: 'last', y: yCe });
    let correct = 0;
    for (let b = 0; b < B; b++) {
      const logits = Array.from(forward.yHat.subarray((b * T + T - 1) * K, (b * T + T) * K));
      if (logits.indexOf(Math.max(...logits)) === yCe[b * T + T - 1]) correct++;
    }
    expect(ce.accuracy).toBe(correct / B);
    expect(ce.residual.subarray(0, (T - 1) * K).every((r) => r === 0)).toBe(true);
    expect(torchForwardLoss(params, forward, { loss: 'mse', lossSteps: 'all', y: yMse }).accuracy).toBeNull();
  });

  it.each([
    { name: 'mse targets of the wrong size', targets: { loss: 'mse', lossSteps: 'all', y: new Float64Array(B * T) }, message: /mse targets have 10 values; expected \[B,T,K\] = \[2,5,2\]/ },
    { name: 'ce targets of the wrong size with last', targets: { loss: 'ce', lossSteps: 'last', y: new Float64Array(3) }, message: /or, with --loss-steps last, \[B\] = \[2\]/ },
    { name: 'a class index out of range', targets: { loss: 'ce', lossSteps: 'all', y: new Float64Array(B * T).fill(2) }, message: /class indices 0…1 \(K=2 readout rows\); element 0 is 2/ },
    { name: 'a fractional class', targets: { loss: 'ce', lossSteps: 'all', y: new Float64Array(B * T).fill(0.5) }, message: /element 0 is 0.5/ },
  ] as { name: string; targets: TorchTargets; message: RegExp }[])('refuses $name', ({ targets, message }) => {
    expect(() => torchForwardLoss(params, forward, targets)).toThrow(message);
  });

  it('refuses X of the wrong size, naming the model', () => {
    expect(() => torchForward(params, { x: new Float64Array(5), batch: B, steps: T })).toThrow(/X has 5 values; \[B,T,D\] = \[2,5,3\] needs 30 for the torch_lstm, 1 layer, D=3, H=4/);
  });
});

/** Rng's fills, typed as the Float64Array they are given. */
function uniform(rng: Rng, n: number, lo: number, hi: number): Float64Array {
  const out = new Float64Array(n);
  rng.fillUniform(out, lo, hi);
  return out;
}

function normal(rng: Rng, n: number): Float64Array {
  const out = new Float64Array(n);
  rng.fillNormal(out);
  return out;
}

function unit(n: number, i: number): Float64Array {
  const e = new Float64Array(n);
  e[i] = 1;
  return e;
}
