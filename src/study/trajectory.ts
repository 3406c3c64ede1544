// The envelope trajectory (`--track-every K`): every K epochs, the envelope, the per-unit time scales and the
// generalized envelope (with ρ from the optimizer's current preconditioner) on a small fixed diagnostic subset,
// appended to `<cell>/<cell>_trajectory.csv`, so the time-scale spectrum can be watched forming or collapsing
// during training (the companion paper's question: the envelope's decay class emerges from training). On the
// multi-lag task it also records the lag recovery ĉ(ℓ) (SPEC §12) on a fixed probe set into
// `<cell>/<cell>_lag_recovery.csv` (epoch, ell, c_hat, c_true).
import type { GpuContext } from '../gpu/context.ts';
import type { ParamLayout } from '../model/params.ts';
import type { SequenceData } from '../data/dataset.ts';
import { runDiagnostics } from '../diagnostics/stage.ts';
import { fitUnitTimescales } from '../stats/fits/timescales.ts';
import { toCsv } from '../train/curves.ts';
import { readText, type Storage } from '../io/storage.ts';
import { numericRecords } from '../io/study-files.ts';
import type { StudyConfig } from './config.ts';
import { diagnosticsOptions } from './settings.ts';
import { lagRecovery } from '../diagnostics/recovery.ts';
import { MultiLagTask } from '../data/task.ts';

/** Sequences of the diagnostic set the trajectory uses (the first ones, the same every time). */
export const TRAJECTORY_SEQUENCES = 32;
/** Probe sequences and start steps of the lag recovery (the first diagnostic sequences, evenly spaced starts). */
export const RECOVERY_PROBES = 8;
export const RECOVERY_STARTS = 4;

interface RecoveryRow {
  epoch: number;
  ell: number;
  c_hat: number;
  c_true: number;
}
const RECOVERY_COLUMNS: (keyof RecoveryRow)[] = ['epoch', 'ell', 'c_hat', 'c_true'];

export interface TrajectoryRow {
  epoch: number;
  ell: number;
  mu_l1_mean: number;
  log_mu_l1_mean: number;
  generalized_mean: number;
  eta_bar: number;
  tau_median: number;
  tau_finite_fraction: number;
}

const COLUMNS: (keyof TrajectoryRow)[] = ['epoch', 'ell', 'mu_l1_mean', 'log_mu_l1_mean', 'generalized_mean', 'eta_bar', 'tau_median', 'tau_finite_fraction'];

function subset(data: SequenceData, n: number): SequenceData {
  const count = Math.min(n, data.count);
  return { ...data, count, x: data.x.subarray(0, count * data.steps * data.inputSize), y: data.y.subarray(0, count * data.steps) };
}

/** The rows of a CSV this module wrote earlier (a resumed run continues it); none if absent or of other columns. */
async function previousRows<R>(storage: Storage, file: string, columns: readonly (keyof R & string)[]): Promise<R[]> {
  const text = await readText(storage, file);
  if (text === undefined || text.trim() === '') return [];
  return numericRecords<R>(text, file, columns) ?? [];
}

/** Where the recorders write: the study's storage and the two files' paths. */
export interface TrajectoryFiles {
  storage: Storage;
  trajectory: string;
  /** The lag recovery's file (recorded on the task only). */
  recovery: string;
}

/** The trainer's onEpochEnd hook that records the trajectory into `file`. */
export function trajectoryRecorder(ctx: GpuContext, config: StudyConfig, layout: ParamLayout, diagnostic: SequenceData, files: TrajectoryFiles) {
  const { storage, trajectory: file } = files;
  const every = config.trackEvery!;
  const probe = subset(diagnostic, TRAJECTORY_SEQUENCES);
  let rows: TrajectoryRow[] | undefined;
  const recovery = config.data ? undefined : recoveryRecorder(ctx, config, layout, diagnostic, storage, files.recovery);
  return async (epoch: number, snapshot: () => Promise<{ params: Float32Array; preconditioner: Float64Array }>) => {
    // A resumed run replaces rows from epochs it is about to redo.
    rows ??= (await previousRows<TrajectoryRow>(storage, file, COLUMNS)).filter((r) => r.epoch < epoch);
    if (epoch % every !== 0) return;
    const { params, preconditioner } = await snapshot();
    const options = { ...diagnosticsOptions(config, preconditioner), transportSamples: 0, psiSubsample: 1000, preconditioner };
    const d = await runDiagnostics(ctx, layout, params, probe, options);
    const ells = d.perLag.map((l) => l.ell);
    const units = fitUnitTimescales(ells, d.perLag.map((l) => l.perUnit));
    const finite = units.tau.filter(Number.isFinite).sort((a, b) => a - b);
    const median = finite.length ? finite[Math.floor((finite.length - 1) / 2)]! : NaN;
    for (const lag of d.perLag) {
      rows.push({
        epoch, ell: lag.ell, mu_l1_mean: lag.muL1Mean, log_mu_l1_mean: lag.logMuL1Mean,
        generalized_mean: lag.generalized?.mean ?? NaN, eta_bar: d.etaBar ?? NaN,
        tau_median: median, tau_finite_fraction: units.tau.length ? finite.length / units.tau.length : NaN,
      });
    }
    await storage.write(file, toCsv(COLUMNS, rows));
    await recovery?.(epoch, params);
  };
}

/** ĉ(ℓ) for ℓ = 1…lagGrid.max every K epochs on the task (its u and coefficients give c_true). */
function recoveryRecorder(ctx: GpuContext, config: StudyConfig, layout: ParamLayout, diagnostic: SequenceData, storage: Storage, file: string) {
  const task = new MultiLagTask(config.task);
  const T = diagnostic.steps;
  const lagMax = Math.min(config.lagGrid.max, T - 1);
  const span = Math.max(1, T - lagMax);
  const starts = [...new Set(Array.from({ length: RECOVERY_STARTS }, (_, i) => Math.floor((i * span) / RECOVERY_STARTS)))];
  const probe = { ...subset(diagnostic, RECOVERY_PROBES), starts };
  const cTrue = (ell: number) => config.task.coeffs[config.task.lags.indexOf(ell)] ?? 0;
  let rows: RecoveryRow[] | undefined;
  return async (epoch: number, params: Float32Array) => {
    rows ??= (await previousRows<RecoveryRow>(storage, file, RECOVERY_COLUMNS)).filter((r) => r.epoch < epoch);
    const buffer = ctx.upload('recovery/params', params);
    try {
      const cHat = await lagRecovery(ctx, layout, buffer, { ...probe, x: probe.x, count: probe.count, steps: T, inputSize: probe.inputSize }, task.direction, lagMax);
      cHat.forEach((c, i) => rows!.push({ epoch, ell: i + 1, c_hat: c, c_true: cTrue(i + 1) }));
    } finally {
      buffer.destroy();
    }
    await storage.write(file, toCsv(RECOVERY_COLUMNS, rows));
  };
}

