// One model's training run (SPEC §3): seeded shuffled mini-batches, full BPTT, the optimizer's update on the GPU,
// per-epoch learning curve and gate statistics (as the reference: after 0-based epoch ep with ep % gate_log_every == 0,
// over that epoch's first mini-batch; curves.ts), checkpoints, exact resume.
import type { GpuContext } from '../gpu/context.ts';
import { buildLayout, initParams, type ParamLayout } from '../model/index.ts';
import { recordBatchGradient, type ReadoutLoss } from '../cells/backward.ts';
import { describeTimings, ensureTile } from '../cells/autotune.ts';
import { Rng } from '../util/random.ts';
import type { SequenceData } from '../data/dataset.ts';
import type { SequenceDraw } from '../data/task.ts';
import { batchBuffers, batchRanges, epochPermutation, gatherBatch, type BatchBuffers } from '../data/batches.ts';
import { GpuOptimizer } from './optim/index.ts';
import { checkInputSize, type TrainConfig } from './config.ts';
import { EvaluationBuffers, evaluate } from './evaluate.ts';
import { gateRows, logsGateStats, type CurveRow, type GateRow } from './curves.ts';
import type { TrainSink } from './sink.ts';
import { silentProgress, type Progress } from './progress.ts';
import { deriveSeed } from '../data/seeds.ts';
import { describeDifferences } from '../util/differences.ts';
import { envSetting } from '../gpu/runtime.ts';
import { quiet } from '../gpu/step.ts';
import { OneInFlight } from '../gpu/in-flight.ts';
import { bufferLimit } from '../gpu/chunks.ts';
import { ResidentSet, keepsResident, residentOrNone } from './resident.ts';
import { formatBytes } from '../gpu/memory.ts';

export interface TrainingData {
  train: SequenceData;
  /** The validation set of an epoch (the task draws a fresh one each epoch; user data returns a fixed one). */
  validation(epoch: number): SequenceData;
  /**
   * The same set drawn in parts, where drawing costs host time (the task's: ~0.2 s for the paper's 512 sequences):
   * the trainer draws a part after queueing each batch, while the device works.
   */
  validationDraw?(epoch: number): SequenceDraw;
  /** The same set drawn off the calling thread (a worker thread): the trainer asks for it as an epoch starts. */
  validationLater?(epoch: number): Promise<SequenceData>;
}

export interface TrainOptions {
  sink: TrainSink;
  /** Continue from the sink's checkpoint when there is one. */
  resume?: boolean;
  progress?: Progress;
  /** Where the run says where it resumed from (or that there was nothing to resume). */
  log?: (line: string) => void;
  /** Stop after this epoch (as an interruption would); the run can be resumed. */
  stopAfterEpoch?: number;
  /**
   * Called after every epoch's curves are recorded, with the epoch and a way to read the current parameters and the
   * optimizer's preconditioner (the envelope trajectory uses it every K epochs).
   */
  onEpochEnd?: (epoch: number, snapshot: () => Promise<{ params: Float32Array; preconditioner: Float64Array }>) => Promise<void>;
}

export interface TrainResult {
  layout: ParamLayout;
  /** Final parameters (flat, in the layout). */
  params: Float32Array;
  curve: CurveRow[];
  gates: GateRow[];
  /** The trained optimizer, for its preconditioner (later diagnostics). Destroy it when done. */
  optimizer: GpuOptimizer;
  epochsRun: number;
  /** Wall seconds of this call's epochs by phase (a resumed run's earlier epochs are not in them): see EpochPhases. */
  phaseSeconds: EpochPhases;
}

/**
 * Where an epoch's wall time goes: its training batches (forward, BPTT, optimizer, the host's gathering between them),
 * the evaluation after them (training R², the validation set, gate statistics, the curves written), and the
 * per-epoch callback and checkpoints. On an H200 the paper's epoch took 2.5× its batches' bench time; these say why.
 */
export interface EpochPhases {
  batches: number;
  evaluation: number;
  epochEnd: number;
  checkpoints: number;
}

/** "batches 1.12 s, evaluation 0.31 s" (the phases above 5 ms), for the progress lines. */
export function describePhases(phases: EpochPhases): string {
  return (Object.entries(phases) as [keyof EpochPhases, number][]).filter(([, s]) => s >= 0.005).map(([name, s]) => `${PHASE_NAMES[name]} ${s.toFixed(2)} s`).join(', ');
}

const PHASE_NAMES: Record<keyof EpochPhases, string> = { batches: 'batches', evaluation: 'evaluation', epochEnd: 'epoch callback', checkpoints: 'checkpoint' };
const noPhases = (): EpochPhases => ({ batches: 0, evaluation: 0, epochEnd: 0, checkpoints: 0 });

/** Training stopped because the loss stopped being a number. */
export class NonFiniteLossError extends Error {
  constructor(
    readonly epoch: number,
    readonly batch: number,
    readonly loss: number,
  ) {
    super(
      `training diverged: the loss is ${loss} at epoch ${epoch}, batch ${batch}. Curves and checkpoints written so far are kept. ` +
        'Lower the learning rate, enable gradient clipping, or check the data for extreme values.',
    );
  }
}

/** Up to this many training sequences measure the training R² each epoch (SPEC §3). */
export const TRAIN_R2_SEQUENCES = 1024;

/** LWIN_TRACE=on (a benchmark switch): the epochs' batches and evaluations timed on stderr. */
const tracing = () => envSetting('LWIN_TRACE') === 'on';
/** Their inputs stay on the device up to this size (the paper's take 64 MiB). */
export const TRAIN_R2_RESIDENT_BYTES = 256 * 2 ** 20;

/** A saved fingerprint as settings (older checkpoints hold the same JSON text). */
function parseFingerprint(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return { fingerprint: text };
  }
}

function fingerprint(config: TrainConfig, data: SequenceData): string {
  const { epochs: _epochs, checkpointEvery: _every, ...rest } = config;
  return JSON.stringify({ ...rest, data: { source: data.source, count: data.count, steps: data.steps, inputSize: data.inputSize } });
}

export async function train(ctx: GpuContext, config: TrainConfig, data: TrainingData, options: TrainOptions): Promise<TrainResult> {
  const { train: set } = data;
  checkInputSize(set.inputSize);
  const layout = buildLayout({ cell: config.cell, inputSize: set.inputSize, hiddenSize: config.hidden, layernorm: config.layernorm, ...(config.outputs !== undefined && { outputs: config.outputs }), ...(config.layers !== undefined && config.layers > 1 && { layers: config.layers }) });
  const request = { cell: config.cell, layernorm: config.layernorm, hidden: config.hidden, input: set.inputSize, batch: Math.min(config.batch, set.count) };
  const choice = await ensureTile(ctx, request);
  if (choice?.source === 'tuned') options.log?.(`recurrent kernels autotuned for ${config.cell} H=${config.hidden} B=${request.batch} on ${ctx.adapterName}: tile ${choice.tile} (${describeTimings(choice)}; cached in ${ctx.options.tileCache!.path})`);
  const run = new TrainingRun(ctx, config, layout, data, options);
  try {
    return await run.execute();
  } catch (error) {
    run.dispose(true);
    throw error;
  } finally {
    ctx.releaseIdle(); // the batches' scratch, kept between steps
  }
}

class TrainingRun {
  private params: GPUBuffer;
  private readonly grad: GPUBuffer;
  private readonly batch: { x: GPUBuffer; y: GPUBuffer; yhat: GPUBuffer; loss: GPUBuffer };
  /** The inputs of the sequences that measure the training R², uploaded once rather than every epoch. */
  private trainR2X: GPUBuffer | undefined;
  /** The training set on the device, when it is kept there (keepsResident): batches are gathered there. */
  private resident: ResidentSet | undefined;
  /** Else one batch's host arrays, for every batch of the run: writeBuffer copies them when called. */
  private hostBatch: BatchBuffers | undefined;
  private readonly optimizer: GpuOptimizer;
  private rng: Rng;
  private curve: CurveRow[] = [];
  private gates: GateRow[] = [];
  private epoch = 0;
  /** The validation set trainEpoch drew for its epoch while the device ran the last batch (record() takes it). */
  private validationSet: { epoch: number; data: SequenceData } | undefined;
  /** The per-epoch evaluations' buffers (training R², validation), kept from epoch to epoch; not the gate terms'. */
  private readonly evaluationBuffers: EvaluationBuffers;
  private readonly fingerprint: string;
  /** SPEC §13's loss (the paper's mse at every step unless the config says otherwise). */
  private readonly readoutLoss: ReadoutLoss;

  constructor(
    private readonly ctx: GpuContext,
    private readonly config: TrainConfig,
    private readonly layout: ParamLayout,
    private readonly data: TrainingData,
    private readonly options: TrainOptions,
  ) {
    const { steps: T, inputSize: D } = data.train;
    const B = Math.min(config.batch, data.train.count);
    const initial = Float32Array.from(initParams(layout, { seed: config.seed, constS: config.constS, orthogonal: config.orthogonal, scale: config.initScale }));
    this.params = ctx.upload(`train/${config.cell}/params`, initial);
    this.grad = ctx.storage(`train/${config.cell}/grad`, layout.totalSize * 4);
    const K = config.outputs ?? 1;
    this.batch = {
      x: ctx.storage('train/batch-x', B * T * D * 4),
      y: ctx.storage('train/batch-y', B * T * (config.loss === 'ce' ? 1 : K) * 4),
      yhat: ctx.storage('train/batch-yhat', B * T * K * 4),
      loss: ctx.storage('train/batch-loss', 4),
    };
    this.optimizer = new GpuOptimizer(ctx, layout, config.optimizer);
    this.evaluationBuffers = new EvaluationBuffers(ctx);
    this.rng = new Rng(deriveSeed(config.seed, 'shuffle'));
    this.fingerprint = fingerprint(config, data.train);
    this.readoutLoss = { loss: config.loss ?? 'mse', lossSteps: config.lossSteps ?? 'all' };
  }

  async execute(): Promise<TrainResult> {
    if (this.options.resume) await this.restore();
    const { train: set } = this.data;
    if (keepsResident(this.ctx, 4 * (set.x.length + set.y.length))) {
      this.resident = await residentOrNone(this.ctx, set, Math.min(this.config.batch, set.count));
      if (!this.resident) this.options.log?.(`the training set (${formatBytes(4 * (set.x.length + set.y.length))}) did not fit beside the model on ${this.ctx.adapterName}: batches are gathered on the host`);
    }
    const progress = this.options.progress ?? silentProgress;
    const last = Math.min(this.config.epochs, this.options.stopAfterEpoch ?? Infinity);
    progress.start(this.config.epochs, this.epoch, this.config.cell);
    const total = noPhases();
    try {
      while (this.epoch < last) {
        const phases = noPhases();
        let mark = performance.now();
        const lap = (phase: keyof EpochPhases) => {
          const now = performance.now();
          phases[phase] += (now - mark) / 1000;
          mark = now;
        };
        const { loss, order } = await this.trainEpoch(this.epoch + 1);
        lap('batches');
        this.epoch++;
        await this.record(loss, order);
        lap('evaluation');
        await this.options.onEpochEnd?.(this.epoch, async () => ({
          params: await this.ctx.readF32(this.params, 0, this.layout.totalSize),
          preconditioner: await this.optimizer.preconditioner(),
        }));
        lap('epochEnd');
        if (this.epoch % this.config.checkpointEvery === 0 || this.epoch === this.config.epochs) await this.checkpoint();
        lap('checkpoints');
        for (const phase of Object.keys(total) as (keyof EpochPhases)[]) total[phase] += phases[phase];
        const row = this.curve.at(-1)!;
        progress.update(this.epoch, { loss: row.train_loss.toPrecision(4), phases: describePhases(phases) });
      }
    } finally {
      progress.stop();
    }
    const params = await this.ctx.readF32(this.params, 0, this.layout.totalSize);
    this.dispose(false);
    return { layout: this.layout, params, curve: this.curve, gates: this.gates, optimizer: this.optimizer, epochsRun: this.epoch, phaseSeconds: total };
  }

  /** One epoch of updates; returns the mean training loss over its sequences and the epoch's shuffled order. */
  private async trainEpoch(epoch: number): Promise<{ loss: number; order: Uint32Array }> {
    const set = this.data.train;
    const { steps: T } = set;
    const order = epochPermutation(set.count, this.rng);
    let weighted = 0;
    let batchIndex = 0;
    const ranges = batchRanges(set.count, this.config.batch);
    // One batch stays in flight: batch n is queued behind batch n-1 before the host waits for n-1's loss, so the
    // device never idles while the host reads a loss and records the next batch (queue order keeps every batch's
    // reads after the previous one's writes). The next batch is gathered on the host meanwhile.
    const batches = new OneInFlight<{ loss: Promise<Float32Array>; count: number; index: number }>(async (batch) => {
      const loss = (await batch.loss)[0]!;
      if (!Number.isFinite(loss)) throw new NonFiniteLossError(epoch, batch.index, loss);
      weighted += loss * batch.count;
    });
    const pipelined = envSetting('LWIN_PIPELINE') !== 'off'; // a benchmark switch: each batch awaited before the next
    // The epoch's validation set depends on the epoch alone, so it is drawn on a worker thread while the epoch
    // trains, or else a part after each batch is queued, while the device works (drawing it whole at the end left the
    // device idle ~0.2 s an epoch at the paper's size).
    const later = this.data.validationLater ? quiet(this.data.validationLater(epoch)) : undefined;
    const validation = later ? undefined : this.data.validationDraw?.(epoch);
    // Batches are gathered on the device from a resident set, else on the host, the next while the device works.
    const { resident } = this;
    const host = resident ? undefined : (this.hostBatch ??= batchBuffers(set, Math.min(this.config.batch, set.count)));
    const gather = (index: number) => {
      const range = ranges[index];
      return range && host ? gatherBatch(set, order.subarray(range[0], range[1]), host) : undefined;
    };
    let next = gather(0);
    // each batch's times from the epoch's start, recorded / queued / done (LWIN_TRACE)
    const trace = tracing() ? { t0: performance.now(), rows: [] as number[][] } : undefined;
    for (const [start, end] of ranges) {
      batchIndex++;
      const count = end - start;
      const step = this.ctx.step(`train ${this.config.cell} epoch ${epoch} batch ${batchIndex}`, `train ${this.config.cell}`);
      if (resident) resident.record(step, order.subarray(start, end), this.batch.x, this.batch.y);
      else {
        this.ctx.device.queue.writeBuffer(this.batch.x, 0, next!.x as Float32Array<ArrayBuffer>);
        this.ctx.device.queue.writeBuffer(this.batch.y, 0, next!.y as Float32Array<ArrayBuffer>);
      }
      recordBatchGradient(step, {
        layout: this.layout, params: this.params, x: this.batch.x, y: this.batch.y, batch: count, steps: T,
        yhat: this.batch.yhat, grad: this.grad, loss: this.batch.loss, checkpointEvery: this.config.bpttCheckpoint, readoutLoss: this.readoutLoss,
      });
      this.optimizer.record(step, this.params, this.grad);
      const loss = step.readF32(this.batch.loss, 0, 1);
      if (trace) {
        const row = [performance.now() - trace.t0, NaN, NaN];
        trace.rows.push(row);
        void step.queued.then(() => (row[1] = performance.now() - trace.t0));
        void loss.then(() => (row[2] = performance.now() - trace.t0), () => undefined);
      }
      await batches.submit(step, { loss, count, index: batchIndex }, () => validation?.advance(Math.ceil(validation.remaining / (ranges.length - batchIndex + 1))));
      if (!pipelined) await batches.flush();
      next = gather(batchIndex);
    }
    this.validationSet = { epoch, data: later ? await later : validation ? validation.finish() : this.data.validation(epoch) };
    await batches.flush();
    if (trace) console.error(`lwin trace: ${this.config.cell} epoch ${epoch} batches (ms from the epoch's start, recorded/queued/done): ${trace.rows.map((r) => r.map((v) => v.toFixed(1)).join('/')).join(' ')}; end ${(performance.now() - trace.t0).toFixed(1)}`);
    return { loss: weighted / set.count, order };
  }

  private async record(trainLoss: number, order: Uint32Array): Promise<void> {
    const { ctx, layout, params } = this;
    const t0 = performance.now();
    const buffers = this.evaluationBuffers;
    const trainEval = await evaluate(ctx, layout, params, this.data.train, { maxSequences: TRAIN_R2_SEQUENCES, readoutLoss: this.readoutLoss, deviceX: this.residentR2Inputs(), buffers });
    const drawn = this.validationSet?.epoch === this.epoch ? this.validationSet.data : this.data.validation(this.epoch);
    this.validationSet = undefined;
    const t1 = performance.now();
    const val = await evaluate(ctx, layout, params, drawn, { readoutLoss: this.readoutLoss, buffers });
    const t2 = performance.now();
    this.curve.push({ epoch: this.epoch, train_loss: trainLoss, train_acc: trainEval.r2, val_loss: val.loss, val_acc: val.r2 });
    if (logsGateStats(this.epoch, this.config.gateLogEvery)) this.gates.push(...(await this.gateStats(order)));
    const t3 = performance.now();
    await this.options.sink.curves(this.config.cell, this.curve, this.gates);
    if (tracing()) console.error(`lwin trace: ${this.config.cell} epoch ${this.epoch} evaluation ms: training R² ${(t1 - t0).toFixed(1)}, validation ${(t2 - t1).toFixed(1)}, gate statistics ${(t3 - t2).toFixed(1)}, curves ${(performance.now() - t3).toFixed(1)}`);
  }

  /**
   * The training R²'s inputs on the device (64 MiB at the paper's size), when they fit one binding and
   * TRAIN_R2_RESIDENT_BYTES; else undefined, and each evaluation uploads them.
   */
  private residentR2Inputs(): GPUBuffer | undefined {
    if (this.trainR2X) return this.trainR2X;
    const { x, count, steps, inputSize } = this.data.train;
    const leading = this.resident?.leadingInputs(Math.min(count, TRAIN_R2_SEQUENCES));
    if (leading) return leading;
    const values = Math.min(count, TRAIN_R2_SEQUENCES) * steps * inputSize;
    if (4 * values > Math.min(TRAIN_R2_RESIDENT_BYTES, bufferLimit(this.ctx.device.limits))) return undefined;
    return (this.trainR2X = this.ctx.upload('train/r2-inputs', x.subarray(0, values)));
  }

  /** The mean SPEC §4 terms over the epoch's first mini-batch after its updates, as the reference (`perm[:batch_size]`). */
  private async gateStats(order: Uint32Array): Promise<GateRow[]> {
    const set = this.data.train;
    const first = order.subarray(0, Math.min(this.config.batch, set.count));
    const batch = { ...gatherBatch(set, first), count: first.length, steps: set.steps, inputSize: set.inputSize };
    const { gates } = await evaluate(this.ctx, this.layout, this.params, batch, { gates: true, readoutLoss: this.readoutLoss });
    return gateRows(this.config.cell, this.epoch, gates!);
  }

  private async checkpoint(): Promise<void> {
    const params = await this.ctx.readF32(this.params, 0, this.layout.totalSize);
    const optimizer = await this.optimizer.saveState();
    await this.options.sink.saveCheckpoint(this.layout, {
      params, optimizer, state: { epoch: this.epoch, shuffleRng: this.rng.state(), curve: this.curve, gates: this.gates, fingerprint: this.fingerprint },
    });
  }

  private async restore(): Promise<void> {
    const { sink, log = () => {} } = this.options;
    const where = sink.where ?? 'the checkpoint store';
    const saved = await sink.loadCheckpoint(this.layout);
    if (!saved) {
      log(`nothing to resume: no checkpoint in ${where} yet; training ${this.config.cell} from epoch 1`);
      return;
    }
    if (saved.state.fingerprint !== this.fingerprint) {
      const differences = describeDifferences(parseFingerprint(saved.state.fingerprint), JSON.parse(this.fingerprint));
      throw new Error(
        `the checkpoint in ${where} belongs to a different run; nothing was trained or overwritten. Settings that differ (checkpoint → now):\n` +
          `${differences.map((d) => `  ${d}`).join('\n')}\nResume with the settings it was started with, or start a new output folder.`,
      );
    }
    if (saved.state.curve.some((r) => !('train_acc' in r)) || saved.state.gates.some((r) => !('metric' in r))) {
      throw new Error(
        'the checkpoint was written by an older lwin, whose learning curve (train_r2, val_r2) and gate statistics (one wide row per ' +
          'validation pass) predate the reference\'s columns; finish it with that lwin version, or start a new output folder',
      );
    }
    this.ctx.device.queue.writeBuffer(this.params, 0, saved.params as Float32Array<ArrayBuffer>);
    this.optimizer.loadState(saved.optimizer);
    this.rng = Rng.fromState(saved.state.shuffleRng);
    this.curve = saved.state.curve;
    this.gates = saved.state.gates;
    this.epoch = saved.state.epoch;
    const left = this.config.epochs - this.epoch;
    log(`resumed ${this.config.cell} from the checkpoint at epoch ${this.epoch} in ${where}; ${left > 0 ? `${left} of ${this.config.epochs} epochs to go` : `all ${this.config.epochs} epochs were done`}`);
  }

  dispose(includingOptimizer: boolean): void {
    for (const b of [this.params, this.grad, ...Object.values(this.batch), this.trainR2X]) b?.destroy();
    this.evaluationBuffers.destroy();
    this.resident?.destroy();
    if (includingOptimizer) this.optimizer.destroy();
  }
}
