// The α-stable fits of ψ per lag (SPEC §8): the distribution of α̂ across lags per cell, and σ̂(ℓ).
import type { CellReport } from '../load.ts';
import { cellColor, finite, lagLineFigure, omitted, positive, topLevel, type Figure } from './common.ts';

export function alphaFigure(cells: readonly CellReport[], order: readonly string[]): Figure {
  const title = 'Tail index α̂ of ψ across lags, per cell';
  const values = cells.flatMap((c) => c.summary.filter((r) => finite(r.alpha_hat)).map((r) => ({
    cell: c.cell, ell: r.ell, alpha: r.alpha_hat, reliable: r.alpha_reliable === 1 ? 'reliable' : 'unreliable (flagged)',
  })));
  if (values.length === 0) return omitted('alpha', title, 'no α̂ in any summary');
  const y = { field: 'alpha', type: 'quantitative', title: 'tail index α̂ (1 = Cauchy, 2 = Gaussian)', scale: { domain: [0.9, 2.05] } };
  const x = { field: 'cell', type: 'nominal', title: 'cell', sort: [...order], axis: { labelAngle: 0 } };
  return {
    id: 'alpha',
    title,
    caption: 'Each point is one lag ℓ of the grid; the box spans the quartiles of α̂ over the lags, the whiskers 1.5 IQR. ' +
      'Open points: estimates flagged unreliable (SPEC §8: too few samples, σ̂ ≈ 0 or α̂ at a bound).',
    spec: topLevel(title, {
      data: { values },
      width: Math.max(220, 110 * order.length),
      height: 280,
      layer: [
        { mark: { type: 'boxplot', extent: 1.5, opacity: 0.35, size: 40, outliers: false }, encoding: { x, y, color: { ...cellColor(order), legend: null } } },
        ...(['reliable', 'unreliable (flagged)'] as const).map((kind) => ({
          transform: [{ filter: { field: 'reliable', equal: kind } }],
          mark: { type: 'point', size: 45, strokeWidth: 1.5, filled: kind === 'reliable' },
          encoding: { x, y, color: cellColor(order), xOffset: { field: 'ell', type: 'quantitative', scale: { range: [-14, 14] } } },
        })),
      ],
    }),
  };
}

export function sigmaFigure(cells: readonly CellReport[], order: readonly string[]): Figure {
  const title = 'Scale σ̂(ℓ) of ψ against the lag';
  const values = cells.flatMap((c) => c.summary.filter((r) => positive(r.sigma_alpha_hat)).map((r) => ({ cell: c.cell, ell: r.ell!, sigma: r.sigma_alpha_hat! })));
  if (values.length === 0) return omitted('sigma', title, 'no positive σ̂ in any summary');
  const caption = 'σ̂(ℓ), the α-stable scale of the matched statistic ψ (SPEC §7–§8), on a log axis; lags with σ̂ = 0 (unreliable) are left out.';
  return lagLineFigure('sigma', title, caption, values, 'sigma', 'σ̂(ℓ) (units of ψ, log scale)', order);
}
