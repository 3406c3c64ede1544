// The multi-lag task (SPEC §1): u, the target formula recomputed independently in float64, the noise law, the
// seed streams, the oracle R² bound, and the paper-size training set.
import { describe, expect, it } from 'vitest';
import type { SequenceData } from '../../src/data/dataset.ts';
import { MultiLagTask, PAPER_TASK, type TaskConfig } from '../../src/data/task.ts';
import { expectClose } from '../stats/close.ts';

const SMALL: TaskConfig = { steps: 40, inputSize: 3, lags: [1, 5, 17], coeffs: [0.7, -0.4, 1.3], noiseStd: 0.2, seed: 11 };

/** The noiseless target Σ_k c_k (u · x_{t-ℓ_k}) of sequence n at step t, in float64, straight from SPEC §1. */
function signal(data: SequenceData, u: Float64Array, config: TaskConfig, n: number, t: number): number {
  let value = 0;
  config.lags.forEach((lag, k) => {
    if (t - lag < 0) return; // omitted term
    let dot = 0;
    for (let d = 0; d < data.inputSize; d++) dot += u[d]! * data.x[(n * data.steps + t - lag) * data.inputSize + d]!;
    value += config.coeffs[k]! * dot;
  });
  return value;
}

/** Residuals y - signal over every (n, t). */
function residuals(data: SequenceData, u: Float64Array, config: TaskConfig): Float64Array {
  const out = new Float64Array(data.count * data.steps);
  for (let n = 0; n < data.count; n++) for (let t = 0; t < data.steps; t++) out[n * data.steps + t] = data.y[n * data.steps + t]! - signal(data, u, config, n, t);
  return out;
}

const variance = (values: ArrayLike<number>) => {
  let s = 0, s2 = 0;
  for (let i = 0; i < values.length; i++) (s += values[i]!), (s2 += values[i]! ** 2);
  return s2 / values.length - (s / values.length) ** 2;
};

describe('task configuration', () => {
  it('PAPER_TASK holds the paper values and is frozen', () => {
    expect(PAPER_TASK).toMatchObject({ steps: 1024, inputSize: 16, lags: [32, 64, 128, 192, 256], coeffs: [0.6, 0.5, 0.4, 0.32, 0.26], noiseStd: 0.3 });
    expect(Object.isFrozen(PAPER_TASK) && Object.isFrozen(PAPER_TASK.lags)).toBe(true);
  });
  it.each([
    ['T = 0', { steps: 0 }, /steps \(T\) must be a positive integer, got 0/],
    ['fractional D', { inputSize: 2.5 }, /inputSize \(D\) must be a positive integer, got 2.5/],
    ['no lags', { lags: [], coeffs: [] }, /lags are empty/],
    ['count mismatch', { lags: [1, 2], coeffs: [1] }, /2 lags but 1 coefficients; give one coefficient per lag/],
    ['lag 0', { lags: [0, 5, 17] }, /lag 0 is 0; lags must be integers in \[1, T-1\] = \[1, 39\]/],
    ['lag = T', { lags: [1, 5, 40] }, /lag 2 is 40; lags must be integers in \[1, T-1\]/],
    ['fractional lag', { lags: [1, 2.5, 17] }, /lag 1 is 2.5/],
    ['NaN coefficient', { coeffs: [0.7, NaN, 1] }, /coefficient 1 is NaN; coefficients must be finite/],
    ['negative noise', { noiseStd: -0.1 }, /noiseStd is -0.1; it must be a finite number ≥ 0/],
    ['zero targets', { coeffs: [0, 0, 0], noiseStd: 0 }, /identically zero/],
    ['fractional seed', { seed: 0.5 }, /seed must be an integer, got 0.5/],
  ] as const)('refuses %s', (_name, change, message) => {
    expect(() => new MultiLagTask({ ...SMALL, ...change })).toThrow(message);
  });
  it('refuses a non-positive sequence count and a negative epoch', () => {
    const task = new MultiLagTask(SMALL);
    expect(() => task.trainingSet(0)).toThrow(/sequence count must be a positive integer, got 0/);
    expect(() => task.validationSet(4, -1)).toThrow(/epoch must be a non-negative integer, got -1/);
  });
});

describe('u and the target formula', () => {
  const task = new MultiLagTask(SMALL);
  const u = task.direction;

  it('u is a unit vector, fixed by the seed', () => {
    expectClose('|u|', Math.hypot(...u), 1, { abs: 1e-15 });
    expect(Array.from(new MultiLagTask({ ...SMALL, noiseStd: 0.5 }).direction)).toEqual(Array.from(u));
    expect(Array.from(new MultiLagTask({ ...SMALL, seed: 12 }).direction)).not.toEqual(Array.from(u));
  });

  it('noiseless targets equal Σ c_k u·x_{t-ℓ_k}, early terms omitted, for every set (one u)', () => {
    const exact = new MultiLagTask({ ...SMALL, noiseStd: 0 });
    expect(Array.from(exact.direction)).toEqual(Array.from(u));
    const sets = { train: exact.trainingSet(8), validation: exact.validationSet(8, 3), diagnostic: exact.diagnosticSet(8) };
    for (const [name, data] of Object.entries(sets)) {
      for (let n = 0; n < data.count; n++) {
        expect(data.y[n * data.steps], `${name} y[${n}, 0] has no lag term`).toBe(0);
        for (let t = 0; t < data.steps; t++) {
          const expected = signal(data, u, SMALL, n, t);
          // y is the float64 sum rounded to float32: half an ulp, plus summation-order differences far below it.
          expectClose(`${name} y[${n}, ${t}]`, data.y[n * data.steps + t]!, expected, { rel: 2 ** -23, abs: 1e-12 });
        }
      }
    }
  });

  it('noise is N(0, noiseStd²), independent of the signal, and the inputs are N(0, 1)', () => {
    const config = { ...PAPER_TASK, seed: 5 };
    const data = new MultiLagTask(config).trainingSet(64);
    const noise = residuals(data, new MultiLagTask(config).direction, config);
    const m = noise.length; // 65 536 residuals; plus float32 rounding of y (≤ 3e-8 here, negligible)
    const sigma2 = config.noiseStd ** 2;
    // Sample variance of m normals has standard error σ²√(2/m) (0.55% here); the mean σ/√m; bounds are 5 of them.
    expectClose('noise variance', variance(noise), sigma2, { abs: 5 * sigma2 * Math.sqrt(2 / m) });
    expectClose('noise mean', noise.reduce((a, b) => a + b, 0) / m, 0, { abs: (5 * config.noiseStd) / Math.sqrt(m) });
    let cross = 0;
    for (let i = 0; i < m; i++) cross += noise[i]! * (data.y[i]! - noise[i]!);
    // E[ε·s] = 0 with standard error σ·√(mean s²)/√m ≤ 0.3·√0.94/√m.
    expectClose('noise-signal covariance', cross / m, 0, { abs: (5 * 0.3 * Math.sqrt(0.94)) / Math.sqrt(m) });
    const xm = data.x.length;
    expectClose('input variance', variance(data.x), 1, { abs: 5 * Math.sqrt(2 / xm) });
  });

  it('signal variance and the oracle R² match the data', () => {
    const config = { ...PAPER_TASK, seed: 6 };
    const paper = new MultiLagTask(config);
    expectClose('Σ c_k²', paper.signalVariance(), 0.94, { rel: 1e-12 });
    const byStep = [0, 31, 32, 64, 255, 256, 1023].map((t) => paper.signalVarianceAt(t));
    expect(byStep).toEqual([0, 0, 0.36, 0.61, 0.8724, 0.94, 0.94].map((v) => expect.closeTo(v, 12)));
    // Pooled oracle R² by hand: mean_t S_t = (32·.36 + 64·.61 + 64·.77 + 64·.8724 + 768·.94)/1024.
    const meanSignal = (32 * 0.36 + 64 * 0.61 + 64 * 0.77 + 64 * 0.8724 + 768 * 0.94) / 1024;
    expectClose('maxR2 formula', paper.maxR2(), meanSignal / (meanSignal + 0.09), { rel: 1e-12 });
    // The oracle predictor (the noiseless signal) on fresh data reaches maxR2 up to sampling error.
    const data = paper.validationSet(256, 0);
    const noise = residuals(data, paper.direction, config);
    let sse = 0;
    for (const e of noise) sse += e * e;
    const sst = variance(data.y) * data.y.length;
    // Standard error of this R² (m = 262 144 pairs): 1 - R² = SSE/SST, relative SE of SSE √(2/m) = 0.28%; SST sums
    // y_t², correlated across steps ℓ_j - ℓ_k apart: Var(SST) = 2 Σ_{t,t'} Cov(y_t, y_t')² ≈ 2m(1.06 + 0.93), relative
    // SE 0.40%; their covariance (the shared noise) takes 0.12%² off: SE(R²) ≈ 0.095 · 0.475% ≈ 4.5e-4 (40 seeds gave
    // an RMS deviation of 4.4e-4). Bound: 5 SE.
    expectClose('oracle R²', 1 - sse / sst, paper.maxR2(), { abs: 5 * 4.5e-4 });
    // Late steps: Var(y_t) = Σ c_k² + σ², sampled over t ≥ 256.
    const late: number[] = [];
    for (let n = 0; n < data.count; n++) for (let t = 256; t < data.steps; t++) late.push(data.y[n * data.steps + t]! - noise[n * data.steps + t]!);
    // SE of a variance over m correlated Gaussian samples: √(2 Σ_Δ Cov(Δ)² / m), Σ_Δ Cov² = 0.94² + 0.93 (lag pairs).
    expectClose('late signal variance', variance(late), 0.94, { abs: 5 * Math.sqrt((2 * (0.94 ** 2 + 0.93)) / late.length) });
  });
});

describe('seed streams', () => {
  const task = new MultiLagTask(SMALL);
  it('same seed, same data; a set of m is the first m of a set of n', () => {
    const a = task.trainingSet(6);
    const b = new MultiLagTask(SMALL).trainingSet(6);
    expect(a.x).toEqual(b.x);
    expect(a.y).toEqual(b.y);
    const prefix = task.trainingSet(2);
    expect(prefix.x).toEqual(a.x.subarray(0, prefix.x.length));
    expect(prefix.y).toEqual(a.y.subarray(0, prefix.y.length));
  });
  it('each epoch has fresh validation data, regenerable alone; sets differ from each other', () => {
    const epoch3 = task.validationSet(4, 3);
    expect(task.validationSet(4, 3).y).toEqual(epoch3.y);
    expect(task.validationSet(4, 4).y).not.toEqual(epoch3.y);
    expect(task.trainingSet(4).x).not.toEqual(epoch3.x);
    expect(task.diagnosticSet(4).x).not.toEqual(task.trainingSet(4).x);
    expect(epoch3.source).toBe('multi-lag task (seed 11, validation, epoch 3)');
  });
  it('a set drawn in parts of any size is the set drawn whole, bit for bit', () => {
    const whole = task.validationSet(7, 2);
    for (const parts of [[1, 1, 1, 1, 1, 1, 1], [3, 0, 2.9, 5], [7]]) {
      const draw = task.validationDraw(7, 2);
      const left = parts.map((part) => draw.advance(part));
      expect(left.at(-1)).toBe(0);
      expect(draw.remaining).toBe(0);
      const drawn = draw.finish();
      expect(drawn.x).toEqual(whole.x);
      expect(drawn.y).toEqual(whole.y);
      expect(drawn.source).toBe(whole.source);
    }
    const partial = task.validationDraw(7, 2);
    expect(partial.advance(2)).toBe(5);
    expect(partial.finish().y).toEqual(whole.y); // finish draws the rest
  });
  it('inputs do not depend on noiseStd', () => {
    expect(new MultiLagTask({ ...SMALL, noiseStd: 1 }).trainingSet(3).x).toEqual(task.trainingSet(3).x);
  });
});

describe('the paper-size training set', () => {
  it('generates 8000 × 1024 × 16 in place, within the time and memory of its arrays', () => {
    const task = new MultiLagTask(PAPER_TASK);
    const before = process.memoryUsage();
    const start = performance.now();
    const data = task.trainingSet(8000);
    const seconds = (performance.now() - start) / 1000;
    const after = process.memoryUsage();
    const arrayBytes = data.x.byteLength + data.y.byteLength; // 524 288 000 + 32 768 000
    console.log(`paper training set: ${seconds.toFixed(2)} s, array buffers +${((after.arrayBuffers - before.arrayBuffers) / 2 ** 20).toFixed(0)} MiB, heap +${((after.heapUsed - before.heapUsed) / 2 ** 20).toFixed(1)} MiB`);
    expect([data.count, data.steps, data.inputSize, data.x.length, data.y.length]).toEqual([8000, 1024, 16, 131_072_000, 8_192_000]);
    // About 1 s in Node 20 on one core here; the bound leaves room for a loaded machine.
    expect(seconds).toBeLessThan(15);
    expect(after.arrayBuffers - before.arrayBuffers).toBeLessThan(arrayBytes + 16 * 2 ** 20);
    expect(after.heapUsed - before.heapUsed).toBeLessThan(64 * 2 ** 20);
    // Spot check: the last sequence follows the formula (noise residual of the right size).
    const last = { ...data, x: data.x.subarray(7999 * 1024 * 16), y: data.y.subarray(7999 * 1024), count: 1 };
    expectClose('last sequence noise sd', Math.sqrt(variance(residuals(last, task.direction, PAPER_TASK))), 0.3, { rel: 5 / Math.sqrt(2 * 1024) });
  });
});
