// `lwin run`'s study on the file system: the study pipeline (pipeline.ts) with Node's storage (atomic writes), the
// file checkpoints that `--resume` continues, the data from the task or from .npy files, and report.html at the end.
// Deno runs this same module; the browser page runs the pipeline with an in-memory storage.
import type { GpuContext } from '../gpu/context.ts';
import type { CellKind } from '../model/cells.ts';
import type { ParamLayout } from '../model/params.ts';
import { DatasetError, loadNpyDataset, type SequenceData } from '../data/dataset.ts';
import { taskStudyData } from './task-data.ts';
import { fileSink } from '../train/sink.ts';
import { nodeStorage } from '../io/node-storage.ts';
import type { StudyConfig } from './config.ts';
import { diagnosticsOptions, studyReadoutLoss, trainConfigFor } from './settings.ts';
import { loadHeadDataset } from '../data/head-targets.ts';
import { diagnoseCell as diagnoseCellInto, runStudyPipeline, type CellRecord, type DiagnoseCellOptions, type PipelineOptions, type StudyData } from './pipeline.ts';
import { writeReport } from '../report/index.ts';

export { diagnosticsOptions, trainConfigFor };
export type { CellRecord, StudyData };

export function studyData(config: StudyConfig): StudyData {
  const K = config.model.outputs ?? 1;
  const readout = studyReadoutLoss(config);
  const head = !(K === 1 && readout.loss === 'mse' && readout.lossSteps === 'all');
  if (head && !config.data) {
    throw new DatasetError(`a readout of K=${K} with the ${readout.loss} loss at ${readout.lossSteps} steps needs your data (--x, --y): the multi-lag task has one regression target per step`);
  }
  if (config.data) {
    // resolveStudy has checked that the files come in pairs.
    const load = (x: string, y: string) => (head ? loadHeadDataset(x, y, K, readout) : loadNpyDataset(x, y));
    const set = load(config.data.x!, config.data.y!);
    const diagnostic = config.data.diagX && config.data.diagY ? load(config.data.diagX, config.data.diagY) : set;
    if (diagnostic.inputSize !== set.inputSize) {
      throw new DatasetError(
        `the diagnostic X file ${config.data.diagX} has D=${diagnostic.inputSize} features per step, but the training X file ${config.data.x} has D=${set.inputSize}; ` +
          `the diagnostics run the model trained on the training data, so give diagnostic data with the same ${set.inputSize} features`,
      );
    }
    return { training: { train: set, validation: () => diagnostic }, diagnostic };
  }
  return taskStudyData(config);
}

export interface StudyOptions extends Pick<PipelineOptions, 'resume' | 'adapter' | 'progress'> {
  /** Write `report.html` at the end (default true). */
  report?: boolean;
}

/** The study `config` into the folder `out`, on disk. */
export async function runStudy(ctx: GpuContext, config: StudyConfig, out: string, options: StudyOptions = {}): Promise<CellRecord[]> {
  const { report = true, ...rest } = options;
  return runStudyPipeline(ctx, config, studyData(config), nodeStorage(), out, {
    ...rest,
    trainSink: (dir, warn) => fileSink(dir, warn),
    ...(report && { report: writeReport }),
  });
}

/** Diagnostics, statistics and the cell's files on disk for trained parameters (`lwin diagnose`). */
export function diagnoseCell(
  ctx: GpuContext, config: StudyConfig, cell: CellKind, layout: ParamLayout, params: ArrayLike<number>, diagnostic: SequenceData,
  preconditioner: Float64Array | undefined, out: string, options: DiagnoseCellOptions = {},
): Promise<CellRecord> {
  return diagnoseCellInto(ctx, config, cell, layout, params, diagnostic, preconditioner, nodeStorage(), out, options);
}
