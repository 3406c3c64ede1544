// `lwin train`: one cell on the multi-lag task or on your own .npy data, with curves, checkpoints and resume.
import { Option, type Command } from 'commander';
import { readFile } from 'node:fs/promises';
import { acquireDevice, GpuContext } from '../gpu/index.ts';
import { DeviceLostError } from '../gpu/errors.ts';
import { MultiLagTask, PAPER_TASK } from '../data/task.ts';
import { loadNpyDataset, validationSize } from '../data/dataset.ts';
import { CELL_KINDS } from '../model/cells.ts';
import { PAPER_TRAINING, parseTrainConfig } from '../train/config.ts';
import { train, type TrainingData } from '../train/trainer.ts';
import { fileSink } from '../train/sink.ts';
import { terminalProgress } from '../train/progress.ts';
import { addDeviceOptions, deviceOptionsFrom, type DeviceFlags } from './device-options.ts';

interface TrainFlags extends DeviceFlags {
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
  out: string;
  resume?: boolean;
  x?: string;
  y?: string;
  trainSequences: number;
  steps?: number;
  bpttCheckpoint?: number;
}

const num = (v: string) => {
  const n = Number(v);
  if (!Number.isFinite(n)) throw new Error(`'${v}' is not a number`);
  return n;
};

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
    .option('--y <file.npy>', 'your targets Y [N,T] or [N,T,1]')
    .option('--train-sequences <n>', 'task training sequences', num, 8000)
    .option('--steps <T>', 'task sequence length (default: the paper task\'s)', num)
    .option('--bptt-checkpoint <k>', 'keep every k-th state in BPTT, recompute the rest', num)
    .option('--out <dir>', 'output folder', 'lwin-out/train')
    .option('--resume', 'continue from the checkpoint in --out');
  addDeviceOptions(command).action(async (flags: TrainFlags) => {
    const fromFile = flags.config ? JSON.parse(await readFile(flags.config, 'utf8')) : {};
    const optimizer = { ...PAPER_TRAINING.optimizer, ...fromFile.optimizer };
    if (flags.optimizer) optimizer.name = flags.optimizer;
    if (flags.lr !== undefined) optimizer.lr = flags.lr;
    if (flags.weightDecay !== undefined) optimizer.weightDecay = flags.weightDecay;
    if (flags.clip !== undefined) optimizer.clip = flags.clip;
    const config = parseTrainConfig(
      {
        ...PAPER_TRAINING, ...fromFile, cell: flags.cell, optimizer,
        ...(flags.hidden !== undefined && { hidden: flags.hidden }),
        ...(flags.epochs !== undefined && { epochs: flags.epochs }),
        ...(flags.batch !== undefined && { batch: flags.batch }),
        ...(flags.seed !== undefined && { seed: flags.seed }),
        ...(flags.initScale !== undefined && { initScale: flags.initScale }),
        ...(flags.bpttCheckpoint !== undefined && { bpttCheckpoint: flags.bpttCheckpoint }),
      },
      flags.config ?? 'the training options',
    );
    const data = loadData(flags, config.batch);
    const acquired = await acquireDevice(deviceOptionsFrom(flags));
    try {
      const ctx = new GpuContext(acquired.device, { adapter: acquired.adapter });
      const result = await train(ctx, config, data, { sink: fileSink(flags.out), resume: flags.resume, progress: terminalProgress() });
      result.optimizer.destroy();
      const last = result.curve.at(-1);
      console.log(`trained ${config.cell} for ${result.epochsRun} epochs on ${acquired.adapter.name}; final val R² ${last?.val_acc.toFixed(4)}; outputs in ${flags.out}`);
    } catch (error) {
      if (error instanceof DeviceLostError) throw new Error(`${error.message} Run the same command with --resume to continue.`);
      throw error;
    } finally {
      acquired.release();
    }
  });
}

function loadData(flags: TrainFlags, batch: number): TrainingData {
  if (flags.x || flags.y) {
    if (!flags.x || !flags.y) throw new Error('--x and --y go together: give both .npy files, or neither to use the multi-lag task');
    const set = loadNpyDataset(flags.x, flags.y);
    // User data has no generator: validation uses the last validationSize(batch) sequences, held out from training.
    const held = Math.min(validationSize(batch), Math.floor(set.count / 5));
    const cut = set.count - held;
    const slice = (from: number, to: number) => ({
      ...set, count: to - from, source: `${set.source}[${from}:${to}]`,
      x: set.x.subarray(from * set.steps * set.inputSize, to * set.steps * set.inputSize),
      y: set.y.subarray(from * set.steps, to * set.steps),
    });
    const validation = slice(cut, set.count);
    return { train: slice(0, cut), validation: () => validation };
  }
  const task = new MultiLagTask({ ...PAPER_TASK, ...(flags.steps !== undefined && { steps: flags.steps }) });
  return { train: task.trainingSet(flags.trainSequences), validation: (epoch) => task.validationSet(validationSize(batch), epoch) };
}
