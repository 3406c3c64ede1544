// The study pipeline, the one every runtime runs (`lwin run`, `lwin sweep`, `lwin diagnose`, Deno, the browser page):
// for each cell, in order: train (with checkpoints), diagnose the trained model on the diagnostic set, estimate the
// statistics, write the cell's files; then the study's summary files. It touches no file system: every file goes
// through a Storage (io/storage.ts: a folder on disk in Node and Deno, an in-memory folder in the browser), and
// what happens is told to one progress callback (StudyEvent).
// A finished cell leaves `<cell>/<cell>_cell.json`; `resume` skips such cells and continues a half-trained one from
// its checkpoint, so an interrupted study loses at most the work since the last checkpoint.
import type { GpuContext } from '../gpu/context.ts';
import type { AdapterSummary } from '../gpu/device.ts';
import type { CellKind } from '../model/cells.ts';
import { buildLayout, type ParamLayout } from '../model/params.ts';
import type { SequenceData } from '../data/dataset.ts';
import { train, type TrainingData } from '../train/trainer.ts';
import { memorySink, type TrainSink } from '../train/sink.ts';
import { CURVE_COLUMNS, GATE_COLUMNS, toCsv } from '../train/curves.ts';
import type { Progress } from '../train/progress.ts';
import type { Warn } from '../train/checkpoint.ts';
import { writeSafetensors, LWIN_VERSION } from '../io/safetensors.ts';
import { writeOptimizerStateFile } from '../train/optimizer-file.ts';
import { runModelDiagnostics } from '../diagnostics/stack-stage.ts';
import type { Diagnostics } from '../diagnostics/result.ts';
import { joinPath, readJson, readText, type Storage } from '../io/storage.ts';
import { cellFileNames, layerCellName, numericRecords, STUDY_FILES } from '../io/study-files.ts';
import { trajectoryRecorder } from './trajectory.ts';
import { analyzeDiagnostics, type CellStatistics } from './statistics.ts';
import { cellOutputFiles, studySummaryFiles } from './outputs.ts';
import { jsonText } from './format.ts';
import type { StudyConfig } from './config.ts';
import { diagnosticsOptions, trainConfigFor } from './settings.ts';
import type { ReadoutLoss } from '../cells/backward.ts';
import { learnedVsLearnable, type LearnedRow, type RecoveryPoint } from './learned.ts';
import { checkSameSettings, settingsJson } from './resume.ts';

export interface StudyData {
  training: TrainingData;
  diagnostic: SequenceData;
}

export interface CellRecord {
  cell: string;
  /** A stack of PyTorch layers (SPEC §13): every layer's record, `<cell>_l{k}`; the record itself is the top layer's. */
  layers?: CellRecord[];
  stats: CellStatistics;
  /** With `trackEvery` on the task: which task lags were learned, and whether they lie inside Ĥ_N (SPEC §12). */
  learned?: LearnedRow[];
  timings: Record<string, number>;
  diagnostics: Omit<Diagnostics, 'perLag'>;
}

/** What the pipeline tells its caller, in order. */
export type StudyEvent =
  /** A line for a person (a cell kept or done, a resumed checkpoint, a warning, the report's path). */
  | { kind: 'log'; line: string }
  /** A cell enters a stage. */
  | { kind: 'stage'; cell: string; stage: 'training' | 'diagnostics' | 'statistics' }
  /** Training progress: `start` (epochs done before, of `total`), one `epoch` per finished epoch, `stop`. */
  | { kind: 'training'; cell: string; phase: 'start' | 'epoch' | 'stop'; epoch: number; total: number; values: Record<string, string> }
  /** A cell is finished (`kept`: finished by an earlier run and kept on resume); its files are written. */
  | { kind: 'cell'; record: CellRecord; kept: boolean };

export interface PipelineOptions {
  /** Continue the study in `out`: its recorded settings must be the same; finished cells are kept. */
  resume?: boolean;
  adapter?: AdapterSummary;
  progress?: (event: StudyEvent) => void;
  /**
   * Where a cell's training keeps its curves and checkpoints (`dir` is `<out>/<cell>`). Default: the curves through
   * the storage and the checkpoints in memory (a study that cannot be resumed, as in the browser).
   */
  trainSink?: (dir: string, warn: Warn) => TrainSink;
  /** Called at the end with the study folder (Node writes report.html); returns what it wrote, for the log. */
  report?: (out: string) => Promise<string>;
}

/** Curves through the storage, checkpoints in memory. */
export function storageSink(storage: Storage, dir: string): TrainSink {
  const checkpoints = memorySink();
  return {
    async curves(cell, curve, gates) {
      const names = cellFileNames(cell);
      await storage.write(joinPath(dir, names.learningCurve), toCsv(CURVE_COLUMNS, curve));
      await storage.write(joinPath(dir, names.gateStats), toCsv(GATE_COLUMNS, gates));
    },
    saveCheckpoint: (layout, checkpoint) => checkpoints.saveCheckpoint(layout, checkpoint),
    loadCheckpoint: (layout) => checkpoints.loadCheckpoint(layout),
  };
}

/** The trainer's Progress for one cell, told as `training` events. */
function trainingEvents(cell: string, emit: (event: StudyEvent) => void): Progress {
  let total = 0;
  return {
    start: (epochs, done) => emit({ kind: 'training', cell, phase: 'start', epoch: done, total: (total = epochs), values: {} }),
    update: (done, values) => emit({ kind: 'training', cell, phase: 'epoch', epoch: done, total, values }),
    stop: () => emit({ kind: 'training', cell, phase: 'stop', epoch: total, total, values: {} }),
  };
}

/** Runs the study `config` on `data` into the folder `out` of `storage`; returns every cell's record. */
export async function runStudyPipeline(ctx: GpuContext, config: StudyConfig, data: StudyData, storage: Storage, out: string, options: PipelineOptions = {}): Promise<CellRecord[]> {
  const emit = options.progress ?? (() => {});
  const log = (line: string) => emit({ kind: 'log', line });
  // A resumed study must be the same study (its recorded settings are checked); a new one records what it starts with.
  if (options.resume) await checkSameSettings(out, config, storage);
  await storage.write(joinPath(out, STUDY_FILES.studyConfig), settingsJson(config));
  const records: CellRecord[] = [];
  const started = performance.now();
  for (const cell of config.cells as CellKind[]) {
    if (options.resume) {
      const file = joinPath(out, cell, cellFileNames(cell).record);
      const previous = (await readJson(storage, file, `so ${cell} cannot be kept; delete it to redo the cell`)) as CellRecord | undefined;
      if (previous) {
        log(`${cell}: finished earlier, kept`);
        records.push(previous);
        emit({ kind: 'cell', record: previous, kept: true });
        continue;
      }
    }
    const record = await trainCell(ctx, config, cell, data, storage, out, options);
    records.push(record);
    log(`${cell}: done`);
    emit({ kind: 'cell', record, kept: false });
  }
  const listed = summaryRecords(records);
  for (const [name, text] of studySummaryFiles(listed.map((r) => ({ cell: r.cell, stats: r.stats })), config)) await storage.write(joinPath(out, name), text);
  await storage.write(joinPath(out, STUDY_FILES.studyJson), jsonText({
    lwin: LWIN_VERSION, config, adapter: options.adapter, seconds: (performance.now() - started) / 1000,
    cells: listed, profile: ctx.profiler?.report(),
  }));
  if (options.report) log(`report: ${await options.report(out)}`);
  return records;
}

async function trainCell(ctx: GpuContext, config: StudyConfig, cell: CellKind, data: StudyData, storage: Storage, out: string, options: PipelineOptions): Promise<CellRecord> {
  const emit = options.progress ?? (() => {});
  const dir = joinPath(out, cell);
  const names = cellFileNames(cell);
  const timings: Record<string, number> = {};
  const t0 = performance.now();
  const trainConfig = trainConfigFor(config, cell);
  if ((trainConfig.layers ?? 1) > 1 && config.trackEvery) {
    throw new Error(`${cell} with ${trainConfig.layers} layers: the lag recovery and trajectory (--track-every) follow one layer's tangent and are not run on stacks; leave --track-every out, or use --layers 1`);
  }
  const layout = buildLayout({ cell, inputSize: data.training.train.inputSize, hiddenSize: trainConfig.hidden, layernorm: trainConfig.layernorm });
  const onEpochEnd = config.trackEvery
    ? trajectoryRecorder(ctx, config, layout, data.diagnostic, { storage, trajectory: joinPath(dir, names.trajectory), recovery: joinPath(dir, names.lagRecovery) })
    : undefined;
  const log = (line: string) => emit({ kind: 'log', line: `${cell}: ${line}` });
  const warn = (message: string) => log(`warning: ${message}`);
  const sink = options.trainSink ? options.trainSink(dir, warn) : storageSink(storage, dir);
  emit({ kind: 'stage', cell, stage: 'training' });
  const trained = await train(ctx, trainConfig, data.training, { sink, resume: options.resume, progress: trainingEvents(cell, emit), onEpochEnd, log });
  try {
    timings.train = (performance.now() - t0) / 1000;
    // where training's time went (this run's epochs: a resumed cell's earlier ones are not counted)
    const { batches, evaluation, checkpoints } = trained.phaseSeconds;
    Object.assign(timings, { train_batches: batches, train_evaluation: evaluation, train_checkpoints: checkpoints });
    const state = await trained.optimizer.saveState();
    const meta = { lwin_version: LWIN_VERSION, epochs: String(trained.epochsRun) };
    await storage.write(joinPath(dir, names.weights), writeSafetensors(trained.layout, trained.params, { metadata: meta }));
    const optimizerMeta = { ...meta, optimizer: trained.optimizer.config.name, optimizer_config: JSON.stringify(trained.optimizer.config) };
    await storage.write(joinPath(dir, names.optimizer), writeOptimizerStateFile(trained.layout, state, optimizerMeta));
    const preconditioner = config.rho ? await trained.optimizer.preconditioner() : undefined;
    const learned = config.trackEvery && !config.data ? await learnedFromRecovery(config, storage, joinPath(dir, names.lagRecovery)) : undefined;
    return await diagnoseCell(ctx, config, cell, trained.layout, trained.params, data.diagnostic, preconditioner, storage, out, { timings, learnedFrom: learned, progress: options.progress });
  } finally {
    trained.optimizer.destroy();
  }
}

export interface DiagnoseCellOptions {
  /** Stage timings so far (training's), completed with the diagnostics' and statistics'. */
  timings?: Record<string, number>;
  learnedFrom?: (stats: CellStatistics) => LearnedRow[];
  progress?: (event: StudyEvent) => void;
  /** SPEC §13's readout loss that δ comes from (default: the paper's mse at every step). */
  readoutLoss?: ReadoutLoss;
}

/**
 * Diagnostics, statistics and the cell's files for trained parameters (also `lwin diagnose`'s path). A stack of
 * PyTorch layers (SPEC §13) is diagnosed per layer: its files are `<out>/<cell>/<cell>_l{k}_*` and the top layer's
 * also the plain `<cell>_*`; the returned record is the top layer's, with every layer's record (named `<cell>_l{k}`:
 * the study summary's columns, side by side) in `layers`.
 */
export async function diagnoseCell(
  ctx: GpuContext, config: StudyConfig, cell: CellKind, layout: ParamLayout, params: ArrayLike<number>, diagnostic: SequenceData,
  preconditioner: Float64Array | undefined, storage: Storage, out: string, options: DiagnoseCellOptions = {},
): Promise<CellRecord> {
  const emit = options.progress ?? (() => {});
  const timings = options.timings ?? {};
  emit({ kind: 'stage', cell, stage: 'diagnostics' });
  let t0 = performance.now();
  // a stack's ρ per layer from the one optimizer's η_p, split by tensor name (runModelDiagnostics)
  const layers = await runModelDiagnostics(ctx, layout, params, diagnostic, { ...diagnosticsOptions(config, preconditioner), ...(options.readoutLoss && { readoutLoss: options.readoutLoss }) });
  timings.diagnostics = (performance.now() - t0) / 1000;
  emit({ kind: 'stage', cell, stage: 'statistics' });
  t0 = performance.now();
  const stacked = layers.length > 1;
  const records: CellRecord[] = [];
  for (const [k, diagnostics] of layers.entries()) {
    const stats = analyzeDiagnostics(diagnostics, { alphaMethod: config.alphaMethod, budgets: config.budgets, eps: config.eps, constS: cell === 'const' ? config.model.constS : undefined });
    const { perLag: _perLag, ...summary } = diagnostics;
    const name = stacked ? layerCellName(cell, k) : cell;
    records.push({ cell: name, stats, timings, diagnostics: summary, ...(options.learnedFrom && { learned: options.learnedFrom(stats) }) });
    const names = stacked && k === layers.length - 1 ? [name, cell] : [name];
    for (const written of names) for (const [file, text] of cellOutputFiles(written, stats, diagnostics)) await storage.write(joinPath(out, cell, file), text);
  }
  timings.statistics = (performance.now() - t0) / 1000;
  if (stacked) for (const record of records) await storage.write(joinPath(out, cell, cellFileNames(record.cell).record), recordJson(record));
  // the plain record is written last: the cell is finished (resume keeps it, a stack's with its layers)
  const top: CellRecord = stacked ? { ...records[records.length - 1]!, cell, layers: records } : records[0]!;
  await storage.write(joinPath(out, cell, cellFileNames(cell).record), recordJson(top));
  return top;
}

/** The records the study's summary and study.json list: a stack's layers side by side in place of the stack. */
export function summaryRecords(records: readonly CellRecord[]): CellRecord[] {
  return records.flatMap((r) => r.layers ?? [r]);
}

function recordJson(record: CellRecord): string {
  return `${JSON.stringify(record, (_k, v) => (typeof v === 'number' && !Number.isFinite(v) ? null : v))}\n`;
}

/** Reads the cell's lag-recovery record and returns how to tabulate learned against learnable once stats exist. */
async function learnedFromRecovery(config: StudyConfig, storage: Storage, file: string): Promise<((stats: CellStatistics) => LearnedRow[]) | undefined> {
  const text = await readText(storage, file);
  if (!text) return undefined;
  const recovery = numericRecords<RecoveryPoint & { c_true: number }>(text, file, ['epoch', 'ell', 'c_hat', 'c_true']);
  if (!recovery) throw new Error(`${file} does not have the columns epoch,ell,c_hat,c_true; delete it to record the lag recovery anew`);
  return (stats) => learnedVsLearnable(config.task.lags, config.task.coeffs, stats, config.trainSequences, recovery);
}

/**
 * A progress callback that draws each cell's training on a Progress of `bar()` (a terminal bar: train/progress.ts)
 * and passes the log lines to `log`: what `lwin run` and `lwin sweep` print.
 */
export function progressOn(bar: () => Progress, log: (line: string) => void): (event: StudyEvent) => void {
  let current: Progress | undefined;
  return (event) => {
    if (event.kind === 'log') log(event.line);
    else if (event.kind === 'training') {
      if (event.phase === 'start') (current = bar()).start(event.total, event.epoch, event.cell);
      else if (event.phase === 'epoch') current?.update(event.epoch, event.values);
      else current?.stop();
    }
  };
}
