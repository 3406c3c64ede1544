// The envelope against the detectability threshold of SPEC §8, and N_required(ℓ).
//   SNR(ℓ,N) = m̄(ℓ) N^{1-1/max(1,α̂)} / σ̂(ℓ) > ε  ⇔  m̄(ℓ) > m̄*(ℓ) = ε σ̂(ℓ) / N^{1-1/max(1,α̂)},
// with N the largest budget the lag can use: min(largest budget, ψ samples of the lag).
import type { CellReport } from '../load.ts';
import { finite, lagLineFigure, omitted, positive, type Figure } from './common.ts';

const MEASURED = 'signal m̄(ℓ)';
const THRESHOLD = 'threshold m̄*(ℓ) for SNR > ε';

/** m̄*(ℓ) of SPEC §8 at budget n; undefined where σ̂ is 0 (SNR is then 0: never detectable). */
export function detectabilityThreshold(eps: number, sigma: number, alpha: number, n: number): number | undefined {
  if (!(sigma > 1e-12) || !finite(alpha) || !(n > 0)) return undefined;
  return (eps * sigma) / n ** (1 - 1 / Math.max(1, alpha));
}

export function thresholdFigure(cells: readonly CellReport[], order: readonly string[], eps: number | undefined, budgets: readonly number[] | undefined): Figure {
  const title = 'Signal m̄(ℓ) against the detectability threshold at the largest budget';
  if (eps === undefined || !budgets?.length) return omitted('threshold', title, 'study.json gives no ε or budget grid');
  const nMax = Math.max(...budgets);
  const values = cells.flatMap((c) => c.summary.flatMap((r) => {
    const n = Math.min(nMax, positive(r.n_samples) ? r.n_samples : nMax);
    const threshold = detectabilityThreshold(eps, r.sigma_alpha_hat!, r.alpha_hat!, n);
    const rows = [];
    if (positive(r.mbar_scalar)) rows.push({ cell: c.cell, ell: r.ell, value: r.mbar_scalar, kind: MEASURED });
    if (positive(threshold)) rows.push({ cell: c.cell, ell: r.ell, value: threshold, kind: THRESHOLD });
    return rows;
  }));
  if (values.length === 0) return omitted('threshold', title, 'no lag has a positive m̄ or a threshold');
  const caption = `Solid: the signal m̄(ℓ) = |mean ψ| (SPEC §7). Dashed: the level m̄*(ℓ) = ε·σ̂(ℓ)/N^{1−1/max(1,α̂(ℓ))} that m̄ must exceed for ` +
    `SNR(ℓ,N) > ε (SPEC §8, Eq. 28), with ε = ${eps} and N = the largest budget, ${nMax}, capped at the lag's number of ψ samples. ` +
    'A lag is detectable within the budget grid where the solid line lies above the dashed one of its cell.';
  return lagLineFigure('threshold', title, caption, values, 'value', 'm̄ and m̄* (units of ψ, log scale)', order, { dashes: { title: 'curve', domain: [MEASURED, THRESHOLD] } });
}

export function requiredSamplesFigure(cells: readonly CellReport[], order: readonly string[]): Figure {
  const title = 'Samples needed to detect lag ℓ: N_required(ℓ)';
  const values = cells.flatMap((c) => c.summary.filter((r) => positive(r.N_required_at_eps)).map((r) => ({ cell: c.cell, ell: r.ell!, n: r.N_required_at_eps! })));
  if (values.length === 0) return omitted('n-required', title, 'no lag is detectable within the budget grid in any cell');
  const caption = 'N_required(ℓ): the first budget N of the grid, evaluated at N_use = min(N, the lag\'s ψ samples), with SNR > ε (SPEC §8), so a lag ' +
    'detectable only with all its samples shows that count; lags not detectable within the grid (-1) are left out.';
  return lagLineFigure('n-required', title, caption, values, 'n', 'N_required(ℓ) (ψ samples, log scale)', order);
}
