// The run's configuration, adapter, stage timings and kernel profile as HTML tables.
import type { StudyReport } from './load.ts';
import { describeSampling, type ProfileReport } from '../gpu/profiler.ts';
import { tableHtml } from './render.ts';
import { fmt } from './figures/common.ts';

export function configTable(study: StudyReport): string {
  if (study.config.length === 0) return '<p class="note">No cli_args.csv: the configuration is not known.</p>';
  return tableHtml('Configuration (cli_args.csv)', ['argument', 'value'], study.config, 'config');
}

export function adapterTable(study: StudyReport): string {
  if (!study.adapter) return '<p class="note">No adapter recorded (no study.json).</p>';
  const rows = Object.entries(study.adapter).map(([k, v]) => [k, typeof v === 'object' ? JSON.stringify(v) : String(v)]);
  return tableHtml('GPU adapter', ['field', 'value'], rows, 'adapter');
}

export function timingTable(study: StudyReport): string {
  const stages = [...new Set(study.cells.flatMap((c) => Object.keys(c.timings ?? {})))];
  if (stages.length === 0) return '<p class="note">No stage timings recorded (no study.json).</p>';
  const rows = study.cells.map((c) => [c.cell, ...stages.map((s) => fmt(c.timings?.[s], 4))]);
  const total = study.seconds === undefined ? '' : ` — whole study ${fmt(study.seconds, 4)} s`;
  return tableHtml(`Stage timings (seconds)${total}`, ['cell', ...stages.map((s) => `${s} (s)`)], rows, 'numeric');
}

export function profileTable(study: StudyReport): string {
  const profile = study.profile;
  if (!profile?.kernels?.length) return '<p class="note">No kernel profile recorded.</p>';
  const rows = profile.kernels.map((k) => [k.name, String(k.calls), fmt(k.totalMs, 4), fmt(k.meanUs, 4), `${fmt(100 * k.share, 3)} %`]);
  const sampling = profile.sampled ? describeSampling(profile as ProfileReport) : '';
  const source = profile.source ? ` (${profile.source}, total ${fmt(profile.totalMs, 4)} ms${sampling ? `; ${sampling}` : ''})` : '';
  return tableHtml(`GPU kernel profile${source}`, ['kernel', 'calls', 'total (ms)', 'mean (µs)', 'share'], rows, 'numeric');
}

/**
 * How a row stands against the theory (SPEC §12: detectability is necessary for learning): a lag learned though it
 * lies outside Ĥ_N contradicts the window; one inside it that was never learned is allowed (detectable is not
 * learned) but worth a look; the other two cases agree.
 */
export function learnedVerdict(row: { insideWindow: boolean; learnedAtEpoch: number | null }): 'learned outside Ĥ_N' | 'inside Ĥ_N, not learned' | 'consistent' {
  const learned = row.learnedAtEpoch !== null;
  if (learned && !row.insideWindow) return 'learned outside Ĥ_N';
  if (!learned && row.insideWindow) return 'inside Ĥ_N, not learned';
  return 'consistent';
}

/** SPEC §12: per cell and task lag, c_k, whether ℓ_k is inside Ĥ_N at N = training sequences, and when it was learned. */
export function learnedTable(study: StudyReport): string {
  const rows = study.cells.flatMap((c) => (c.learned ?? []).map((r) => [
    c.cell, String(r.lag), fmt(r.coeff, 4), `${r.insideWindow ? 'yes' : 'no'} (Ĥ = ${r.windowAtN})`,
    r.learnedAtEpoch === null ? 'never' : String(r.learnedAtEpoch), r.finalCHat === null ? '–' : fmt(r.finalCHat, 4), learnedVerdict(r),
  ]));
  if (rows.length === 0) return '<p class="note">No lag recovery recorded (run with --track-every K on the task to get the learned-vs-learnable table).</p>';
  return tableHtml('Learned against learnable (SPEC §12): a lag is learned at the first recorded epoch with ĉ(ℓ_k)/c_k ≥ 1/2', ['cell', 'task lag ℓ_k', 'c_k', 'inside Ĥ_N at N = training sequences', 'learned at epoch', 'final ĉ(ℓ_k)', 'against the window'], rows, 'numeric');
}
