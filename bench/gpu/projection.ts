// The projection of the paper's whole study (SPEC §10) from what the GPU kit measured, and the epoch times read
// from `lwin run`'s progress lines (LWIN_PROGRESS=lines). Pure functions: tested in test/bench/projection.test.ts.
import type { CellBenchResult } from '../cells.ts';
import { PAPER_TRAINING } from '../cells.ts';
import type { DiagnosticsBenchResult } from '../diagnostics.ts';
import { GATED_CELL_KINDS } from '../../src/model/cells.ts';
import { median, type AbResult } from '../ab.ts';

/** An epoch's progress line, `lwin progress: <cell> k/n epochs, …, elapsed S s` (src/train/progress.ts): S in group 2. */
const EPOCH_LINE = /^lwin progress: \S+ (\d+)\/\d+ \S+.*elapsed ([\d.]+) s$/;

/** Seconds of each finished epoch, from its progress line. */
export function parseProgressLines(text: string): number[] {
  const seconds: number[] = [];
  let previous = 0;
  for (const line of text.split('\n')) {
    const m = EPOCH_LINE.exec(line.trim());
    if (!m) {
      if (/^lwin progress: .* started$/.test(line.trim())) previous = 0;
      continue;
    }
    const elapsed = Number(m[2]);
    seconds.push(elapsed - previous);
    previous = elapsed;
  }
  return seconds;
}

/** The phases each epoch line names, "(batches 1.12 s, evaluation 0.31 s)" (src/train/trainer.ts), '' where none. */
export function progressPhases(text: string): string[] {
  return text.split('\n').map((line) => line.trim()).filter((line) => EPOCH_LINE.test(line))
    .map((line) => /^lwin progress: \S+ \d+\/\d+ \S+, loss \S+ \(([^)]*)\)/.exec(line)?.[1] ?? '');
}

export interface CellProjection {
  cell: string;
  /** One epoch of training batches, times the calibration factor. */
  epochSeconds: number;
  trainingSeconds: number;
  diagnosticsSeconds: number;
  /** What exists of training and diagnostics; `complete` says whether both do. */
  totalSeconds: number;
  complete: boolean;
}

export interface StudyProjection {
  cells: CellProjection[];
  totalSeconds: number;
  /** Measured epoch of the paper run over the bench's prediction for that cell (validation, data and host work). */
  calibration: number;
  note: string;
}

export interface ProjectionInputs {
  cellsPaper: CellBenchResult[];
  cellsBench: CellBenchResult[];
  diagnostics: DiagnosticsBenchResult[];
  /** Epoch times of `lwin run --preset paper --cells gru`. */
  epochSeconds: number[];
  /** Calibrate with the paper run's epochs (only meaningful when the run had the paper's sizes). */
  calibrate: boolean;
  /** The cell of the paper run. */
  runCell?: string;
  /**
   * The interleaved A/B (bench/ab.ts) at the paper size: where it ran a cell's defaults (variant ''), their median GPU
   * ms per step is that cell's batch time. Separate benches of one card drifted 2–4× (bench/RESULTS.md); interleaved
   * medians repeated within 0.3%.
   */
  ab?: AbResult[];
  /** Take each cell's fastest A/B variant instead of its defaults (what switching the defaults would give). */
  fastest?: boolean;
}

/** The median GPU ms per step of `cell`'s defaults in an interleaved A/B at the paper size, if one ran them. */
export function abPaperMs(ab: readonly AbResult[], cell: string): number | undefined {
  const defaults = abPaperVariants(ab, cell).find((v) => v.env === '');
  return defaults?.ms;
}

/** `cell`'s fastest variant (by median GPU ms per step) in an interleaved A/B at the paper size, if one ran it. */
export function abPaperFastest(ab: readonly AbResult[], cell: string): { env: string; ms: number } | undefined {
  return abPaperVariants(ab, cell).reduce<{ env: string; ms: number } | undefined>((best, v) => (best === undefined || v.ms < best.ms ? v : best), undefined);
}

function abPaperVariants(ab: readonly AbResult[], cell: string): { env: string; ms: number }[] {
  const { batch, steps, hidden } = PAPER_TRAINING;
  const result = ab.find((r) => r.cell === cell && r.size.batch === batch && r.size.steps === steps && r.size.hidden === hidden);
  return (result?.variants ?? []).filter((v) => v.gpuMs.length > 0).map((v) => ({ env: v.env.trim(), ms: median(v.gpuMs) }));
}

/**
 * Per paper cell: 750 × (one epoch of training batches, from the interleaved A/B's GPU ms where it ran the cell, else
 * the paper-size bench or scaled from the bench size,
 * × the calibration) + the diagnostic stage's projection. The calibration is the last measured epoch of the paper
 * run (the first also compiles pipelines) over the bench's prediction for the same cell; 1 when there is none.
 */
export function projectPaperStudy(inputs: ProjectionInputs): StudyProjection {
  const { epochs } = PAPER_TRAINING;
  const benchFor = (cell: string) => inputs.cellsPaper.find((r) => r.cell === cell) ?? inputs.cellsBench.find((r) => r.cell === cell);
  const fromAb = (cell: string) => abPaperMs(inputs.ab ?? [], cell);
  const fastest = (cell: string) => (inputs.fastest ? abPaperFastest(inputs.ab ?? [], cell) : undefined);
  const epochOf = (ms: number) => ((ms / 1000) * PAPER_TRAINING.sequences) / PAPER_TRAINING.batch;
  // The paper run ran the defaults: the calibration is always theirs.
  const predictedEpoch = (cell: string) => {
    const ms = fromAb(cell);
    if (ms !== undefined) return epochOf(ms);
    const r = benchFor(cell);
    return r ? r.projectedPaperTrainingSeconds / epochs : NaN;
  };
  const projectedEpoch = (cell: string) => {
    const best = fastest(cell);
    return best ? epochOf(best.ms) : predictedEpoch(cell);
  };
  const runCell = inputs.runCell ?? 'gru';
  const measured = inputs.epochSeconds.at(-1);
  const usable = inputs.calibrate && measured !== undefined && Number.isFinite(predictedEpoch(runCell));
  const calibration = usable ? measured / predictedEpoch(runCell) : 1;
  const notes: string[] = [];
  const interleaved = GATED_CELL_KINDS.filter((c) => fromAb(c) !== undefined);
  if (inputs.fastest) {
    const picks = GATED_CELL_KINDS.flatMap((c) => (fastest(c) ? [`${c}: ${fastest(c)!.env || 'defaults'}`] : []));
    if (picks.length) notes.push(`Batch times: each cell's fastest variant of the interleaved A/B (${picks.join('; ')}); of the others, the cells bench's wall.`);
  } else if (interleaved.length) notes.push(`Batch times of ${interleaved.join(', ')}: the interleaved A/B's median GPU ms (defaults); of the others, the cells bench's wall.`);
  if (usable) notes.push(`Epoch times are the training batches × ${calibration.toFixed(2)}, the ratio of the paper run's measured ${runCell} epoch (${measured.toFixed(1)} s) to its predicted batches.`);
  else notes.push('No measured paper-size epoch to calibrate with: epochs are the bench\'s training batches alone (validation not counted).');
  const scaled = GATED_CELL_KINDS.filter((c) => fromAb(c) === undefined && !inputs.cellsPaper.some((r) => r.cell === c) && inputs.cellsBench.some((r) => r.cell === c));
  if (scaled.length) notes.push(`Scaled from the bench size (no paper-size figure): ${scaled.join(', ')}.`);
  const missing = GATED_CELL_KINDS.filter((c) => (!benchFor(c) && fromAb(c) === undefined) || !inputs.diagnostics.some((d) => d.cell === c));
  if (missing.length) notes.push(`Incomplete (a bench did not reach them): ${missing.join(', ')}; the total counts what exists.`);
  const cells = GATED_CELL_KINDS.map((cell) => {
    const epochSeconds = projectedEpoch(cell) * calibration;
    const trainingSeconds = epochSeconds * epochs;
    const diagnosticsSeconds = inputs.diagnostics.find((d) => d.cell === cell)?.projectedPaperDiagnosticsSeconds ?? NaN;
    const parts = [trainingSeconds, diagnosticsSeconds];
    const totalSeconds = parts.filter(Number.isFinite).reduce((a, b) => a + b, 0);
    return { cell, epochSeconds, trainingSeconds, diagnosticsSeconds, totalSeconds, complete: parts.every(Number.isFinite) };
  });
  return { cells, totalSeconds: cells.reduce((s, c) => s + c.totalSeconds, 0), calibration, note: notes.join(' ') };
}
