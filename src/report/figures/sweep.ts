// Multi-seed bands from a sweep's aggregate/ (src/study/aggregate.ts): mean ± sample std across seeds.
import type { AggregateCell } from '../load.ts';
import { cellColor, finite, omitted, positive, topLevel, type Figure } from './common.ts';

interface Band { cell: string; x: number; mean: number; lo: number; hi: number; n: number }

/** mean ± std of one aggregated column; on a log axis the lower edge is kept positive (a tenth of the mean at least). */
function bands(cells: readonly AggregateCell[], rows: 'summary' | 'windows', key: string, column: string, log: boolean): Band[] {
  return cells.flatMap((c) => c[rows].flatMap((r) => {
    const mean = r[`${column}_mean`];
    const std = finite(r[`${column}_std`]) ? r[`${column}_std`]! : 0;
    if (!finite(mean) || !finite(r[key]) || (log && !positive(mean))) return [];
    const lo = log ? Math.max(mean! - std, mean! / 10) : mean! - std;
    return [{ cell: c.cell, x: r[key]!, mean: mean!, lo, hi: mean! + std, n: r[`${column}_n`] ?? NaN }];
  }));
}

function bandSpec(values: Band[], order: readonly string[], xTitle: string, yTitle: string, xLog: boolean, yLog: boolean) {
  const x = { field: 'x', type: 'quantitative', title: xTitle, scale: xLog ? { type: 'log' } : {} };
  const yScale = yLog ? { type: 'log' } : {};
  return {
    width: 330,
    height: 240,
    data: { values },
    layer: [
      { mark: { type: 'area', opacity: 0.25 }, encoding: { x, y: { field: 'lo', type: 'quantitative', title: yTitle, scale: yScale }, y2: { field: 'hi' }, color: cellColor(order) } },
      { mark: { type: 'line', point: true, strokeWidth: 2 }, encoding: { x, y: { field: 'mean', type: 'quantitative', title: yTitle, scale: yScale }, color: cellColor(order) } },
    ],
  };
}

export function sweepBandFigures(cells: readonly AggregateCell[], seeds: readonly string[]): Figure[] {
  const order = cells.map((c) => c.cell);
  const title = `Across seeds: mean ± std (${seeds.length} runs)`;
  const envelope = bands(cells, 'summary', 'ell', 'mu_l1_mean', true);
  const window = bands(cells, 'windows', 'N', 'H_N', false);
  const alpha = bands(cells, 'summary', 'ell', 'alpha_hat', false);
  const required = bands(cells, 'summary', 'ell', 'N_required_at_eps', true);
  if (envelope.length === 0 && window.length === 0) return [omitted('sweep-bands', title, 'aggregate/ holds no usable mean/std rows')];
  const panels = [
    envelope.length ? { title: 'envelope f̂(ℓ)', ...bandSpec(envelope, order, 'lag ℓ (time steps)', 'f̂(ℓ) (dimensionless, log scale)', false, true) } : undefined,
    window.length ? { title: 'learnability window Ĥ_N', ...bandSpec(window, order, 'sample budget N (ψ samples, log scale)', 'Ĥ_N (time steps)', true, false) } : undefined,
    alpha.length ? { title: 'tail index α̂(ℓ)', ...bandSpec(alpha, order, 'lag ℓ (time steps)', 'α̂ (dimensionless)', false, false) } : undefined,
    required.length ? { title: 'N_required(ℓ), detected runs only', ...bandSpec(required, order, 'lag ℓ (time steps)', 'N_required (ψ samples, log scale)', false, true) } : undefined,
  ].filter((p) => p !== undefined);
  const rows = [panels.slice(0, 2), panels.slice(2)].filter((r) => r.length).map((r) => ({ hconcat: r }));
  return [{
    id: 'sweep-bands',
    title,
    caption: `Lines: the mean over the sweep's runs (${seeds.join(', ') || 'see aggregate/runs.json'}) from aggregate/<cell>_summary_aggregate.csv and ` +
      '<cell>_H_N_aggregate.csv; bands: ± one sample standard deviation (on log axes the lower edge is clipped at a tenth of the mean). ' +
      'N_required averages only the runs where the lag was detected.',
    spec: topLevel(title, { vconcat: rows }),
  }];
}
