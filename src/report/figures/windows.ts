// The learnability window Ĥ_N against the budget N (SPEC §8, Eq. 29), plain and contiguous, for every cell.
import type { CellReport } from '../load.ts';
import { cellColor, DASH_LEGEND, finite, omitted, topLevel, type Figure } from './common.ts';

const PLAIN = 'Ĥ_N';
const CONTIGUOUS = 'contiguous Ĥ_N';

export function windowFigure(cells: readonly CellReport[], order: readonly string[]): Figure {
  const title = 'Learnability window Ĥ_N against the sample budget N';
  const values = cells.flatMap((c) =>
    c.windows.filter((r) => finite(r.N) && r.N > 0).flatMap((r) => [
      { cell: c.cell, N: r.N, H: r.H_N, kind: PLAIN },
      { cell: c.cell, N: r.N, H: r.H_N_contiguous, kind: CONTIGUOUS },
    ]).filter((v) => finite(v.H)),
  );
  if (values.length === 0) return omitted('windows', title, 'no <cell>_H_N.csv rows');
  return {
    id: 'windows',
    title,
    caption: 'Ĥ_N = the largest lag ℓ of the grid whose N_required(ℓ) ≤ N (SPEC §8, Eq. 29; 0 when none). The contiguous window is the ' +
      'largest ℓ such that every grid lag up to ℓ is detectable. Solid: plain; dashed: contiguous.',
    spec: topLevel(title, {
      data: { values },
      width: 520,
      height: 300,
      mark: { type: 'line', point: true, strokeWidth: 2 },
      encoding: {
        x: { field: 'N', type: 'quantitative', title: 'sample budget N (ψ samples, log scale)', scale: { type: 'log' } },
        // Ĥ_N is a lag: whole steps on the axis, and a visible range when every window is 0 (no lag detectable)
        y: {
          field: 'H', type: 'quantitative', title: 'learnability window Ĥ_N (time steps)', axis: { format: 'd', tickMinStep: 1 },
          ...(values.every((v) => v.H === 0) && { scale: { domain: [0, 1] } }),
        },
        color: cellColor(order),
        strokeDash: { field: 'kind', type: 'nominal', title: 'window', legend: DASH_LEGEND, scale: { domain: [PLAIN, CONTIGUOUS], range: [[1, 0], [6, 3]] } },
      },
    }),
  };
}
