// The first-order envelope f̂(ℓ) against the exact transport f_exact(ℓ) (SPEC §6), and the generalized envelope
// (SPEC §5) against the plain one.
import type { CellReport } from '../load.ts';
import { fmt, lagLineFigure, omitted, positive, type Figure } from './common.ts';

function comparison(id: string, title: string, subtitle: string | string[], caption: string, values: object[], order: readonly string[], kinds: [string, string], yTitle: string): Figure {
  return lagLineFigure(id, title, caption, values, 'f', yTitle, order, { dashes: { title: 'envelope', domain: kinds }, subtitle });
}

export function exactTransportFigure(cells: readonly CellReport[], order: readonly string[]): Figure {
  const title = 'Exact against first-order envelope';
  const kinds: [string, string] = ['first order f̂(ℓ)', 'exact f_exact(ℓ)'];
  const withExact = cells.filter((c) => c.lagExtras.some((l) => l.exact !== undefined));
  if (withExact.length === 0) return omitted('exact-transport', title, 'the study computed no exact transport (no `exact` per lag in study.json; run with --transport-samples K)');
  const values = withExact.flatMap((c) => c.lagExtras.flatMap((l) => [
    { cell: c.cell, ell: l.ell, f: l.muL1Mean, kind: kinds[0] },
    { cell: c.cell, ell: l.ell, f: l.exact, kind: kinds[1] },
  ]).filter((v) => positive(v.f)));
  const agreement = withExact.map((c) => `${c.cell}: Spearman ${fmt(c.transport?.spearman)}, Pearson (log) ${fmt(c.transport?.logPearson)}`);
  return comparison('exact-transport', title, agreement.join(';  '),
    'Solid: the first-order (diagonal) envelope f̂(ℓ); dashed: the envelope from the exact transport of SPEC §6 on a few sequences. ' +
      'The title gives their agreement over the lags: Spearman rank correlation and Pearson correlation of the logarithms.',
    values, order, kinds, 'envelope (dimensionless, log scale)');
}

export function generalizedFigure(cells: readonly CellReport[], order: readonly string[]): Figure {
  const title = 'Generalized against plain envelope';
  const kinds: [string, string] = ['plain f̂(ℓ)', 'generalized'];
  const withGeneralized = cells.filter((c) => c.lagExtras.some((l) => l.generalized !== undefined));
  if (withGeneralized.length === 0) return omitted('generalized', title, 'no generalized envelope per lag in study.json');
  const all = withGeneralized.flatMap((c) => c.lagExtras.flatMap((l) => [
    { cell: c.cell, ell: l.ell, f: l.muL1Mean, kind: kinds[0] },
    { cell: c.cell, ell: l.ell, f: l.generalized, kind: kinds[1] },
  ]));
  const values = all.filter((v) => positive(v.f));
  const dropped = all.length - values.length;
  return comparison('generalized', title, [], 'Solid: the plain envelope f̂(ℓ); dashed: the generalized envelope (η̄ term plus spread term, SPEC §5).' +
    (dropped ? ` ${dropped} non-positive values cannot sit on the log axis and are left out.` : ''),
    values, order, kinds, 'envelope (dimensionless, log scale)');
}
