// The library's study: the same pipeline as `lwin run` (study/pipeline.ts), with the config validated by the CLI's
// schema (study/config.ts, same messages), its files in a Storage of the caller's choosing (in memory by default),
// and its report as an HTML string. Runtime-neutral: the Node entry (src/index.ts) adds the user's .npy data files.
import type { AdapterSummary } from '../gpu/device.ts';
import { resolveStudy, type PresetName, type StudyConfig } from '../study/config.ts';
import { runStudyPipeline, type CellRecord, type StudyData, type StudyEvent } from '../study/pipeline.ts';
import { taskStudyData } from '../study/task-data.ts';
import { memoryStorage, readText, type Storage } from '../io/storage.ts';
import { loadStudy } from '../report/load.ts';
import { studyPage } from '../report/page.ts';
import { withDevice, type DeviceOption } from './device.ts';

/** A study's settings: any part of the study config (see `lwin run --help`), merged over the preset. */
export type StudyInput = Record<string, unknown>;

export interface StudyOptions extends DeviceOption {
  /** The settings the config is merged over: 'quick' (default, seconds) or 'paper' (the paper's, hours). */
  preset?: PresetName;
  /** Where the study's files go (default: in memory, see `Study.storage`); `nodeStorage()` writes to disk. */
  storage?: Storage;
  /** The study's folder inside the storage (default 'study'). */
  out?: string;
  /** Told each step of the study: stages, training epochs, finished cells, log lines. */
  onProgress?: (event: StudyEvent) => void;
}

/** A finished study: its validated config, one record per cell, and its files. */
export interface Study {
  config: StudyConfig;
  /** Per cell: the windows Ĥ_N, the envelope fits, α̂, timings (what `<cell>_cell.json` holds). */
  cells: CellRecord[];
  /** The storage holding the study's files (CSV, JSON, safetensors), under `out`. */
  storage: Storage;
  out: string;
}

/** Validates a study input with the CLI's schema; throws the CLI's message, naming every problem. */
export function studyConfig(input: StudyInput = {}, preset: PresetName = 'quick'): StudyConfig {
  return resolveStudy(preset, input, 'runStudy: the study config');
}

/** runStudy with the way to get the study's data (the task's, or the user's files where a runtime can read them). */
export async function runStudyWith(dataOf: (config: StudyConfig) => StudyData, input: StudyInput, options: StudyOptions): Promise<Study> {
  const config = studyConfig(input, options.preset);
  const storage = options.storage ?? memoryStorage();
  const out = options.out ?? 'study';
  const data = dataOf(config);
  const cells = await withDevice(options, (ctx, adapter?: AdapterSummary) =>
    runStudyPipeline(ctx, config, data, storage, out, { progress: options.onProgress, ...(adapter && { adapter }) }),
  );
  return { config, cells, storage, out };
}

/**
 * Runs a study (train each cell on the multi-lag task, diagnose it, estimate the statistics), as `lwin run` does.
 * @param config - any part of the study config, merged over the preset and validated as `lwin run` validates it.
 * @param options - `device` (a GPUDevice to run on), `storage` (default in memory), `onProgress`.
 * @returns the study: its config, one record per cell, and the storage with its files.
 * @example const study = await runStudy({ cells: ['gru'], epochs: 2 }); console.log(study.cells[0].stats.windows);
 */
export function runStudy(config: StudyInput = {}, options: StudyOptions = {}): Promise<Study> {
  return runStudyWith(taskStudyData, config, options);
}

/**
 * The study's report as one self-contained HTML page (inline SVG figures and tables, no scripts), as `lwin report`
 * writes it.
 * @param study - what runStudy returned (or any storage and folder holding a finished study).
 */
export async function report(study: Pick<Study, 'storage' | 'out'>, title = `lwin study report: ${study.out}`): Promise<string> {
  const loaded = await loadStudy(study.out, (path) => readText(study.storage, path));
  return studyPage(loaded, title);
}
