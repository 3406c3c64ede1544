// The learning curve and gate statistics as CSV, rewritten atomically after every epoch so a crash or an
// interrupt leaves the file as it was after the last completed epoch.
import writeFileAtomic from 'write-file-atomic';

export interface CurveRow {
  epoch: number;
  train_loss: number;
  train_r2: number;
  val_loss: number;
  val_r2: number;
}

export interface GateRow {
  epoch: number;
  mean_gate: number;
  mean_leak: number;
  mean_rdiag: number;
}

export const CURVE_COLUMNS: (keyof CurveRow)[] = ['epoch', 'train_loss', 'train_r2', 'val_loss', 'val_r2'];
export const GATE_COLUMNS: (keyof GateRow)[] = ['epoch', 'mean_gate', 'mean_leak', 'mean_rdiag'];

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

/**
 * SPEC §3's gate statistics from the mean SPEC §4 terms. LSTM has no update gate: its forget gate f serves as
 * both gate and leak (retention), and cdiag as the first-order term.
 */
export function gateRow(epoch: number, means: Record<string, number>): GateRow {
  if ('f' in means) return { epoch, mean_gate: means.f!, mean_leak: means.f!, mean_rdiag: means.cdiag! };
  return { epoch, mean_gate: means.gate!, mean_leak: means.leak!, mean_rdiag: means.rdiag! };
}
