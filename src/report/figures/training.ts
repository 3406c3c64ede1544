// Learning curves (train and validation loss and R² per epoch) and the envelope's trajectory over training.
import type { CellReport } from '../load.ts';
import { cellColor, DASH_LEGEND, finite, HEIGHT, omitted, positive, topLevel, type Figure } from './common.ts';

/** `classification`: the models were trained with SPEC §13's ce loss, and train_acc / val_acc hold accuracy. */
export function learningCurveFigure(cells: readonly CellReport[], order: readonly string[], classification = false): Figure {
  const title = 'Learning curves';
  const values = cells.flatMap((c) => (c.learningCurve ?? []).flatMap((r) => [
    // train_acc / val_acc hold R² (the reference's column names; curves.ts).
    { cell: c.cell, epoch: r.epoch, split: 'train', loss: r.train_loss, r2: r.train_acc },
    { cell: c.cell, epoch: r.epoch, split: 'validation', loss: r.val_loss, r2: r.val_acc },
  ]).filter((v) => finite(v.loss) || finite(v.r2)));
  const missing = cells.filter((c) => !c.learningCurve).map((c) => c.cell);
  if (values.length === 0) return omitted('learning-curves', title, `no <cell>_learning_curve.csv (cells: ${cells.map((c) => c.cell).join(', ')})`);
  const x = { field: 'epoch', type: 'quantitative', title: 'epoch', axis: { tickMinStep: 1 } };
  const common = { color: cellColor(order), strokeDash: { field: 'split', type: 'nominal', title: 'split', legend: DASH_LEGEND, scale: { domain: ['train', 'validation'], range: [[1, 0], [6, 3]] } } };
  return {
    id: 'learning-curves',
    title,
    caption: (classification
      ? 'Cross-entropy (left, log scale) and accuracy (right) of the training and validation sets after each epoch. Solid: train; dashed: validation.'
      : 'Mean squared error (left, log scale) and R² (right) of the training and validation sets after each epoch. Solid: train; dashed: validation.') +
      (missing.length ? ` No learning curve for: ${missing.join(', ')}.` : ''),
    spec: topLevel(title, {
      data: { values },
      hconcat: [
        { width: 330, height: HEIGHT, transform: [{ filter: 'datum.loss > 0' }], mark: { type: 'line', point: true }, encoding: { x, y: { field: 'loss', type: 'quantitative', title: classification ? 'loss (cross-entropy, log scale)' : 'loss (mean squared error, log scale)', scale: { type: 'log' } }, ...common } },
        { width: 330, height: HEIGHT, transform: [{ filter: 'isFinite(datum.r2)' }], mark: { type: 'line', point: true }, encoding: { x, y: { field: 'r2', type: 'quantitative', title: classification ? 'accuracy' : 'R² (coefficient of determination)' }, ...common } },
      ],
    }),
  };
}

export function trajectoryFigure(cells: readonly CellReport[], order: readonly string[]): Figure {
  const title = 'Envelope f̂(ℓ) over training';
  const tracked = cells.filter((c) => c.trajectory?.length);
  if (tracked.length === 0) return omitted('trajectory', title, 'no <cell>_trajectory.csv: the study did not track the envelope (run with --track-every K)');
  const values = tracked.flatMap((c) => c.trajectory!.filter((r) => positive(r.mu_l1_mean)).map((r) => ({ cell: c.cell, epoch: r.epoch, ell: r.ell, f: r.mu_l1_mean })));
  return {
    id: 'trajectory',
    title,
    caption: 'f̂(ℓ) recorded every few epochs during training (<cell>_trajectory.csv), one panel per cell; darker lines are later epochs.' +
      (tracked.length < cells.length ? ` Not tracked: ${cells.filter((c) => !c.trajectory?.length).map((c) => c.cell).join(', ')}.` : ''),
    spec: topLevel(title, {
      data: { values },
      facet: { column: { field: 'cell', type: 'nominal', title: null, sort: order.filter((c) => tracked.some((t) => t.cell === c)) } },
      spec: {
        width: 240,
        height: HEIGHT,
        mark: { type: 'line', point: { size: 20 }, strokeWidth: 1.8 },
        encoding: {
          x: { field: 'ell', type: 'quantitative', title: 'lag ℓ (time steps)' },
          y: { field: 'f', type: 'quantitative', title: 'f̂(ℓ) (dimensionless, log scale)', scale: { type: 'log' } },
          color: { field: 'epoch', type: 'ordinal', title: 'epoch', scale: { scheme: 'viridis', reverse: true } },
        },
      },
    }),
  };
}
