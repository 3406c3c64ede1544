// The envelope trajectory (`--track-every K`): every K epochs, the envelope, the per-unit time scales and the
// generalized envelope (with ρ from the optimizer's current preconditioner) on a small fixed diagnostic subset,
// appended to `<cell>/<cell>_trajectory.csv`, so the time-scale spectrum can be watched forming or collapsing
// during training (the companion paper's question: the envelope's decay class emerges from training).
import { readFile } from 'node:fs/promises';
import type { GpuContext } from '../gpu/context.ts';
import type { ParamLayout } from '../model/params.ts';
import type { SequenceData } from '../data/dataset.ts';
import { runDiagnostics } from '../diagnostics/stage.ts';
import { fitUnitTimescales } from '../stats/fits/timescales.ts';
import { writeCsv } from '../train/curves.ts';
import type { StudyConfig } from './config.ts';
import { diagnosticsOptions } from './run.ts';

/** Sequences of the diagnostic set the trajectory uses (the first ones, the same every time). */
export const TRAJECTORY_SEQUENCES = 32;

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

async function previousRows(file: string): Promise<TrajectoryRow[]> {
  const text = await readFile(file, 'utf8').catch(() => '');
  const [header, ...lines] = text.trim().split('\n');
  if (!header || header !== COLUMNS.join(',')) return [];
  return lines.map((line) => Object.fromEntries(COLUMNS.map((c, i) => [c, Number(line.split(',')[i] || NaN)])) as unknown as TrajectoryRow);
}

/** The trainer's onEpochEnd hook that records the trajectory into `file`. */
export function trajectoryRecorder(ctx: GpuContext, config: StudyConfig, layout: ParamLayout, diagnostic: SequenceData, file: string) {
  const every = config.trackEvery!;
  const probe = subset(diagnostic, TRAJECTORY_SEQUENCES);
  let rows: TrajectoryRow[] | undefined;
  return async (epoch: number, snapshot: () => Promise<{ params: Float32Array; preconditioner: Float64Array }>) => {
    // A resumed run replaces rows from epochs it is about to redo.
    rows ??= (await previousRows(file)).filter((r) => r.epoch < epoch);
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
    await writeCsv(file, COLUMNS, rows);
  };
}
