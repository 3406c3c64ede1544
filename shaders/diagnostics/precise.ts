// Float64-level arithmetic on f32 for the window products of SPEC §5: logs with a relative error of about one ulp
// (as an unevaluated pair), error-free products and quotients, and exponentials split into mantissa and exponent
// so a product far below f32's range can still be scaled back by a large first-order factor.
//
// Why not the builtins: WGSL only promises log to an *absolute* 2^-21 on [0.5, 2] and exp to 3 + 2|x| ulp. For a
// gate near 0.9 that is 4.5e-6 relative per step, and summed over a 256-step window more than the 1e-4 SPEC §5
// allows; vendors' fast paths (lg2.approx, ex2.approx) are as loose. These functions need only +, -, ×, ÷, frexp and
// ldexp (log and exp are short series after an exact range reduction), so every adapter agrees to a few ulp.
//
// Error-free transformations and compilers. Knuth's TwoSum and Dekker's product are exact only if every rounding
// happens as written; compensatedSum (shaders/common.ts, included here) routes every rounding that matters through
// `opaque`, and the products and quotients below do the same.

import { compensatedSum } from '../common.ts';

/** ln 2 = LN2_HI + LN2_LO; LN2_HI has 15 significant bits, so k·LN2_HI is exact for |k| < 2^9. */
const LN2_HI = '0.693145751953125';
const LN2_LO = '1.4286068203094172e-6';
/** SPEC §5: factors in denominators and logs are clamped to [1e-12, 1]. */
export const FACTOR_FLOOR = 1e-12;

export function preciseMath(oneExpr: string): string {
  return /* wgsl */ `
${compensatedSum(oneExpr)}
const LN2_HI: f32 = ${LN2_HI};
const LN2_LO: f32 = ${LN2_LO};
const INV_LN2: f32 = 1.4426950408889634;
const FACTOR_FLOOR: f32 = ${FACTOR_FLOOR};

fn clamp_factor(x: f32) -> f32 {
  return clamp(x, FACTOR_FLOOR, 1.0);
}

// Veltkamp split: a = hi + lo exactly, each half with at most 12 significant bits.
fn split_f32(a: f32) -> vec2f {
  let c = opaque(4097.0 * a);
  let hi = opaque(c - opaque(c - a));
  return vec2f(hi, a - hi);
}

// Dekker's product: (p, e) with p = fl(a·b) and a·b = p + e exactly (no FMA needed).
fn two_prod(a: f32, b: f32) -> vec2f {
  let p = opaque(a * b);
  let x = split_f32(a);
  let y = split_f32(b);
  let e = opaque(opaque(opaque(x.x * y.x - p) + x.x * y.y) + x.y * y.x) + x.y * y.y;
  return vec2f(p, e);
}

// (num.x + num.y) / den as a pair, to about 2^-46 relative: one f32 quotient and its exact residual.
fn div_pair(num: vec2f, den: f32) -> vec2f {
  let q = num.x / den;
  let p = two_prod(q, den);
  let r = (opaque(opaque(num.x - p.x) - p.y) + num.y) / den;
  return two_sum(q, r);
}

// log(x) for a positive normal x as a pair (hi, lo), hi + lo within about one ulp of log x (relative).
// x = 2^e·f with f in [√½, √2); log f = log1p(m), m = f - 1 exact, by the atanh series in s = m/(2 + m)
// written as fdlibm does (m - (m²/2 - s(m²/2 + R))), so the leading term m carries no rounding.
fn log_pair(x: f32) -> vec2f {
  let parts = frexp(x);
  var f = parts.fract;
  var e = f32(parts.exp);
  if (f < 0.70710677) {
    f = f * 2.0;
    e = e - 1.0;
  }
  let m = f - 1.0;
  let s = m / (2.0 + m);
  let z = s * s;
  let R = 2.0 * z * (0.33333334 + z * (0.2 + z * (0.14285715 + z * (0.11111111 + z * 0.09090909))));
  let hfsq = 0.5 * m * m;
  let log_f = m - (hfsq - s * (hfsq + R));
  return two_sum(e * LN2_HI, e * LN2_LO + log_f);
}

// log of the clamped factor clamp(a·b) (SPEC §5: the gru product leak·r is clamped as one factor). The product is
// exact as a pair, so this matches float64's log(clamp(a·b)) for f32 inputs a, b.
fn log_clamped_product(a: f32, b: f32) -> vec2f {
  let p = two_prod(a, b);
  if (!(p.x > FACTOR_FLOOR)) { return log_pair(FACTOR_FLOOR); }
  if (p.x >= 1.0) { return vec2f(0.0); }
  let l = log_pair(p.x);
  return vec2f(l.x, l.y + p.y / p.x);
}

// d.x - d.y of two prefix pairs a, b as a renormalised pair (the window sum between two prefix positions).
fn pair_diff(a: vec2f, b: vec2f) -> vec2f {
  let s = two_sum(a.x, -b.x);
  return two_sum(s.x, s.y + (a.y - b.y));
}

// 1 + w for a pair w, rounded once: exact cancellation when w ≈ -1 (the first-order factor of SPEC §5).
fn one_plus(w: vec2f) -> f32 {
  let s = two_sum(1.0, w.x);
  return s.x + (s.y + w.y);
}

// exp(d.x + d.y) for d ≤ 0 as (m, k) with value m·2^k, m in [0.7, 1.42] (Cody–Waite reduction, both steps exact
// for |k| < 2^9). Below e^-200 it returns (0, 0): no μ above 1e-20 comes from there (the largest first-order factor
// is about ℓ·max|rdiag|/1e-12 < e^60).
fn exp_split(d: vec2f) -> vec2f {
  if (d.x < -200.0) { return vec2f(0.0); }
  let k = round(d.x * INV_LN2);
  let r = opaque(opaque(d.x - k * LN2_HI) - k * LN2_LO) + d.y;
  // e^r = 1 + r(1 + r/2(1 + r/3(…))) for |r| ≤ 0.35: truncation below 2^-30, one rounding dominates (the final 1 + s).
  var s = 1.0 + r * (1.0 / 9.0);
  s = 1.0 + r * (1.0 / 8.0) * s;
  s = 1.0 + r * (1.0 / 7.0) * s;
  s = 1.0 + r * (1.0 / 6.0) * s;
  s = 1.0 + r * (1.0 / 5.0) * s;
  s = 1.0 + r * 0.25 * s;
  s = 1.0 + r * (1.0 / 3.0) * s;
  s = 1.0 + r * 0.5 * s;
  return vec2f(1.0 + r * s, k);
}

// m·2^k·scale without overflowing or underflowing on the way: scale first, then the exponent.
fn scaled_exp(mk: vec2f, scale: f32) -> f32 {
  return ldexp(mk.x * scale, i32(mk.y));
}
`;
}
