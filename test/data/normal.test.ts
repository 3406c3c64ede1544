// The ziggurat's draws against the standard normal law: moments, the Kolmogorov–Smirnov distance, tail
// frequencies, and stream determinism. The streams are seeded, so each bound is a fixed check, set at 5 standard
// errors (or the KS critical value at α = 1e-3) so that a correct sampler passes for essentially every seed.
import { describe, expect, it } from 'vitest';
import { fillStandardNormal, standardNormal } from '../../src/data/normal.ts';
import { erfc } from '../../src/stats/special.ts';
import { Rng } from '../../src/util/random.ts';
import { expectClose } from '../stats/close.ts';

const normalCdf = (x: number) => 0.5 * erfc(-x / Math.SQRT2);

describe('standard normal draws (ziggurat)', () => {
  const n = 1_000_000;
  const draws = new Float64Array(n);
  fillStandardNormal(new Rng(2024), draws);

  it('has the normal moments', () => {
    let m1 = 0, m2 = 0, m3 = 0, m4 = 0;
    for (const v of draws) {
      m1 += v;
      m2 += v * v;
      m3 += v * v * v;
      m4 += v * v * v * v;
    }
    // Standard errors of the raw sample moments of N(0,1): √(1/n), √(2/n), √(15/n), √(96/n).
    expectClose('mean', m1 / n, 0, { abs: 5 * Math.sqrt(1 / n) });
    expectClose('E[z²]', m2 / n, 1, { abs: 5 * Math.sqrt(2 / n) });
    expectClose('E[z³]', m3 / n, 0, { abs: 5 * Math.sqrt(15 / n) });
    expectClose('E[z⁴]', m4 / n, 3, { abs: 5 * Math.sqrt(96 / n) });
  });

  it('is within the Kolmogorov–Smirnov critical distance of Φ', () => {
    const sorted = Float64Array.from(draws.subarray(0, 200_000)).sort();
    let distance = 0;
    sorted.forEach((v, i) => {
      const cdf = normalCdf(v);
      distance = Math.max(distance, Math.abs(cdf - i / sorted.length), Math.abs((i + 1) / sorted.length - cdf));
    });
    const critical = 1.949 / Math.sqrt(sorted.length); // α = 1e-3
    expect(distance, `KS distance ${distance} vs critical ${critical}`).toBeLessThan(critical);
  });

  it.each([
    ['the tail past r = 3.4426 (tail method)', 3.442619855899],
    ['|z| > 4', 4],
    ['|z| > 1 (rectangles and wedges)', 1],
  ])('draws %s as often as the law says', (_name, threshold) => {
    let beyond = 0;
    for (const v of draws) if (Math.abs(v) > threshold) beyond++;
    const p = 2 * normalCdf(-threshold);
    const expected = n * p;
    expectClose(`count of |z| > ${threshold}`, beyond, expected, { abs: 5 * Math.sqrt(n * p * (1 - p)) });
  });

  it('fills in blocks of draws: the values and the generator state of single draws, slow paths and tails included', () => {
    // 20 000 draws cross several blocks of 4096 and take ~240 wedge tests and a few tails.
    const single = new Rng(21);
    const one = Float64Array.from({ length: 20_000 }, () => standardNormal(single));
    expect(one.some((z) => Math.abs(z) > 3.442619855899)).toBe(true); // a tail draw
    const rng = new Rng(21);
    const filled = new Float64Array(20_000);
    for (const [from, to] of [[0, 3], [3, 4099], [4099, 4100], [4100, 20_000]] as const) fillStandardNormal(rng, filled, from, to);
    expect(filled).toEqual(one);
    expect(rng.state()).toEqual(single.state());
    const words = new Uint32Array(7);
    rng.fillU32(words);
    expect(Array.from(words)).toEqual(Array.from({ length: 7 }, () => single.nextU32()));
  });

  it('fills in the same order as single draws, and repeats with the seed', () => {
    const single = new Rng(9);
    const one = Array.from({ length: 1000 }, () => standardNormal(single));
    const filled = new Float64Array(1000);
    fillStandardNormal(new Rng(9), filled);
    expect(Array.from(filled)).toEqual(one);
    const part = new Float64Array(1010);
    fillStandardNormal(new Rng(9), part, 10, 1010);
    expect(Array.from(part.subarray(10))).toEqual(one);
    expect(Array.from(part.subarray(0, 10))).toEqual(new Array(10).fill(0));
  });
});
