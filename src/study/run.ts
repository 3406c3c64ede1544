// `lwin run`: a study from nothing to every output. For each cell, in order: train (with checkpoints), diagnose the
// trained model on the diagnostic set, estimate the statistics, write the cell's files; then the study's summary
// files. A finished cell leaves `<cell>/<cell>_cell.json`; `resume` skips such cells and continues a half-trained
// one from its checkpoint, so an interrupted study loses at most the work since the last checkpoint.
import { mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import writeFileAtomic from 'write-file-atomic';
import type { GpuContext } from '../gpu/context.ts';
import type { AdapterSummary } from '../gpu/device.ts';
import type { CellKind } from '../model/cells.ts';
import { buildLayout, type ParamLayout } from '../model/params.ts';
import { trajectoryRecorder } from './trajectory.ts';
import { MultiLagTask } from '../data/task.ts';
import { DatasetError, loadNpyDataset, validationSize, type SequenceData } from '../data/dataset.ts';
import { train, type TrainingData } from '../train/trainer.ts';
import { fileSink } from '../train/sink.ts';
import type { Progress } from '../train/progress.ts';
import { writeSafetensors, LWIN_VERSION } from '../io/safetensors.ts';
import { writeOptimizerStateFile } from '../train/optimizer-file.ts';
import { runDiagnostics } from '../diagnostics/stage.ts';
import type { Diagnostics } from '../diagnostics/result.ts';
import { analyzeDiagnostics, type CellStatistics } from './statistics.ts';
import { writeCellOutputs, writeStudyJson, writeStudySummary } from './outputs.ts';
import type { StudyConfig } from './config.ts';
import { diagnosticsOptions, trainConfigFor } from './settings.ts';
import { learnedVsLearnable, type LearnedRow } from './learned.ts';
import { checkSameSettings, recordSettings } from './resume.ts';
import { writeReport } from '../report/index.ts';

export { diagnosticsOptions, trainConfigFor };

export interface StudyData {
  training: TrainingData;
  diagnostic: SequenceData;
}

export function studyData(config: StudyConfig): StudyData {
  if (config.data) {
    // resolveStudy has checked that the files come in pairs.
    const set = loadNpyDataset(config.data.x!, config.data.y!);
    const diagnostic = config.data.diagX && config.data.diagY ? loadNpyDataset(config.data.diagX, config.data.diagY) : set;
    if (diagnostic.inputSize !== set.inputSize) {
      throw new DatasetError(
        `the diagnostic X file ${config.data.diagX} has D=${diagnostic.inputSize} features per step, but the training X file ${config.data.x} has D=${set.inputSize}; ` +
          `the diagnostics run the model trained on the training data, so give diagnostic data with the same ${set.inputSize} features`,
      );
    }
    return { training: { train: set, validation: () => diagnostic }, diagnostic };
  }
  const task = new MultiLagTask(config.task);
  const val = validationSize(config.batch);
  return {
    training: { train: task.trainingSet(config.trainSequences), validation: (epoch) => task.validationSet(val, epoch) },
    diagnostic: task.diagnosticSet(config.diagSequences),
  };
}

export interface StudyOptions {
  resume?: boolean;
  progress?: (cell: string) => Progress;
  adapter?: AdapterSummary;
  log?: (line: string) => void;
  /** Write `report.html` at the end (default true). */
  report?: boolean;
}

export interface CellRecord {
  cell: string;
  stats: CellStatistics;
  /** With `trackEvery` on the task: which task lags were learned, and whether they lie inside Ĥ_N (SPEC §12). */
  learned?: LearnedRow[];
  timings: Record<string, number>;
  diagnostics: Omit<Diagnostics, 'perLag'>;
}

export async function runStudy(ctx: GpuContext, config: StudyConfig, out: string, options: StudyOptions = {}): Promise<CellRecord[]> {
  const log = options.log ?? (() => {});
  // A resumed study must be the same study (its recorded settings are checked); a new one records what it starts with.
  if (options.resume) await checkSameSettings(out, config);
  await recordSettings(out, config);
  const data = studyData(config);
  const records: CellRecord[] = [];
  const started = performance.now();
  for (const cell of config.cells as CellKind[]) {
    const done = join(out, cell, `${cell}_cell.json`);
    if (options.resume) {
      const previous = await readFile(done, 'utf8').then((t) => JSON.parse(t) as CellRecord, () => undefined);
      if (previous) {
        log(`${cell}: finished earlier, kept`);
        records.push(previous);
        continue;
      }
    }
    records.push(await runCell(ctx, config, cell, data, out, options));
    log(`${cell}: done`);
  }
  await writeStudySummary(out, records.map((r) => ({ cell: r.cell, stats: r.stats })), config);
  await writeStudyJson(out, {
    lwin: LWIN_VERSION, config, adapter: options.adapter, seconds: (performance.now() - started) / 1000,
    cells: records, profile: ctx.profiler?.report(),
  });
  if (options.report ?? true) log(`report: ${await writeReport(out)}`);
  return records;
}

async function runCell(ctx: GpuContext, config: StudyConfig, cell: CellKind, data: StudyData, out: string, options: StudyOptions): Promise<CellRecord> {
  const dir = join(out, cell);
  const timings: Record<string, number> = {};
  let t0 = performance.now();
  const trainConfig = trainConfigFor(config, cell);
  const layout = buildLayout({ cell, inputSize: data.training.train.inputSize, hiddenSize: trainConfig.hidden, layernorm: trainConfig.layernorm });
  const onEpochEnd = config.trackEvery ? trajectoryRecorder(ctx, config, layout, data.diagnostic, join(dir, `${cell}_trajectory.csv`)) : undefined;
  await mkdir(dir, { recursive: true });
  const log = (line: string) => options.log?.(`${cell}: ${line}`);
  const sink = fileSink(dir, (message) => log(`warning: ${message}`));
  const trained = await train(ctx, trainConfig, data.training, { sink, resume: options.resume, progress: options.progress?.(cell), onEpochEnd, log });
  try {
    timings.train = (performance.now() - t0) / 1000;
    const state = await trained.optimizer.saveState();
    const meta = { lwin_version: LWIN_VERSION, epochs: String(trained.epochsRun) };
    await writeFileAtomic(join(dir, `${cell}.safetensors`), Buffer.from(writeSafetensors(trained.layout, trained.params, { metadata: meta })));
    const optimizerMeta = { ...meta, optimizer: trained.optimizer.config.name, optimizer_config: JSON.stringify(trained.optimizer.config) };
    await writeFileAtomic(join(dir, `${cell}_optimizer.safetensors`), Buffer.from(writeOptimizerStateFile(trained.layout, state, optimizerMeta)));
    const preconditioner = config.rho ? await trained.optimizer.preconditioner() : undefined;
    const learned = config.trackEvery && !config.data ? await learnedFromRecovery(config, dir, cell) : undefined;
    return await diagnoseCell(ctx, config, cell, trained.layout, trained.params, data.diagnostic, preconditioner, out, timings, learned);
  } finally {
    trained.optimizer.destroy();
  }
}

/** Diagnostics, statistics and the cell's files for trained parameters (also `lwin diagnose`'s path). */
export async function diagnoseCell(
  ctx: GpuContext, config: StudyConfig, cell: CellKind, layout: ParamLayout, params: Float32Array, diagnostic: SequenceData,
  preconditioner: Float64Array | undefined, out: string, timings: Record<string, number> = {},
  learnedFrom?: (stats: CellStatistics) => LearnedRow[],
): Promise<CellRecord> {
  let t0 = performance.now();
  const diagnostics = await runDiagnostics(ctx, layout, params, diagnostic, diagnosticsOptions(config, preconditioner));
  timings.diagnostics = (performance.now() - t0) / 1000;
  t0 = performance.now();
  const stats = analyzeDiagnostics(diagnostics, { alphaMethod: config.alphaMethod, budgets: config.budgets, eps: config.eps, constS: cell === 'const' ? config.model.constS : undefined });
  timings.statistics = (performance.now() - t0) / 1000;
  await writeCellOutputs(out, cell, stats, diagnostics);
  const { perLag: _perLag, ...summary } = diagnostics;
  const record: CellRecord = { cell, stats, timings, diagnostics: summary, ...(learnedFrom && { learned: learnedFrom(stats) }) };
  await writeFileAtomic(join(out, cell, `${cell}_cell.json`), `${JSON.stringify(record, (_k, v) => (typeof v === 'number' && !Number.isFinite(v) ? null : v))}\n`);
  return record;
}

/** Reads the cell's lag-recovery record and returns how to tabulate learned against learnable once stats exist. */
async function learnedFromRecovery(config: StudyConfig, dir: string, cell: string): Promise<((stats: CellStatistics) => LearnedRow[]) | undefined> {
  const text = await readFile(join(dir, `${cell}_lag_recovery.csv`), 'utf8').catch(() => undefined);
  if (!text) return undefined;
  const [, ...lines] = text.trim().split('\n');
  const recovery = lines.map((line) => {
    const [epoch, ell, cHat] = line.split(',').map(Number);
    return { epoch: epoch!, ell: ell!, c_hat: cHat! };
  });
  return (stats) => learnedVsLearnable(config.task.lags, config.task.coeffs, stats, config.trainSequences, recovery);
}
