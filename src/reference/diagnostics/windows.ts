// Float64 twin of the GPU window engine (src/diagnostics/windows.ts), for tests only: every window product of
// SPEC §5 formed directly from its ℓ factors (no prefix sums, no logs), then the envelope of SPEC §5 and ψ of SPEC §7.
import type { CellKind } from '../../model/cells.ts';
import { INTERMEDIATE_NAMES, windowRuleCell, type IntermediateName } from '../../model/cells.ts';

export interface WindowData {
  cell: CellKind;
  batch: number;
  steps: number;
  hidden: number;
  /** SPEC §4 terms [n, B, T, H] in INTERMEDIATE_NAMES[cell] order. */
  intermediates: ArrayLike<number>;
}

export interface ReferenceWindows {
  /** μ_{t,q}(ℓ) [B, T, H]; 0 for t < ℓ. */
  mu: Float64Array;
  /**
   * Sum of the absolute values of the terms that are added to form μ (gru: |Γ(1 + S)| + R + E; the other cells
   * have a single product, so |μ|). Where μ cancels, an f32 computation can only be accurate relative to this.
   */
  magnitude: Float64Array;
}

/** SPEC §5: factors in denominators and logs are clamped to [1e-12, 1]. */
const clampFactor = (x: number) => Math.min(Math.max(x, 1e-12), 1);

function planes(data: WindowData): Record<string, (b: number, t: number, q: number) => number> {
  const { batch: B, steps: T, hidden: H, intermediates } = data;
  const names = INTERMEDIATE_NAMES[data.cell];
  const expected = names.length * B * T * H;
  if (intermediates.length !== expected) throw new Error(`intermediates hold ${intermediates.length} values, expected [${names.length}, ${B}, ${T}, ${H}]`);
  const at = (n: number) => (b: number, t: number, q: number) => intermediates[((n * B + b) * T + t) * H + q]!;
  return Object.fromEntries(names.map((name: IntermediateName, n) => [name, at(n)]));
}

/** μ of every window of one lag, each product formed from its ℓ factors. */
export function referenceMu(data: WindowData, lag: number, firstOrder: boolean): ReferenceWindows {
  const { cell, batch: B, steps: T, hidden: H } = data;
  const p = planes(data);
  const mu = new Float64Array(B * T * H);
  const magnitude = new Float64Array(B * T * H);
  for (let b = 0; b < B; b++) {
    for (let q = 0; q < H; q++) {
      for (let t = lag; t < T; t++) {
        const [value, size] = windowAt(windowRuleCell(cell), p, b, t, q, lag, firstOrder);
        mu[(b * T + t) * H + q] = value;
        magnitude[(b * T + t) * H + q] = size;
      }
    }
  }
  return { mu, magnitude };
}

type Planes = ReturnType<typeof planes>;

/** [μ, magnitude] for the window j = t-lag+1…t of unit q, sequence b (SPEC §5). */
function windowAt(cell: CellKind, p: Planes, b: number, t: number, q: number, lag: number, firstOrder: boolean): [number, number] {
  let product = 1;
  let ratios = 0;
  if (cell === 'linear') {
    // SPEC §12: Π_j Wh_qq, signed and unclamped; no first-order term.
    for (let j = t - lag + 1; j <= t; j++) product *= p.leak!(b, j, q);
    return [product, Math.abs(product)];
  }
  if (cell === 'lstm') {
    for (let j = t - lag + 1; j <= t; j++) {
      const f = clampFactor(p.f!(b, j, q));
      const ePrev = j > 0 ? p.e!(b, j - 1, q) : 0; // e_{-1} = 0
      product *= f;
      ratios += (p.cdiag!(b, j, q) * ePrev) / f;
    }
    const mu0 = p.e!(b, t, q) * product;
    const mu = mu0 + (firstOrder ? mu0 * ratios : 0);
    return [mu, Math.abs(mu)];
  }
  let reset = 1;
  let both = 1;
  for (let j = t - lag + 1; j <= t; j++) {
    const leak = clampFactor(p.leak!(b, j, q));
    product *= leak;
    ratios += p.rdiag!(b, j, q) / leak;
    if (cell === 'gru') {
      reset *= clampFactor(p.r!(b, j, q));
      both *= clampFactor(p.leak!(b, j, q) * p.r!(b, j, q));
    }
  }
  const leading = product + (firstOrder ? product * ratios : 0);
  if (cell !== 'gru') return [leading, Math.abs(leading)];
  return [leading + reset + both, Math.abs(leading) + reset + both];
}

export interface ReferenceLagEnvelope {
  ell: number;
  muL1Mean: number;
  logMuL1Mean: number;
  perUnit: Float64Array;
  /** mass_b per sequence. */
  masses: Float64Array;
  /** f̃(ℓ) = mean |ρ_{t-ℓ} μ_t|, with ρ. */
  generalizedMean?: number;
}

/** SPEC §5 envelope of every lag over all B sequences; `rho` [B, T, H] adds the generalized envelope. */
export function referenceEnvelope(data: WindowData, lags: readonly number[], firstOrder: boolean, rho?: ArrayLike<number>): ReferenceLagEnvelope[] {
  const { batch: B, steps: T, hidden: H } = data;
  return lags.map((ell) => {
    const { mu } = referenceMu(data, ell, firstOrder);
    const masses = new Float64Array(B);
    const perUnit = new Float64Array(H);
    let generalized = 0;
    for (let b = 0; b < B; b++) {
      for (let t = ell; t < T; t++) {
        for (let q = 0; q < H; q++) {
          const m = Math.abs(mu[(b * T + t) * H + q]!);
          masses[b]! += m;
          perUnit[q]! += m;
          if (rho) generalized += Math.abs(rho[(b * T + t - ell) * H + q]! * m);
        }
      }
      masses[b]! /= (T - ell) * H;
    }
    for (let q = 0; q < H; q++) perUnit[q]! /= B * (T - ell);
    const mean = (xs: Float64Array) => xs.reduce((s, x) => s + x, 0) / xs.length;
    const row: ReferenceLagEnvelope = {
      ell, muL1Mean: mean(masses), logMuL1Mean: mean(masses.map((m) => Math.log(m + 1e-30))), perUnit, masses,
    };
    if (rho) row.generalizedMean = generalized / (B * (T - ell) * H);
    return row;
  });
}

export interface ReferencePsi {
  /** ψ_t(ℓ) [L, B, T]; 0 for t < ℓ. */
  psi: Float64Array;
  /** Σ_q |rate δ v| [L, B, T]: the scale of ψ's rounding. */
  magnitude: Float64Array;
}

/** SPEC §7: ψ_t(ℓ) = Σ_q μ_{t,q}(ℓ) δ_{t,q} v_{t-ℓ,q}, or with ρ_{t-ℓ,q} μ_{t,q} when `rho` is given. */
export function referencePsi(
  data: WindowData, lags: readonly number[], firstOrder: boolean, delta: ArrayLike<number>, v: ArrayLike<number>, rho?: ArrayLike<number>,
): ReferencePsi {
  const { batch: B, steps: T, hidden: H } = data;
  const psi = new Float64Array(lags.length * B * T);
  const magnitude = new Float64Array(lags.length * B * T);
  lags.forEach((ell, l) => {
    const { mu } = referenceMu(data, ell, firstOrder);
    for (let b = 0; b < B; b++) {
      for (let t = ell; t < T; t++) {
        let sum = 0;
        let size = 0;
        for (let q = 0; q < H; q++) {
          const start = (b * T + t - ell) * H + q;
          const rate = mu[(b * T + t) * H + q]! * (rho ? rho[start]! : 1);
          const term = rate * delta[(b * T + t) * H + q]! * v[start]!;
          sum += term;
          size += Math.abs(term);
        }
        psi[(l * B + b) * T + t] = sum;
        magnitude[(l * B + b) * T + t] = size;
      }
    }
  });
  return { psi, magnitude };
}
