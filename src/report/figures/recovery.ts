// What is actually learned (SPEC §12): the recovered coefficient ĉ(ℓ) over training as a heat map per cell, with the
// task lags and the learnability window Ĥ_N (N = training sequences) marked; and the epoch each task lag was learned.
import type { CellReport } from '../load.ts';
import { cellColor, omitted, topLevel, type Figure } from './common.ts';

export function recoveryHeatmapFigures(cells: readonly CellReport[]): Figure[] {
  return cells.filter((c) => c.recovery?.length).map((c) => {
    const title = `Recovered coefficient ĉ(ℓ) over training: ${c.cell}`;
    const values = c.recovery!.map((r) => ({ epoch: r.epoch, ell: r.ell, c: r.c_hat }));
    const taskLags = c.recovery!.filter((r) => r.c_true !== 0 && r.epoch === c.recovery![0]!.epoch).map((r) => ({ ell: r.ell, c: r.c_true }));
    const window = c.learned?.[0]?.windowAtN;
    // A symmetric colour domain: white is ĉ = 0, and tiny values of either sign stay pale.
    const extent = Math.max(1e-12, ...values.map((v) => Math.abs(v.c ?? NaN)).filter(Number.isFinite));
    const marks: object[] = [{ ell: window ?? 0, label: `Ĥ_N = ${window ?? '?'}` }];
    return {
      id: `recovery-${c.cell}`,
      title,
      caption: 'Colour: ĉ(ℓ) = mean u·∂ŷ_{s+ℓ}/∂x_s on a fixed probe set (SPEC §12), recorded every K epochs. Black ticks on the right: the task lags ' +
        'ℓ_k (their c_k in the tooltip-free labels). Dashed line: the learnability window Ĥ_N at N = the training set size; lags above it are not ' +
        'detectable from that many sequences, so learning them would contradict the theory.',
      spec: topLevel(title, {
        layer: [
          {
            data: { values }, mark: 'rect',
            encoding: {
              x: { field: 'epoch', type: 'ordinal', title: 'epoch' },
              y: { field: 'ell', type: 'ordinal', title: 'lag ℓ (time steps)', sort: 'descending' },
              color: { field: 'c', type: 'quantitative', title: 'ĉ(ℓ)', scale: { scheme: 'blueorange', domain: [-extent, extent] } },
            },
          },
          ...(taskLags.length ? [{ data: { values: taskLags }, mark: { type: 'tick', color: 'black', thickness: 2 }, encoding: { y: { field: 'ell', type: 'ordinal', sort: 'descending' } } }] : []),
          ...(window ? [{ data: { values: marks }, mark: { type: 'rule', strokeDash: [6, 3], color: 'black' }, encoding: { y: { field: 'ell', type: 'ordinal', sort: 'descending' } } }] : []),
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
    caption: 'First recorded epoch with ĉ(ℓ_k)/c_k ≥ 1/2 (SPEC §12), per task lag; lags never learned are left out (see the table below).',
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
