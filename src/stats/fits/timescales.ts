// Per-unit memory time scales (SPEC §9): log μ^(q)(ℓ) = a + bℓ by least squares over the lags with μ^(q) > 0
// (at least 5), τ_q = -1/b (∞ if b ≥ 0), C = e^a; their CCDF; and ConstGate's closed form τ = -1/log(1-s).
import { fitLine } from '../regression.ts';

export const MIN_TIMESCALE_LAGS = 5;

export interface UnitTimescales {
  /** τ_q per unit; NaN where fewer than 5 lags have μ^(q) > 0. */
  tau: number[];
  /** C_q = e^{a_q}. */
  amplitude: number[];
  /** The line log μ^(q) = a + bℓ: intercept a_q and slope b_q (NaN where unfit). */
  intercept: number[];
  slope: number[];
  r2: number[];
  /** Lags that entered each unit's fit. */
  lagsUsed: number[];
}

/** One unit's fit from (ℓ, μ) pairs. */
export interface UnitTimescale {
  tau: number;
  amplitude: number;
  intercept: number;
  slope: number;
  r2: number;
  lagsUsed: number;
}

export function fitUnitTimescale(ells: ArrayLike<number>, envelope: ArrayLike<number>): UnitTimescale {
  const keep = [...Array(ells.length).keys()].filter((i) => envelope[i]! > 0 && Number.isFinite(envelope[i]!));
  if (keep.length < MIN_TIMESCALE_LAGS) return { tau: NaN, amplitude: NaN, intercept: NaN, slope: NaN, r2: NaN, lagsUsed: keep.length };
  const fit = fitLine(keep.map((i) => ells[i]!), keep.map((i) => Math.log(envelope[i]!)));
  return {
    tau: fit.slope < 0 ? -1 / fit.slope : Infinity, amplitude: Math.exp(fit.intercept), intercept: fit.intercept, slope: fit.slope, r2: fit.r2, lagsUsed: keep.length,
  };
}

/** Fits every unit; `envelopeByLag[i][q]` is μ^(q)(ℓ_i). */
export function fitUnitTimescales(ells: ArrayLike<number>, envelopeByLag: readonly ArrayLike<number>[]): UnitTimescales {
  if (envelopeByLag.length !== ells.length) {
    throw new Error(`per-unit time scales: ${ells.length} lags but ${envelopeByLag.length} rows of per-unit envelopes`);
  }
  const units = envelopeByLag[0]?.length ?? 0;
  const result: UnitTimescales = { tau: [], amplitude: [], intercept: [], slope: [], r2: [], lagsUsed: [] };
  for (let q = 0; q < units; q++) {
    const column = envelopeByLag.map((row, i) => {
      if (row.length !== units) throw new Error(`per-unit time scales: lag row ${i} has ${row.length} units, expected ${units}`);
      return row[q]!;
    });
    const unit = fitUnitTimescale(ells, column);
    result.tau.push(unit.tau);
    result.amplitude.push(unit.amplitude);
    result.intercept.push(unit.intercept);
    result.slope.push(unit.slope);
    result.r2.push(unit.r2);
    result.lagsUsed.push(unit.lagsUsed);
  }
  return result;
}

export interface TimescaleCcdf {
  /** Distinct finite τ values, ascending. */
  x: number[];
  /** P(τ > x) over the units with a τ (infinite τ counts as larger than every x). */
  p: number[];
  units: number;
  infinite: number;
}

/** The empirical CCDF P(τ > x) at each distinct finite τ; units without a fit (NaN) are left out. */
export function timescaleCcdf(taus: ArrayLike<number>): TimescaleCcdf {
  const valid = Array.from(taus).filter((t) => !Number.isNaN(t));
  const finite = valid.filter(Number.isFinite).sort((a, b) => a - b);
  const x: number[] = [];
  const p: number[] = [];
  for (let i = 0; i < finite.length; i++) {
    if (i + 1 < finite.length && finite[i + 1] === finite[i]) continue; // last of a run of ties
    x.push(finite[i]!);
    p.push((valid.length - (i + 1)) / valid.length);
  }
  return { x, p, units: valid.length, infinite: valid.length - finite.length };
}

/** ConstGate's time scale τ = -1/log(1-s) for gate s ∈ (0, 1). */
export function constGateTimescale(s: number): number {
  if (!(s > 0 && s < 1)) throw new RangeError(`ConstGate time scale: s must lie in (0, 1), got ${s}`);
  return -1 / Math.log1p(-s);
}
