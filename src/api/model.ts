// Training one cell and diagnosing trained weights: the trainer (train/trainer.ts) and the diagnostic stage
// (diagnostics/stage.ts) behind the CLI's config validation, for a caller with its own data (a training loop that
// checks the learnability window every few epochs, a notebook).
import { PAPER_TRAINING, parseTrainConfig, type TrainConfig } from '../train/config.ts';
import { train as trainOnDevice, type TrainingData } from '../train/trainer.ts';
import { memorySink } from '../train/sink.ts';
import type { CurveRow, GateRow } from '../train/curves.ts';
import { checkDataset, type SequenceData } from '../data/dataset.ts';
import type { ParamLayout } from '../model/params.ts';
import { readSafetensors, writeSafetensors, LWIN_VERSION } from '../io/safetensors.ts';
import { runDiagnostics, type DiagnosticsOptions } from '../diagnostics/stage.ts';
import { runModelDiagnostics } from '../diagnostics/stack-stage.ts';
import { modelLayers } from '../model/cells.ts';
import { isTorchCheckpoint, torchCheckpointModel } from '../io/torch-model.ts';
import { readTorchCheckpoint } from '../io/torch-checkpoint.ts';
import type { Diagnostics } from '../diagnostics/result.ts';
import { QUICK_PRESET } from '../study/config.ts';
import { withDevice, type DeviceOption } from './device.ts';

/** Training settings: `cell` and any of `lwin train`'s settings, merged over the paper's (SPEC §3). */
export type TrainInput = Partial<Omit<TrainConfig, 'optimizer'>> & { cell: TrainConfig['cell']; optimizer?: Partial<TrainConfig['optimizer']> };

export interface TrainCallOptions extends DeviceOption {
  /** Told after every epoch with its number and the curve's values (loss, R², …). */
  onProgress?: (epoch: number, values: Record<string, string>) => void;
}

/** A trained model: its parameters (also as a safetensors file), curves, and the optimizer's preconditioner. */
export interface Trained {
  config: TrainConfig;
  layout: ParamLayout;
  params: Float32Array;
  /** The parameters as a safetensors file (what `lwin train` writes), for `diagnose` or for PyTorch. */
  weights: Uint8Array;
  curve: CurveRow[];
  gates: GateRow[];
  /** The optimizer's final preconditioner η_p: pass it to `diagnose` for ρ and the generalized envelope. */
  preconditioner: Float64Array;
  epochsRun: number;
}

/**
 * Trains one cell on `data`, as `lwin train` does (same validation, same messages).
 * @param config - the cell and any training settings (hidden, epochs, batch, optimizer, seed…) over the paper's.
 * @param data - the training sequences, or a training set and a validation set per epoch.
 */
export async function train(config: TrainInput, data: SequenceData | TrainingData, options: TrainCallOptions = {}): Promise<Trained> {
  const trainConfig = parseTrainConfig(
    { ...PAPER_TRAINING, ...config, optimizer: { ...PAPER_TRAINING.optimizer, ...config.optimizer } },
    'train: the training config',
  );
  const training: TrainingData = 'train' in data ? data : { train: checkDataset(data), validation: () => data };
  return withDevice(options, async (ctx) => {
    const progress = { start() {}, update: (epoch: number, values: Record<string, string>) => options.onProgress?.(epoch, values), stop() {} };
    const result = await trainOnDevice(ctx, trainConfig, training, { sink: memorySink(), progress });
    try {
      const preconditioner = await result.optimizer.preconditioner();
      const weights = writeSafetensors(result.layout, result.params, { metadata: { lwin_version: LWIN_VERSION, epochs: String(result.epochsRun) } });
      const { layout, params, curve, gates, epochsRun } = result;
      return { config: trainConfig, layout, params, weights, curve, gates, preconditioner, epochsRun };
    } finally {
      result.optimizer.destroy();
    }
  });
}

/** Diagnostic settings: the lags, and optionally the rest of the stage's options (defaults: the quick preset's). */
export type DiagnoseOptions = Partial<DiagnosticsOptions> & Pick<DiagnosticsOptions, 'lags'> & DeviceOption;

/**
 * Diagnoses trained weights on `data` (SPEC §5–§7): per lag ℓ the envelope f̂(ℓ), m̄(ℓ) and the ψ samples.
 * @param weights - a safetensors file's bytes (from `lwin train`, `train()` or PyTorch) or a layout with its parameters.
 * @param data - the diagnostic sequences (N × T × D inputs, N × T targets).
 * @param options - `lags` (each below T), `firstOrder`, seeds, `preconditioner` (from `train()`), `device`.
 * @returns the per-lag result object (`perLag[i].muL1Mean`, `.mbar`, `.psiSubsample`, …).
 */
export async function diagnose(weights: Uint8Array | { layout: ParamLayout; params: Float32Array | Float64Array }, data: SequenceData, options: DiagnoseOptions): Promise<Diagnostics> {
  const model = readModel(weights, 'diagnose');
  const layers = modelLayers(model.layout.config);
  if (layers > 1) throw new Error(`diagnose: the weights hold a stack of ${layers} layers, diagnosed per layer (SPEC §13): call diagnoseLayers, which returns one result per layer`);
  const { device, deviceOptions, stageOptions } = diagnoseSettings(options);
  return withDevice({ device, deviceOptions }, (ctx) => runDiagnostics(ctx, model.layout, Float32Array.from(model.params), checkDataset(data), stageOptions));
}

/**
 * Diagnoses every layer of a model (SPEC §13: a stack of PyTorch layers; one layer for any other model), as
 * `diagnose` does one: index k is layer k's result, the last the top layer's.
 * @param weights - lwin's safetensors bytes, a PyTorch state_dict saved with safetensors, or a layout with its parameters.
 * @param options - as `diagnose`'s; `preconditioner` (in the model's layout) enables ρ for every layer.
 */
export async function diagnoseLayers(weights: Uint8Array | { layout: ParamLayout; params: Float32Array | Float64Array }, data: SequenceData, options: DiagnoseOptions): Promise<Diagnostics[]> {
  const model = readModel(weights, 'diagnoseLayers');
  const { device, deviceOptions, stageOptions } = diagnoseSettings(options);
  return withDevice({ device, deviceOptions }, (ctx) => runModelDiagnostics(ctx, model.layout, model.params, checkDataset(data), stageOptions));
}

/** A model from lwin's or PyTorch's safetensors bytes (a stack of PyTorch layers is read as PyTorch's), or as given. */
function readModel(weights: Uint8Array | { layout: ParamLayout; params: Float32Array | Float64Array }, caller: string): { layout: ParamLayout; params: Float32Array | Float64Array } {
  if (!(weights instanceof Uint8Array)) return weights;
  const source = `${caller}: the weights`;
  if (isTorchCheckpoint(weights, source)) return torchCheckpointModel(readTorchCheckpoint(weights, { source }));
  return readSafetensors(weights, { source });
}

function diagnoseSettings(options: DiagnoseOptions) {
  const { device, deviceOptions, ...rest } = options;
  const stageOptions: DiagnosticsOptions = {
    firstOrder: QUICK_PRESET.firstOrder, wSeed: QUICK_PRESET.wSeed, seed: QUICK_PRESET.seed, transportSamples: 0, ...rest,
  };
  return { device, deviceOptions, stageOptions };
}
