// The learning curve and gate statistics as CSV, rewritten atomically after every epoch so a crash or an
// interrupt leaves the file as it was after the last completed epoch.
import writeFileAtomic from 'write-file-atomic';
import type { CellKind } from '../model/cells.ts';

/**
 * One row of `<cell>_learning_curve.csv`, with the reference's columns: `train_acc` and `val_acc` hold R² on the
 * regression task (the reference stores R² under these names, and its plotting script reads them), accuracy with
 * the `ce` loss. `epoch` counts completed epochs from 1, as the reference's `ep + 1`.
 */
export interface CurveRow {
  epoch: number;
  train_loss: number;
  train_acc: number;
  val_loss: number;
  val_acc: number;
}

/**
 * One row of `gate_stats_<cell>.csv`, the reference's long format: `epoch` is its 0-based `ep`, so the statistics
 * after the first epoch carry epoch 0, and `metric` one of the reference's names (GATE_METRICS).
 */
export interface GateRow {
  epoch: number;
  metric: string;
  value: number;
}

export const CURVE_COLUMNS: (keyof CurveRow)[] = ['epoch', 'train_loss', 'train_acc', 'val_loss', 'val_acc'];
export const GATE_COLUMNS: (keyof GateRow)[] = ['epoch', 'metric', 'value'];

/**
 * The reference's metric names for the mean SPEC §4 terms, in its order, from lwin's intermediate names: the
 * baselines log gate_s, leak, rdiag; its GRU z, r, leak (= 1 - z), rdiag; its LSTM forget, expr (o·(1 - tanh² c)),
 * cdiag. The linear cell (not in the reference) logs its retention term Wh_qq as leak_mean.
 */
export const GATE_METRICS: Readonly<Record<CellKind, readonly (readonly [term: string, metric: string])[]>> = {
  const: [['gate', 'gate_s_mean'], ['leak', 'leak_mean'], ['rdiag', 'rdiag_mean']],
  shared: [['gate', 'gate_s_mean'], ['leak', 'leak_mean'], ['rdiag', 'rdiag_mean']],
  diag: [['gate', 'gate_s_mean'], ['leak', 'leak_mean'], ['rdiag', 'rdiag_mean']],
  gru: [['gate', 'z_mean'], ['r', 'r_mean'], ['leak', 'leak_mean'], ['rdiag', 'rdiag_mean']],
  lstm: [['f', 'forget_mean'], ['e', 'expr_mean'], ['cdiag', 'cdiag_mean']],
  linear: [['leak', 'leak_mean']],
  // PyTorch's layers (SPEC §13): rnn's signed diagonal d; torch_gru's z (leak), 1 - z (gate) and rdiag; lstm's terms
  rnn: [['leak', 'd_mean']],
  rnn_relu: [['leak', 'd_mean']],
  torch_gru: [['leak', 'z_mean'], ['gate', 'gate_mean'], ['rdiag', 'rdiag_mean']],
  torch_lstm: [['f', 'forget_mean'], ['e', 'expr_mean'], ['cdiag', 'cdiag_mean']],
};

/** Whether the reference logs gate statistics after completed epoch `epoch` (1-based): its `ep % every == 0`. */
export function logsGateStats(epoch: number, every: number): boolean {
  return (epoch - 1) % every === 0;
}

/** Full-precision numbers (round-trip exact), empty for missing values. */
function cell(value: number | undefined): string {
  return value === undefined || Number.isNaN(value) ? '' : String(value);
}

export function toCsv<R extends object>(columns: (keyof R)[], rows: readonly R[]): string {
  const lines = [columns.join(',')];
  for (const row of rows) lines.push(columns.map((c) => cell(row[c] as number | undefined)).join(','));
  return `${lines.join('\n')}\n`;
}

export async function writeCsv<R extends object>(path: string, columns: (keyof R)[], rows: readonly R[]): Promise<void> {
  await writeFileAtomic(path, toCsv(columns, rows));
}

/** SPEC §3's gate statistics after completed epoch `epoch` (1-based) as the reference's rows (epoch `epoch - 1`). */
export function gateRows(cell: CellKind, epoch: number, means: Record<string, number>): GateRow[] {
  return GATE_METRICS[cell].map(([term, metric]) => {
    const value = means[term];
    if (value === undefined) throw new Error(`gate statistics: cell ${cell} has no mean '${term}' (got ${Object.keys(means).join(', ')})`);
    return { epoch: epoch - 1, metric, value };
  });
}
