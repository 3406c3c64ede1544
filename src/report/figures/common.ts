// What every figure shares: the Figure record, the Okabe–Ito palette with one fixed colour per cell, print-size fonts,
// and the guards that keep non-finite or non-positive values out of log axes.
import type { TopLevelSpec } from 'vega-lite';

export type Spec = TopLevelSpec;

/** One figure of the report: a spec to draw, or (when its input is missing) only a note saying why it is left out. */
export interface Figure {
  id: string;
  title: string;
  caption: string;
  spec?: Spec;
  note?: string;
}

/** Okabe & Ito (2008), yellow last as it is faint on white. */
export const OKABE_ITO = ['#0072B2', '#D55E00', '#009E73', '#CC79A7', '#E69F00', '#56B4E9', '#000000', '#F0E442'] as const;

/** The colour scale of the cells, in study order: a cell keeps its colour in every figure. */
export function cellColor(cells: readonly string[], title = 'cell') {
  return {
    field: 'cell',
    type: 'nominal' as const,
    title,
    scale: { domain: [...cells], range: cells.map((_, i) => OKABE_ITO[i % OKABE_ITO.length]!) },
  };
}

/** Fonts and sizes readable when the page is printed (A4, two figures a row at most). */
export const PRINT_CONFIG = {
  font: 'Helvetica, Arial, sans-serif',
  axis: { labelFontSize: 12, titleFontSize: 13, grid: true, gridColor: '#e6e6e6' },
  legend: { labelFontSize: 12, titleFontSize: 12, symbolSize: 120, labelLimit: 320 },
  title: { fontSize: 15, anchor: 'start' as const, subtitleFontSize: 12 },
  header: { labelFontSize: 13, titleFontSize: 13 },
  view: { stroke: '#888888' },
};

export const HEIGHT = 230;

export const finite = (v: number | undefined | null): v is number => typeof v === 'number' && Number.isFinite(v);
export const positive = (v: number | undefined | null): v is number => finite(v) && v > 0;

/** Wraps a view as a top-level spec with the shared config and a title. */
export function topLevel(title: string, view: Record<string, unknown>, subtitle?: string | string[]): Spec {
  return {
    title: subtitle === undefined ? { text: title } : { text: title, subtitle },
    config: PRINT_CONFIG,
    background: 'white',
    padding: 8,
    ...view,
  } as Spec;
}

/** [min/2, max·2] of the positive values, for a log axis that shows the data and clips fitted curves around it. */
export function logDomain(values: readonly number[]): [number, number] {
  const kept = values.filter(positive);
  if (kept.length === 0) return [1e-3, 1];
  return [Math.min(...kept) / 2, Math.max(...kept) * 2];
}

export const fmt = (v: number | null | undefined, digits = 3): string => (finite(v) ? Number(v.toPrecision(digits)).toString() : 'n/a');

/** A figure that cannot be drawn: its title and why. */
export const omitted = (id: string, title: string, note: string): Figure => ({ id, title, caption: '', note });

/** Legend of a strokeDash channel: line symbols, so solid and dashed can be told apart in print. */
// The stroke is set through `encode`: vega-lite leaves it unset for lines drawn with points, hiding the symbol.
export const DASH_LEGEND = { symbolType: 'stroke', symbolStrokeWidth: 2.5, symbolSize: 400, encode: { symbols: { update: { stroke: { value: '#333333' } } } } };

/**
 * One log-scale line per cell against the lag: the shape of several per-lag figures. With `dashes`, each cell has
 * two lines told apart by the `kind` field (solid: the first of `domain`, dashed: the second).
 */
export function lagLineFigure(
  id: string, title: string, caption: string, values: object[], field: string, yTitle: string, order: readonly string[],
  options: { dashes?: { title: string; domain: [string, string] }; subtitle?: string | string[] } = {},
): Figure {
  const dashes = options.dashes && {
    strokeDash: { field: 'kind', type: 'nominal', title: options.dashes.title, legend: DASH_LEGEND, scale: { domain: options.dashes.domain, range: [[1, 0], [6, 3]] } },
    detail: { field: 'kind' },
  };
  return {
    id,
    title,
    caption,
    spec: topLevel(title, {
      data: { values },
      width: 520,
      height: 300,
      mark: { type: 'line', point: true, strokeWidth: 2 },
      encoding: {
        x: { field: 'ell', type: 'quantitative', title: 'lag ℓ (time steps)' },
        y: { field, type: 'quantitative', title: yTitle, scale: { type: 'log' } },
        color: cellColor(order),
        ...dashes,
      },
    }, options.subtitle),
  };
}
