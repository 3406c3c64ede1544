// A study's settings as each stage takes them: the trainer's configuration for one cell, and the diagnostic
// stage's options. Pure functions, so every runtime (Node, Deno, the browser page) derives them the same way.
import { isTorchCell, type CellKind } from '../model/cells.ts';
import { parseTrainConfig, type TrainConfig } from '../train/config.ts';
import { lagGrid } from '../diagnostics/lags.ts';
import type { DiagnosticsOptions } from '../diagnostics/stage.ts';
import type { StudyConfig } from './config.ts';
import type { ReadoutLoss } from '../cells/backward.ts';

export function trainConfigFor(config: StudyConfig, cell: CellKind): TrainConfig {
  return parseTrainConfig({
    cell, hidden: config.model.hidden, layernorm: config.model.layernorm, orthogonal: config.model.orthogonal, constS: config.model.constS,
    ...(config.model.initScale !== undefined && { initScale: config.model.initScale }),
    optimizer: config.optimizer, epochs: config.epochs, batch: config.batch, seed: config.seed,
    checkpointEvery: config.checkpointEvery, gateLogEvery: config.gateLogEvery,
    ...(config.bpttCheckpoint !== undefined && { bpttCheckpoint: config.bpttCheckpoint }),
    ...(config.model.outputs !== undefined && { outputs: config.model.outputs }),
    ...(config.model.layers !== undefined && config.model.layers > 1 && isTorchCell(cell) && { layers: config.model.layers }),
    ...(config.model.loss !== undefined && { loss: config.model.loss }),
    ...(config.model.lossSteps !== undefined && { lossSteps: config.model.lossSteps }),
  });
}

/** SPEC §13's loss of the study's models (the paper's mse at every step unless the config says otherwise). */
export function studyReadoutLoss(config: StudyConfig): ReadoutLoss {
  return { loss: config.model.loss ?? 'mse', lossSteps: config.model.lossSteps ?? 'all' };
}

export function diagnosticsOptions(config: StudyConfig, preconditioner?: Float64Array): DiagnosticsOptions {
  return {
    lags: lagGrid(config.lagGrid.min, config.lagGrid.max, config.lagGrid.num),
    firstOrder: config.firstOrder, memoryBudget: config.diagMemoryBudget, batch: config.diagBatch,
    psiSubsample: config.psiSubsample, wSeed: config.wSeed, seed: config.seed, transportSamples: config.transportSamples,
    preconditioner: config.rho ? preconditioner : undefined,
    readoutLoss: studyReadoutLoss(config),
  };
}
