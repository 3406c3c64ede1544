// The per-unit time scales τ_q of SPEC §9: their CCDF P(τ > x) on log axes, and a histogram per cell.
import type { CellReport } from '../load.ts';
import { cellColor, HEIGHT, omitted, positive, topLevel, type Figure } from './common.ts';

const TAU_TITLE = 'unit time scale τ (time steps, log scale)';

export function tauCcdfFigure(cells: readonly CellReport[], order: readonly string[]): Figure {
  const title = 'Time-scale spectrum: CCDF of the per-unit τ';
  // P(τ > x) of the finite τ; the last point (P = 0) cannot sit on a log axis and is dropped.
  const values = cells.flatMap((c) => {
    const ccdf = c.tauCcdf ?? ccdfOf(c.tau);
    return ccdf.x.map((x, i) => ({ cell: c.cell, x, p: ccdf.p[i]! })).filter((v) => positive(v.x) && positive(v.p));
  });
  if (values.length === 0) return omitted('tau-ccdf', title, 'no cell has two or more finite fitted τ (no <cell>_tau_from_mu_units.csv rows)');
  const infinite = cells.map((c) => `${c.cell}: ${c.tau.filter((t) => t === Infinity).length}`).join(', ');
  return {
    id: 'tau-ccdf',
    title,
    caption: `P(τ > x) over the units with a finite fitted τ (least squares of log μ^(q)(ℓ) = a + bℓ, τ = -1/b, SPEC §9). ` +
      `Units whose envelope does not decay (τ = ∞) are left out of the curve; their counts: ${infinite}.`,
    spec: topLevel(title, {
      data: { values },
      width: 520,
      height: 300,
      mark: { type: 'line', point: true, interpolate: 'step-after', strokeWidth: 2 },
      encoding: {
        x: { field: 'x', type: 'quantitative', title: TAU_TITLE, scale: { type: 'log' } },
        y: { field: 'p', type: 'quantitative', title: 'P(τ > x) (fraction of units, log scale)', scale: { type: 'log' } },
        color: cellColor(order),
      },
    }),
  };
}

function ccdfOf(tau: readonly number[]): { x: number[]; p: number[] } {
  const sorted = tau.filter((t) => Number.isFinite(t)).sort((a, b) => a - b);
  return { x: sorted, p: sorted.map((_, i) => (sorted.length - i - 1) / sorted.length) };
}

export function tauHistogramFigure(cells: readonly CellReport[], order: readonly string[]): Figure {
  const title = 'Histogram of the per-unit τ, per cell';
  const values = cells.flatMap((c) => c.tau.filter(positive).filter(Number.isFinite).map((tau) => ({ cell: c.cell, log10tau: Math.log10(tau) })));
  if (values.length === 0) return omitted('tau-histogram', title, 'no finite fitted τ in any cell');
  return {
    id: 'tau-histogram',
    title,
    caption: 'Number of units per bin of log₁₀ τ (finite τ only; bins of 0.1 decade). One panel per cell.',
    spec: topLevel(title, {
      data: { values },
      facet: { column: { field: 'cell', type: 'nominal', title: null, sort: [...order] } },
      spec: {
        width: 220,
        height: HEIGHT - 40,
        mark: { type: 'bar', stroke: 'white', strokeWidth: 0.5 },
        encoding: {
          x: { field: 'log10tau', type: 'quantitative', bin: { step: 0.1 }, title: 'log₁₀ τ (τ in time steps)' },
          y: { aggregate: 'count', type: 'quantitative', title: 'units (count)' },
          color: { ...cellColor(order), legend: null },
        },
      },
      resolve: { scale: { x: 'independent' } },
    }),
  };
}
