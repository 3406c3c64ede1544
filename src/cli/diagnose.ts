// `lwin diagnose`: diagnostics and statistics on weights trained elsewhere (or by lwin), without training.
//
// Weights: safetensors with SPEC §2 names, e.g. from PyTorch `safetensors.torch.save_file(model.state_dict(), f)`.
// Optimizer state (optional; ρ needs it): a safetensors file with one tensor per state and parameter, named
// `<state>.<param>` (`exp_avg.Wh.weight`, `exp_avg_sq.Wh.weight` for Adam/AdamW; `square_avg.<param>` for RMSprop;
// `momentum_buffer.<param>` for SGD with momentum) and `__metadata__` {"step": "<updates>", "optimizer": name,
// "state_keys": "exp_avg,exp_avg_sq"}; lwin's own `<cell>_optimizer.safetensors` also carries "optimizer_config".
// From PyTorch: for Adam, `{f"exp_avg_sq.{n}": opt.state[p]["exp_avg_sq"] for n, p in model.named_parameters()}`.
import { Option, type Command } from 'commander';
import { readFile, mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { acquireDevice, GpuContext } from '../gpu/index.ts';
import { readSafetensors } from '../io/safetensors.ts';
import { readTorchCheckpoint, type TorchCheckpoint } from '../io/torch-checkpoint.ts';
import { isTorchCheckpoint, torchCheckpointModel, torchOptimizerState } from '../io/torch-model.ts';
import { loadHeadDataset } from '../data/head-targets.ts';
import type { ReadoutLoss } from '../cells/backward.ts';
import { studyReadoutLoss } from '../study/settings.ts';
import { modelLayers, readoutOutputs } from '../model/cells.ts';
import { readOptimizerStateFile } from '../train/optimizer-file.ts';
import type { ParamLayout } from '../model/params.ts';
import type { CellKind, ModelConfig } from '../model/cells.ts';
import type { ModelHints } from '../model/infer.ts';
import { DatasetError, type SequenceData } from '../data/dataset.ts';
import type { StudyConfig } from '../study/config.ts';
import { GpuOptimizer, type OptimizerConfig } from '../train/optim/index.ts';
import { diagnoseCell, studyData } from '../study/run.ts';
import { writeStudyJson, writeStudySummary } from '../study/outputs.ts';
import { addStudyOptions, FORCE_OPTION, studyFromFlags, type RunFlags } from './run.ts';
import { claimOutputFolder, newOutputFolder } from './output-folder.ts';
import { writingTo } from '../io/output-path.ts';
import { deviceOptionsFrom } from './device-options.ts';
import { nodeTileCache } from '../io/node-storage.ts';

interface DiagnoseFlags extends RunFlags {
  weights: string;
  optimizerState?: string;
  prefix?: string;
  readout?: string;
  nonlinearity?: 'tanh' | 'relu';
}

/**
 * The model in the weights file: lwin's own (SPEC §2 names or lwin metadata), or a PyTorch checkpoint as it is
 * (SPEC §13: `rnn.weight_ih_l0` …, a readout found or named; src/io/torch-model.ts says which).
 */
function readWeights(bytes: Uint8Array, flags: DiagnoseFlags): { layout: ParamLayout; params: Float64Array; warnings: string[]; checkpoint?: TorchCheckpoint } {
  if (!isTorchCheckpoint(bytes, flags.weights)) {
    if (flags.prefix !== undefined || flags.readout !== undefined) {
      throw new Error(`--prefix and --readout select the layers of a PyTorch checkpoint (weight_ih_l0 …), but ${flags.weights} holds lwin's own cell names; leave them out`);
    }
    return readSafetensors(bytes, { source: flags.weights, hints: modelHints(flags) });
  }
  const hint = modelHints(flags).cell;
  const nonlinearity = flags.nonlinearity ?? (hint === 'rnn_relu' ? 'relu' : hint === 'rnn' ? 'tanh' : undefined);
  const checkpoint = readTorchCheckpoint(bytes, { source: flags.weights, prefix: flags.prefix, readout: flags.readout, nonlinearity });
  const model = torchCheckpointModel(checkpoint);
  if (hint && hint !== model.layout.config.cell) {
    throw new Error(`--cells ${hint} disagrees with ${flags.weights}, which holds a ${model.layout.config.cell} layer (from its tensor shapes); leave --cells out or name ${model.layout.config.cell}`);
  }
  const warnings = [...checkpoint.warnings];
  if (!checkpoint.config.bias) warnings.push(`${flags.weights}: a bias=False layer; its biases are held at 0 (the same forward)`);
  return { ...model, warnings, checkpoint };
}

export function registerDiagnose(program: Command): void {
  const command = program
    .command('diagnose')
    .description('diagnostics and statistics of given weights on the task or your .npy data, without training')
    .requiredOption(
      '--weights <file.safetensors>',
      'model parameters with SPEC names; cell, D, H and layernorm come from __metadata__, or else from the tensor names and shapes (a PyTorch state_dict), with --cells, --input-size, --hidden and --no-layernorm overriding',
    )
    .option('--optimizer-state <file.safetensors>', 'optimizer state for ρ (see `lwin diagnose --help` in the docs: <state>.<param> tensors)')
    .option('--prefix <name>', 'PyTorch checkpoint: the recurrent layer\'s prefix (rnn., encoder.lstm.); found when the file has one')
    .option('--readout <name>', 'PyTorch checkpoint: the readout layer (head or head.weight); the only other 2-D weight when not given')
    .addOption(new Option('--nonlinearity <name>', 'PyTorch checkpoint: an nn.RNN\'s nonlinearity, which a state_dict does not record (default tanh, with a warning)').choices(['tanh', 'relu']))

    .option(...FORCE_OPTION);
  addStudyOptions(command).action(async (flags: DiagnoseFlags) => {
    const config = await studyFromFlags(flags);
    const bytes = await readFile(flags.weights).catch((e: Error) => {
      throw new Error(`cannot read the weights ${flags.weights}: ${e.message}`);
    });
    const model = readWeights(bytes, flags);
    for (const warning of model.warnings) console.warn(`lwin: ${warning}`);
    const { cell, inputSize, hiddenSize, layernorm } = model.layout.config;
    // The task is generated at the model's D (a user-given --input-size was a hint, already checked against the file).
    const used: StudyConfig = { ...config, cells: [cell], task: { ...config.task, inputSize }, model: { ...config.model, hidden: hiddenSize, layernorm } };
    // --loss and --loss-steps (study options) say how the model was trained; K is the file's readout
    const readoutLoss = studyReadoutLoss(config);
    const K = readoutOutputs(model.layout.config);
    if (config.model.outputs !== undefined && config.model.outputs !== K) {
      throw new Error(`--outputs ${config.model.outputs} disagrees with ${flags.weights}, whose readout has K=${K} rows; leave --outputs out`);
    }
    const paperLoss = K === 1 && readoutLoss.loss === 'mse' && readoutLoss.lossSteps === 'all';
    const data = paperLoss ? studyData(used) : { diagnostic: headData(config, K, readoutLoss, flags.weights) };
    checkDataFitsModel(data.diagnostic, model.layout.config, flags.weights);
    const out = flags.out ?? newOutputFolder('diagnose');
    await claimOutputFolder(out, {
      command: 'diagnose', given: flags.out !== undefined, force: flags.force, log: (line) => console.log(`lwin: ${line}`),
      inputs: [flags.weights, flags.optimizerState, flags.config, config.data?.x, config.data?.y, config.data?.diagX, config.data?.diagY],
    });
    const acquired = await acquireDevice(deviceOptionsFrom(flags));
    try {
      const ctx = new GpuContext(acquired.device, { adapter: acquired.adapter, profile: true, tileCache: nodeTileCache() });
      const layerCount = modelLayers(model.layout.config);
      const optimizerState = flags.optimizerState && config.rho ? await readFile(flags.optimizerState) : undefined;
      if (config.rho && !optimizerState) console.warn('lwin: no --optimizer-state given: ρ and the generalized envelope are skipped');
      await writingTo(out, async () => {
        await mkdir(join(out, cell), { recursive: true });
        // η_p of every parameter (a stack's included: its layout holds all layers under PyTorch's names)
        const preconditioner = optimizerState && (await loadPreconditioner(ctx, model.layout, model.checkpoint ? torchOptimizerState(optimizerState, model.checkpoint, flags.optimizerState!) : optimizerState, flags.optimizerState!, config.optimizer));
        const withRho = { ...used, rho: Boolean(preconditioner) };
        const record = await diagnoseCell(ctx, withRho, cell, model.layout, model.params, data.diagnostic, preconditioner, out, { readoutLoss });
        const records = record.layers ?? [record];
        await writeStudySummary(out, records.map((r) => ({ cell: r.cell, stats: r.stats })), used);
        await writeStudyJson(out, { config: used, weights: flags.weights, adapter: acquired.adapter, cells: records, profile: ctx.profiler?.report() });
      });
      const layers = layerCount > 1 ? `, ${layerCount} layers, each diagnosed` : '';
      console.log(`diagnosed ${cell} (H=${hiddenSize}${layers}) on ${acquired.adapter.name}; outputs in ${out}`);
    } finally {
      acquired.release();
    }
  });
}

/**
 * The diagnostic data of a model with a K-output head or another loss than the paper's (SPEC §13): the task cannot
 * make its targets, so they come from --diag-x/--diag-y or --x/--y, in the loss's shape (src/data/head-targets.ts).
 */
function headData(config: StudyConfig, outputs: number, readoutLoss: ReadoutLoss, weights: string): SequenceData {
  const x = config.data?.diagX ?? config.data?.x;
  const y = config.data?.diagY ?? config.data?.y;
  if (!x || !y) {
    throw new Error(
      `${weights} has a readout of K=${outputs} ${readoutLoss.loss === 'ce' ? 'classes' : 'outputs'} (loss ${readoutLoss.loss} at ${readoutLoss.lossSteps} steps), whose targets lwin's task cannot make: ` +
        'give the data the model was trained on with --x X.npy --y Y.npy (or --diag-x/--diag-y)',
    );
  }
  return loadHeadDataset(x, y, outputs, readoutLoss);
}

/** What the flags say about the model (only flags actually given: the preset's defaults say nothing about a file). */
export function modelHints(flags: Record<string, unknown>): ModelHints {
  const cells = flags.cells as string[] | undefined;
  if (cells && cells.length !== 1) throw new Error(`lwin diagnose reads one model: give one cell to --cells (got ${cells.join(',')}), or leave it out to take the file's`);
  return {
    cell: cells?.[0] as CellKind | undefined,
    inputSize: flags.inputSize as number | undefined,
    hiddenSize: flags.hidden as number | undefined,
    // --no-layernorm sets false; commander's default true only means the flag was not given.
    layernorm: flags.layernorm === false ? false : undefined,
  };
}

/** The diagnostic sequences must have the D the model was trained on. */
export function checkDataFitsModel(data: SequenceData, model: ModelConfig, weights: string): void {
  if (data.inputSize !== model.inputSize) {
    throw new DatasetError(
      `the diagnostic data ${data.source} have D=${data.inputSize} features per step, but the model in ${weights} takes D=${model.inputSize} ` +
        `(its first weight is [H, D] = [${model.hiddenSize}, ${model.inputSize}]): give data with ${model.inputSize} features, or the weights of a model trained on these data`,
    );
  }
}

/** η_p from a saved optimizer state (names `<state>.<param>` of `layout`), through the same GPU optimizer lwin trains with. */
async function loadPreconditioner(ctx: GpuContext, layout: ParamLayout, bytes: Uint8Array, file: string, fallback: OptimizerConfig): Promise<Float64Array> {
  const { state, metadata } = readOptimizerStateFile(layout, bytes, file);
  const config = metadata.optimizer_config ? (JSON.parse(metadata.optimizer_config) as OptimizerConfig) : { ...fallback, name: (metadata.optimizer ?? fallback.name) as OptimizerConfig['name'] };
  const optimizer = new GpuOptimizer(ctx, layout, config);
  try {
    optimizer.loadState(state);
    return await optimizer.preconditioner();
  } finally {
    optimizer.destroy();
  }
}
