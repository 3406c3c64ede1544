// What is actually learned (SPEC §12): the recovered coefficient ĉ(ℓ) over training as a heat map per cell, with the
// task lags and the learnability window Ĥ_N (N = training sequences) marked; and the epoch each task lag was learned.
import type { CellReport } from '../load.ts';
import { cellColor, omitted, topLevel, type Figure } from './common.ts';

export function recoveryHeatmapFigures(cells: readonly CellReport[]): Figure[] {
  return cells.filter((c) => c.recovery?.length).map((c) => {
    const title = `Recovered coefficient ĉ(ℓ) over training: ${c.cell}`;
    const rows = c.recovery!.map((r) => ({ epoch: r.epoch!, ell: r.ell!, c_hat: r.c_hat!, c_true: r.c_true! }));
    const epochs = [...new Set(rows.map((r) => r.epoch))].sort((a, b) => a - b);
    // Each recorded epoch spans from the previous record to itself (records every K epochs fill the axis).
    const step = (epochs[1] ?? epochs[0]! + 1) - epochs[0]!;
    const startOf = new Map(epochs.map((e, i) => [e, i === 0 ? e - step : epochs[i - 1]!]));
    const values = rows.map((r) => ({ e0: startOf.get(r.epoch)!, e1: r.epoch, l0: r.ell - 0.5, l1: r.ell + 0.5, epoch: r.epoch, ell: r.ell, c: r.c_hat }));
    const first = epochs[0]!;
    const last = epochs.at(-1)!;
    const taskLags = rows.filter((r) => r.c_true !== 0 && r.epoch === first).map((r) => ({ ell: r.ell, label: `ℓ=${r.ell}, c=${r.c_true}` }));
    const window = c.learned?.[0]?.windowAtN;
    const lagMax = Math.max(...values.map((v) => v.ell));
    // A symmetric colour domain: white is ĉ = 0, and tiny values of either sign stay pale.
    const extent = Math.max(1e-12, ...values.map((v) => Math.abs(v.c ?? NaN)).filter(Number.isFinite));
    const x = { type: 'quantitative', title: 'epoch', scale: { domain: [startOf.get(first)!, last], nice: false }, axis: { tickMinStep: 1, format: 'd' } };
    const rightEdge = { value: 'width' }; // task-lag marks sit just outside the map's right edge
    const y = { type: 'quantitative', title: 'lag ℓ (time steps)', scale: { domain: [0.5, lagMax + 0.5], nice: false }, axis: { tickMinStep: 1, format: 'd' } };
    return {
      id: `recovery-${c.cell}`,
      title,
      caption: 'Colour: ĉ(ℓ) = mean u·∂ŷ_{s+ℓ}/∂x_s on a fixed probe set (SPEC §12), recorded every K epochs. Triangles on the right: the ' +
        'task lags ℓ_k with their coefficients c_k. Dashed line: the learnability window Ĥ_N at N = the training set size; lags above it are not ' +
        'detectable from that many sequences, so learning them would contradict the theory.',
      spec: topLevel(title, {
        layer: [
          {
            data: { values }, mark: 'rect',
            encoding: {
              x: { field: 'e0', ...x }, x2: { field: 'e1' },
              y: { field: 'l0', ...y }, y2: { field: 'l1' },
              color: { field: 'c', type: 'quantitative', title: 'ĉ(ℓ)', scale: { scheme: 'blueorange', domain: [-extent, extent] }, legend: { offset: taskLags.length ? 90 : 18 } },
            },
          },
          ...(taskLags.length
            ? [
              { data: { values: taskLags }, mark: { type: 'point', shape: 'triangle-left', filled: true, color: 'black', size: 50, xOffset: 6 }, encoding: { x: rightEdge, y: { field: 'ell', ...y } } },
              { data: { values: taskLags }, mark: { type: 'text', align: 'left', dx: 12, fontSize: 10 }, encoding: { x: rightEdge, y: { field: 'ell', ...y }, text: { field: 'label' } } },
            ]
            : []),
          ...(window
            ? [
              { data: { values: [{ ell: window + 0.5, label: `Ĥ_N = ${window}` }] }, mark: { type: 'rule', strokeDash: [6, 3], color: 'black' }, encoding: { y: { field: 'ell', ...y } } },
              { data: { values: [{ ell: window + 0.5, x: startOf.get(first)!, label: `Ĥ_N = ${window}` }] }, mark: { type: 'text', align: 'left', baseline: 'bottom', dx: 3, dy: -2, fontSize: 10 }, encoding: { x: { field: 'x', ...x }, y: { field: 'ell', ...y }, text: { field: 'label' } } },
            ]
            : []),
        ],
        width: 420, height: 300,
      }),
    };
  });
}

export function timeToLearnFigure(cells: readonly CellReport[], order: readonly string[]): Figure {
  const title = 'Epoch at which each task lag was learned';
  const values = cells.flatMap((c) => (c.learned ?? []).filter((r) => r.learnedAtEpoch !== null).map((r) => ({ cell: c.cell, lag: r.lag, epoch: r.learnedAtEpoch })));
  if (values.length === 0) return omitted('time-to-learn', title, 'no task lag reached half its coefficient in the recorded epochs (or no lag recovery was recorded)');
  return {
    id: 'time-to-learn',
    title,
    caption: 'First recorded epoch with ĉ(ℓ_k)/c_k ≥ 1/2 (SPEC §12), per task lag; lags never learned are left out (see the table above).',
    spec: topLevel(title, {
      data: { values }, width: 420, height: 260,
      mark: { type: 'line', point: true, strokeWidth: 2 },
      encoding: {
        x: { field: 'lag', type: 'quantitative', title: 'task lag ℓ_k (time steps)' },
        y: { field: 'epoch', type: 'quantitative', title: 'learned at epoch' },
        color: cellColor(order),
      },
    }),
  };
}
