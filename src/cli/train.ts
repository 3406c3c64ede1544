// `lwin train`: one cell on the multi-lag task or on your own .npy data, with curves, checkpoints and resume.
import { Option, type Command } from 'commander';
import { acquireDevice, GpuContext } from '../gpu/index.ts';
import { DeviceLostError } from '../gpu/errors.ts';
import { MultiLagTask, PAPER_TASK, TaskConfigError, type TaskConfig } from '../data/task.ts';
import { loadNpyDataset, validationSize } from '../data/dataset.ts';
import { loadHeadDataset } from '../data/head-targets.ts';
import { CELL_KINDS } from '../model/cells.ts';
import { PAPER_TRAINING, parseTrainConfig, type TrainConfig } from '../train/config.ts';
import { train, type TrainingData } from '../train/trainer.ts';
import { taskTrainingData } from '../study/task-data.ts';
import { fileSink } from '../train/sink.ts';
import { terminalProgress } from '../train/progress.ts';
import { readJsonObject } from './json-config.ts';
import { addDeviceOptions, deviceOptionsFrom, type DeviceFlags } from './device-options.ts';
import { FORCE_OPTION } from './run.ts';
import { claimOutputFolder, newOutputFolder } from './output-folder.ts';
import { writingTo } from '../io/output-path.ts';
import { nodeTileCache } from '../io/node-storage.ts';

export interface TrainFlags extends DeviceFlags {
  config?: string;
  cell: string;
  hidden?: number;
  epochs?: number;
  batch?: number;
  optimizer?: string;
  lr?: number;
  weightDecay?: number;
  clip?: number;
  seed?: number;
  initScale?: number;
  out?: string;
  resume?: boolean;
  force?: boolean;
  checkpointEvery?: number;
  x?: string;
  y?: string;
  trainSequences: number;
  steps?: number;
  taskLags?: number[];
  taskCoeffs?: number[];
  bpttCheckpoint?: number;
  outputs?: number;
  layers?: number;
  loss?: 'mse' | 'ce';
  lossSteps?: 'all' | 'last';
}

const num = (v: string) => {
  const n = Number(v);
  if (!Number.isFinite(n)) throw new Error(`'${v}' is not a number`);
  return n;
};
const numbers = (v: string) => v.split(',').map((s) => s.trim()).filter(Boolean).map(num);

export function registerTrain(program: Command): void {
  const command = program
    .command('train')
    .description('train one cell (SPEC §3) on the multi-lag task or on .npy data; writes curves and checkpoints to --out')
    .addOption(new Option('--cell <cell>', 'cell to train').choices([...CELL_KINDS]).default('gru'))
    .option('--config <file>', 'JSON file with training settings (flags override it)')
    .option('--hidden <H>', 'hidden units', num)
    .option('--epochs <n>', 'epochs', num)
    .option('--batch <n>', 'sequences per mini-batch', num)
    .option('--optimizer <name>', 'sgd, sgd_momentum, adamw or rmsprop')
    .option('--lr <rate>', 'learning rate', num)
    .option('--weight-decay <wd>', 'weight decay', num)
    .option('--clip <norm>', 'global gradient-norm clip', num)
    .option('--seed <n>', 'model and shuffling seed', num)
    .option('--init-scale <a>', 'multiply every initial weight by a (SPEC §12; e.g. 0.5 for the linear cell)', num)
    .option('--x <file.npy>', 'your inputs X [N,T,D] (float32/float64); with --y, replaces the task')
    .option('--y <file.npy>', 'your targets Y [N,T] or [N,T,1] (floats; class indices for ce may be integers)')
    .option('--train-sequences <n>', 'task training sequences', num, 8000)
    .option('--steps <T>', 'task sequence length (default: the paper task\'s)', num)
    .option('--task-lags <list>', 'task lags ℓ_k, comma-separated, each below --steps (default: the paper task\'s)', numbers)
    .option('--task-coeffs <list>', 'task coefficients c_k, one per lag (default: the paper task\'s)', numbers)
    .option('--bptt-checkpoint <k>', 'keep every k-th state in BPTT, recompute the rest', num)
    .option('--outputs <K>', 'readout rows K (SPEC §13): outputs for mse, classes for ce (default 1)', num)
    .option('--layers <L>', 'stacked layers of rnn, rnn_relu, torch_gru or torch_lstm (SPEC §13; default 1)', num)
    .addOption(new Option('--loss <name>', 'mse, or ce with class indices in --y (SPEC §13; default mse)').choices(['mse', 'ce']))
    .addOption(new Option('--loss-steps <which>', 'take the loss at every step or the last only (sequence classification; default all)').choices(['all', 'last']))
    .option('--checkpoint-every <n>', `epochs between checkpoints (default ${PAPER_TRAINING.checkpointEvery}; a run killed in between resumes from the last one)`, num)
    .option('--out <dir>', 'output folder (default: a new timestamped folder under lwin-out/)')
    .option('--resume', 'continue from the checkpoint in --out (same settings, checked)')
    .option(...FORCE_OPTION);
  addDeviceOptions(command).action(async (flags: TrainFlags) => {
    const config = await trainConfigFromFlags(flags);
    if (flags.resume && !flags.out) throw new Error('--resume needs --out: the folder of the training run to continue');
    const out = flags.out ?? newOutputFolder('train');
    const data = loadData(flags, config);
    await claimOutputFolder(out, {
      command: 'train', given: flags.out !== undefined, resume: flags.resume, force: flags.force, resumes: ['training'],
      inputs: [flags.config, flags.x, flags.y], log: (line) => console.log(`lwin: ${line}`),
    });
    const acquired = await acquireDevice(deviceOptionsFrom(flags));
    try {
      const ctx = new GpuContext(acquired.device, { adapter: acquired.adapter, tileCache: nodeTileCache() });
      const sink = fileSink(out, (message) => console.warn(`lwin: warning: ${message}`));
      const log = (line: string) => console.log(`lwin: ${line}`);
      const result = await writingTo(out, () => train(ctx, config, data, { sink, resume: flags.resume, progress: terminalProgress(), log }));
      result.optimizer.destroy();
      const last = result.curve.at(-1);
      console.log(`trained ${config.cell} for ${result.epochsRun} epochs on ${acquired.adapter.name}; final val ${config.loss === 'ce' ? 'accuracy' : 'R²'} ${last?.val_acc.toFixed(4)}; outputs in ${out}`);
    } catch (error) {
      if (error instanceof DeviceLostError) throw new Error(`${error.message} Continue with the same command and --resume --out ${out}.`);
      throw error;
    } finally {
      acquired.release();
    }
  });
}

/** The training configuration of `lwin train`'s flags: the paper's settings, then --config, then each flag. */
export async function trainConfigFromFlags(flags: TrainFlags): Promise<TrainConfig> {
    const fromFile = flags.config ? await readJsonObject(flags.config, 'the training config', '{"epochs": 20, "hidden": 32}') : {};
    const optimizer: Record<string, unknown> = { ...PAPER_TRAINING.optimizer, ...(fromFile.optimizer as object | undefined) };
    if (flags.optimizer) optimizer.name = flags.optimizer;
    if (flags.lr !== undefined) optimizer.lr = flags.lr;
    if (flags.weightDecay !== undefined) optimizer.weightDecay = flags.weightDecay;
    if (flags.clip !== undefined) optimizer.clip = flags.clip;
    return parseTrainConfig(
      {
        ...PAPER_TRAINING, ...fromFile, cell: flags.cell, optimizer,
        ...(flags.hidden !== undefined && { hidden: flags.hidden }),
        ...(flags.epochs !== undefined && { epochs: flags.epochs }),
        ...(flags.batch !== undefined && { batch: flags.batch }),
        ...(flags.seed !== undefined && { seed: flags.seed }),
        ...(flags.initScale !== undefined && { initScale: flags.initScale }),
        ...(flags.bpttCheckpoint !== undefined && { bpttCheckpoint: flags.bpttCheckpoint }),
        ...(flags.checkpointEvery !== undefined && { checkpointEvery: flags.checkpointEvery }),
        ...(flags.outputs !== undefined && { outputs: flags.outputs }),
        ...(flags.layers !== undefined && { layers: flags.layers }),
        ...(flags.loss !== undefined && { loss: flags.loss }),
        ...(flags.lossSteps !== undefined && { lossSteps: flags.lossSteps }),
      },
      flags.config ?? 'the training options',
    );
}

function loadData(flags: TrainFlags, config: TrainConfig): TrainingData {
  const batch = config.batch;
  const readout = { loss: config.loss ?? 'mse', lossSteps: config.lossSteps ?? 'all' } as const;
  const K = config.outputs ?? 1;
  const head = !(K === 1 && readout.loss === 'mse' && readout.lossSteps === 'all');
  if (head && !(flags.x && flags.y)) {
    throw new Error(`a readout of K=${K} with the ${readout.loss} loss at ${readout.lossSteps} steps needs your data: the multi-lag task has one regression target per step; give --x X.npy --y Y.npy`);
  }
  if (flags.x || flags.y) {
    if (!flags.x || !flags.y) throw new Error('--x and --y go together: give both .npy files, or neither to use the multi-lag task');
    const set = head ? loadHeadDataset(flags.x, flags.y, K, readout) : loadNpyDataset(flags.x, flags.y);
    const width = set.y.length / (set.count * set.steps); // targets per step: 1, or K for mse with K outputs
    // User data has no generator: validation uses the last validationSize(batch) sequences, held out from training.
    const held = Math.min(validationSize(batch), Math.floor(set.count / 5));
    const cut = set.count - held;
    const slice = (from: number, to: number) => ({
      ...set, count: to - from, source: `${set.source}[${from}:${to}]`,
      x: set.x.subarray(from * set.steps * set.inputSize, to * set.steps * set.inputSize),
      y: set.y.subarray(from * set.steps * width, to * set.steps * width),
    });
    const validation = slice(cut, set.count);
    return { train: slice(0, cut), validation: () => validation };
  }
  const task = new MultiLagTask(taskFromFlags(flags));
  return taskTrainingData(task, flags.trainSequences, validationSize(batch));
}

/** The paper's task with --steps, --task-lags and --task-coeffs applied; lags that do not fit are refused naming the flags. */
export function taskFromFlags(flags: Pick<TrainFlags, 'steps' | 'taskLags' | 'taskCoeffs'>): TaskConfig {
  const steps = flags.steps ?? PAPER_TASK.steps;
  const lags = flags.taskLags ?? PAPER_TASK.lags;
  const coeffs = flags.taskCoeffs ?? (flags.taskLags ? [] : PAPER_TASK.coeffs);
  const source = (given: unknown, name: string) => (given ? name : `the paper task's ${name.replace(/^--task-/, '')}`);
  const tooLong = lags.filter((l) => l >= steps);
  if (tooLong.length) {
    throw new TaskConfigError(
      `${source(flags.taskLags, '--task-lags')} ${lags.join(',')} must lie below the sequence length ${steps}${flags.steps === undefined ? '' : ' (--steps)'}, but ${tooLong.join(',')} ${tooLong.length === 1 ? 'does' : 'do'} not: ` +
        `give --steps above ${Math.max(...lags)}, or lags below ${steps} with --task-lags (and one coefficient each with --task-coeffs)`,
    );
  }
  if (coeffs.length !== lags.length) {
    throw new TaskConfigError(`${source(flags.taskLags, '--task-lags')} ${lags.join(',')} need${flags.taskLags ? '' : 's'} one coefficient each, but ${coeffs.length ? `--task-coeffs gives ${coeffs.length}` : 'none was given'}: add --task-coeffs with ${lags.length} values`);
  }
  return { ...PAPER_TASK, steps, lags, coeffs };
}
