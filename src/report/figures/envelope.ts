// The envelope f̂(ℓ) (SPEC §5) of each cell on linear, semi-log and log-log axes, with the exponential and power-law
// fits of SPEC §9 (log f = a + bℓ, log f = c + d log ℓ) drawn over it; and all cells together on semi-log axes.
import type { CellReport } from '../load.ts';
import { cellColor, fmt, HEIGHT, logDomain, omitted, positive, topLevel, type Figure } from './common.ts';

const ELL_TITLE = 'lag ℓ (time steps)';
const F_TITLE = 'envelope f̂(ℓ) (mean |μ|, dimensionless)';

interface Point { ell: number; f: number; series: string }

function fitCurves(cell: CellReport, ells: number[]): Point[] {
  const fits = cell.envelopeFits;
  const lo = Math.min(...ells);
  const hi = Math.max(...ells);
  const grid = Array.from({ length: 60 }, (_, i) => lo + ((hi - lo) * i) / 59);
  const points: Point[] = [];
  if (fits?.exp) {
    const { a, b, r2 } = fits.exp;
    const series = `exponential fit, R² = ${fmt(r2)}`;
    grid.forEach((ell) => points.push({ ell, f: Math.exp(a + b * ell), series }));
  }
  if (fits?.power) {
    const { c, d, r2 } = fits.power;
    const series = `power-law fit, R² = ${fmt(r2)}`;
    grid.forEach((ell) => points.push({ ell, f: Math.exp(c + d * Math.log(ell)), series }));
  }
  return points;
}

function panel(title: string, xLog: boolean, yLog: boolean, domain: [number, number], series: string[], dashes: number[][], colors: string[]) {
  const x = { field: 'ell', type: 'quantitative', title: ELL_TITLE, scale: xLog ? { type: 'log' } : { zero: false } };
  const y = { field: 'f', type: 'quantitative', title: F_TITLE, scale: { type: yLog ? 'log' : 'linear', domain } };
  const color = { field: 'series', type: 'nominal', title: null, scale: { domain: series, range: colors }, legend: { orient: 'bottom', direction: 'vertical' } };
  return {
    title,
    width: 250,
    height: HEIGHT,
    layer: [
      { transform: [{ filter: "datum.series !== 'measured f̂(ℓ)'" }], mark: { type: 'line', clip: true, strokeWidth: 2 }, encoding: { x, y, color, strokeDash: { field: 'series', type: 'nominal', title: null, scale: { domain: series, range: dashes }, legend: { orient: 'bottom', direction: 'vertical' } } } },
      { transform: [{ filter: "datum.series === 'measured f̂(ℓ)'" }], mark: { type: 'point', filled: true, size: 50, clip: true }, encoding: { x, y, color } },
    ],
  };
}

/** One figure per cell: three panels (linear, semi-log, log-log) with both fits and their R². */
export function envelopeFitFigures(cells: readonly CellReport[], order: readonly string[]): Figure[] {
  return cells.map((cell, index) => {
    const id = `envelope-${cell.cell}`;
    const title = `Envelope f̂(ℓ) of ${cell.cell} with exponential and power-law fits`;
    const measured = cell.summary.filter((r) => positive(r.mu_l1_mean) && positive(r.ell)).map((r) => ({ ell: r.ell!, f: r.mu_l1_mean!, series: 'measured f̂(ℓ)' }));
    if (measured.length < 2) return omitted(id, title, `${cell.cell}: fewer than two lags with a positive envelope, nothing to draw`);
    const curves = fitCurves(cell, measured.map((p) => p.ell));
    const series = ['measured f̂(ℓ)', ...new Set(curves.map((p) => p.series))];
    const cellColour = cellColor(order).scale.range[order.indexOf(cell.cell)] ?? '#000000';
    const colors = [cellColour, '#000000', '#777777'].slice(0, series.length);
    const dashes = [[1, 0], [6, 3], [2, 2]].slice(0, series.length);
    const fs = measured.map((p) => p.f);
    const linear: [number, number] = [0, Math.max(...fs) * 1.1];
    const log = logDomain(fs);
    const fits = cell.envelopeFits;
    const subtitle = [
      `exponential: log f = a + bℓ, τ_env = ${fmt(fits?.exp?.tauEnv)} steps, R² = ${fmt(fits?.exp?.r2)};  power law: log f = c + d·log ℓ, R² = ${fmt(fits?.power?.r2)}` +
        (fits?.preferred ? `; preferred: ${fits.preferred}` : ''),
    ];
    const spec = topLevel(title, {
      data: { values: [...measured, ...curves] },
      hconcat: [panel('linear', false, false, linear, series, dashes, colors), panel('semi-log', false, true, log, series, dashes, colors), panel('log-log', true, true, log, series, dashes, colors)],
      resolve: { scale: { color: 'shared', strokeDash: 'shared' } },
    }, subtitle);
    return {
      id,
      title,
      spec,
      caption: `Points: the measured envelope f̂(ℓ) = mean over units of μ(ℓ) (SPEC §5). Lines: the least-squares fits of log f̂ (SPEC §9), drawn over the lag range and clipped to the data's range. ` +
        'A straight line on the semi-log panel means exponential decay, on the log-log panel a power law.' +
        (fits ? '' : ' No envelope fits file was found, so no fit is drawn.'),
    };
  });
}

/** All cells' envelopes on one semi-log axis. */
export function envelopeOverviewFigure(cells: readonly CellReport[], order: readonly string[]): Figure {
  const title = 'Envelope f̂(ℓ) of every cell (semi-log)';
  const values = cells.flatMap((c) => c.summary.filter((r) => positive(r.mu_l1_mean)).map((r) => ({ cell: c.cell, ell: r.ell, f: r.mu_l1_mean })));
  if (values.length === 0) return omitted('envelope-overview', title, 'no cell has a positive envelope');
  const x = { field: 'ell', type: 'quantitative', title: ELL_TITLE };
  const y = { field: 'f', type: 'quantitative', title: F_TITLE, scale: { type: 'log' } };
  return {
    id: 'envelope-overview',
    title,
    caption: 'f̂(ℓ) of every cell on a logarithmic y axis; a steeper line forgets faster.',
    spec: topLevel(title, {
      data: { values },
      width: 520,
      height: 300,
      layer: [{ mark: { type: 'line', point: true, strokeWidth: 2 }, encoding: { x, y, color: cellColor(order) } }],
    }),
  };
}
