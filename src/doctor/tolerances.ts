// How far each kernel family may be from its float64 twin, derived once and used by the tests, `lwin doctor` and
// the registry alike (each derivation is written out at its test: test/cells/*, test/diagnostics/*, test/train/*).
import type { ParamLayout } from '../model/params.ts';
import { F32_UNIT_ROUNDOFF as U } from '../reference/compare.ts';
import type { ReferenceWindows } from '../reference/diagnostics/windows.ts';

export type Tolerance = (i: number) => number;

/**
 * Forward recurrence (test/cells/forward.test.ts): 2e-6 + 2e-6·|ref|, times `growth` (√T for the linear cell, whose
 * rounding errors add up like a random walk instead of contracting).
 */
export function forwardTolerance(expected: ArrayLike<number>, growth = 1): Tolerance {
  return (i) => (2e-6 + 2e-6 * Math.abs(expected[i]!)) * growth;
}

/**
 * BPTT gradients (test/cells/backward.test.ts), per tensor: 2e-6 of the tensor's largest |ref| + 1e-5·|ref| +
 * 1e-6 of the whole gradient's largest |ref| (sums that cancel, such as ∂L/∂out.bias).
 */
export function gradientTolerance(layout: ParamLayout, expected: ArrayLike<number>): Tolerance {
  let global = 0;
  for (let i = 0; i < expected.length; i++) global = Math.max(global, Math.abs(expected[i]!));
  const scale = new Float64Array(expected.length);
  for (const t of layout.tensors) {
    let max = 0;
    for (let i = t.offset; i < t.offset + t.size; i++) max = Math.max(max, Math.abs(expected[i]!));
    scale.fill(max, t.offset, t.offset + t.size);
  }
  return (i) => 2e-6 * scale[i]! + 1e-5 * Math.abs(expected[i]!) + 1e-6 * global;
}

/** Loss of a batch (test/cells/backward.test.ts): 1e-6 relative. */
export const LOSS_RELATIVE = 1e-6;

/** Tangent recurrence (test/cells/tangent.test.ts): 2e-5·(largest |ref| of the element's row + |ref|). */
export const TANGENT_RELATIVE = 2e-5;

export function tangentRowTolerance(expected: ArrayLike<number>, rowLength: number): Tolerance {
  const scale = new Float64Array(Math.ceil(expected.length / rowLength));
  for (let i = 0; i < expected.length; i++) {
    const row = Math.floor(i / rowLength);
    scale[row] = Math.max(scale[row]!, Math.abs(expected[i]!));
  }
  return (i) => TANGENT_RELATIVE * (scale[Math.floor(i / rowLength)]! + Math.abs(expected[i]!));
}

/** Adaptive base rate ρ (test/diagnostics/rho.test.ts): 4e-6·ρ + 1e-5 of the rates' J²-weighted spread. */
export function rhoTolerance(ref: { rho: ArrayLike<number>; spread: ArrayLike<number> }): Tolerance {
  return (i) => 4e-6 * ref.rho[i]! + 1e-5 * ref.spread[i]!;
}

/** SPEC §5's contract: 1e-4 relative wherever |μ| > 1e-20. */
export const MU_RELATIVE = 1e-4;

/**
 * Tolerance of one μ value: 1e-5 of the magnitude of the terms summed into it (ReferenceWindows.magnitude: |μ| except
 * where a gru μ = Γ(1+S) + R + E cancels). Error analysis (shaders/diagnostics/precise.ts): each term is an exp of a
 * window sum whose pair error is ~2^-47 of the prefix, plus one ulp per step of relative log error, i.e. at most
 * (|log term| + 4) f32 ulps ≈ 3e-6 for terms above 1e-20 (|log| < 46, a first-order factor < e^40); the 1 + S factor
 * is exact to 2^-44. Below 1e-20 nothing is promised beyond staying below about 1e-20 (the kernel may flush to 0).
 */
export function muTolerance(ref: ReferenceWindows): Tolerance {
  return (i) => {
    const tol = 1e-5 * ref.magnitude[i]!;
    return Math.abs(ref.mu[i]!) > 1e-20 ? tol : Math.max(tol, 2e-20);
  };
}

/**
 * The diagnostic stage end to end (test/diagnostics/stage.test.ts): envelopes within 1e-4 relative (a window of ℓ
 * factors carries ℓ errors of ~1e-6), ψ sums within 1e-4 of Σ|terms| (they mix signs).
 */
export const STAGE_RELATIVE = 1e-4;

/** One optimizer step (test/train/optim.test.ts): 32 roundings of the terms' magnitude; ‖g‖ within 4u. */
export const OPTIM_STEP_ROUNDINGS = 32;
export const GRAD_NORM_ROUNDINGS = 4;

export function optimTolerance(magnitude: ArrayLike<number>): Tolerance {
  return (i) => OPTIM_STEP_ROUNDINGS * U * magnitude[i]!;
}
