// Loss and R² of a model on a set of sequences (forward only), and the mean SPEC §4 gate terms.
import type { GpuContext } from '../gpu/context.ts';
import type { ParamLayout } from '../model/params.ts';
import { recordForward } from '../cells/forward.ts';
import { recordStackInputs } from '../cells/stack.ts';
import { layerView } from '../model/stack.ts';
import { recordSegmentedReduce } from '../kernels/reduce.ts';
import { INTERMEDIATE_COUNT, INTERMEDIATE_NAMES, stateWidth } from '../model/cells.ts';
import { sequencesPerChunk } from '../gpu/chunks.ts';
import { readoutOutputs } from '../model/cells.ts';
import type { ReadoutLoss } from '../cells/backward.ts';
import { BufferPlan } from '../gpu/buffer-plan.ts';
import { OneInFlight } from '../gpu/in-flight.ts';

export interface EvalData {
  x: Float32Array;
  y: Float32Array;
  count: number;
  steps: number;
  inputSize: number;
}

export interface Evaluation {
  loss: number;
  /**
   * 1 - SSE/SST, SST about the mean of all targets of the set (at the steps where the loss is taken); with the ce
   * loss, the accuracy (the fraction of those steps whose largest logit is the target class; SPEC §13).
   */
  r2: number;
  /** Mean over sequences, steps and units of each SPEC §4 term (gate, leak, rdiag; lstm: f, e, cdiag), when asked. */
  gates?: Record<string, number>;
  /** Sequences per forward call (sequencesPerChunk): the whole set when it fits, else fewer. */
  chunk: number;
}

/**
 * At most this many sequences per forward call of an evaluation with gate terms, and EVAL_BATCH_PLAIN without. Fewer
 * when the adapter's per-buffer limits or the memory budget say so (sequencesPerChunk): the gate terms of one
 * paper-sized sequence (T=1024, H=128) take 2 MiB, so WebGPU's default 128 MiB binding holds 64 of them. Without
 * them a paper-sized sequence takes 68 KiB, and the training R²'s 1024 sequences one call: a GPU runs the
 * recurrence's 1024 steps for 1024 sequences in about the time it runs them for 256.
 */
export const EVAL_BATCH = 256;
export const EVAL_BATCH_PLAIN = 1024;

/** The evaluation's per-chunk buffers (the gate terms only with gates): they size the chunk and are allocated from it. */
export function evaluationPlan(layout: ParamLayout, steps: number, gates: boolean): BufferPlan {
  const { cell, hiddenSize: H, inputSize: D } = layout.config;
  return new BufferPlan('evaluation', [
    { label: 'eval/x', perSequence: 4 * steps * D },
    { label: 'eval/state', perSequence: 4 * stateWidth(cell) * H },
    { label: 'eval/yhat', perSequence: 4 * steps * readoutOutputs(layout.config) },
    ...(gates ? [{ label: 'eval/terms', perSequence: 4 * INTERMEDIATE_COUNT[cell] * steps * H }] : []),
  ]);
}

/**
 * An evaluation's buffers kept between calls (a trainer evaluates its training R² and its validation set every
 * epoch): one set, created at the first call and taken by every later one its buffers are large enough for, instead
 * of created and destroyed at every call. A call reads and writes only its chunk's part (it clears the state).
 */
export class EvaluationBuffers {
  private kept: Record<string, GPUBuffer> | undefined;

  constructor(private readonly ctx: GpuContext) {}

  /** Buffers for `plan` at `chunk` sequences: the kept set if it has the plan's labels and room, else a new set kept. */
  get(plan: BufferPlan, chunk: number): Record<string, GPUBuffer> {
    const kept = this.kept;
    const fits = kept && Object.keys(kept).length === plan.buffers.length && plan.buffers.every((b) => (kept[b.label]?.size ?? -1) >= plan.bytes(b.label, chunk));
    if (fits) return kept;
    this.destroy();
    return (this.kept = plan.allocate(this.ctx, chunk));
  }

  destroy(): void {
    for (const b of Object.values(this.kept ?? {})) b.destroy();
    this.kept = undefined;
  }
}

export async function evaluate(
  ctx: GpuContext,
  layout: ParamLayout,
  params: GPUBuffer,
  data: EvalData,
  options: {
    gates?: boolean; maxSequences?: number; memoryBudget?: number; readoutLoss?: ReadoutLoss;
    /** data.x's first sequences (as many as are evaluated), already on the device: copied there, not uploaded. */
    deviceX?: GPUBuffer;
    /** Where the buffers are kept between calls (a trainer's); without, they are created and destroyed per call. */
    buffers?: EvaluationBuffers;
  } = {},
): Promise<Evaluation> {
  const K = readoutOutputs(layout.config);
  const readoutLoss = options.readoutLoss ?? { loss: 'mse', lossSteps: 'all' };
  const head = new HeadScore(K, data.steps, readoutLoss);
  const { cell, hiddenSize: H, inputSize: D } = layout.config;
  const n = Math.min(data.count, options.maxSequences ?? data.count);
  const T = data.steps;
  const names = INTERMEDIATE_NAMES[cell];
  // The gate statistics are running sums: each chunk's terms are reduced on the GPU and added here in float64.
  const gateSums = new Float64Array(names.length);
  let sse = 0;
  let sumY = 0;
  let sumY2 = 0;
  const plan = evaluationPlan(layout, T, Boolean(options.gates));
  const cap = options.gates ? EVAL_BATCH : EVAL_BATCH_PLAIN;
  const chunk = sequencesPerChunk(ctx.device.limits, { pass: 'evaluation', count: n, buffers: plan.perSequence, budget: options.memoryBudget, cap });
  const held = options.buffers ? options.buffers.get(plan, chunk) : plan.allocate(ctx, chunk);
  const b = { x: held['eval/x']!, state: held['eval/state']!, yhat: held['eval/yhat']!, inter: held['eval/terms'] };
  // One chunk stays in flight: the host sums chunk k's ŷ while the device runs chunk k+1.
  const chunks = new OneInFlight<{ start: number; count: number; yhat: Promise<Float32Array>; gates: Promise<Float32Array> | undefined }>(async ({ start, count, yhat: yhatP, gates: gatesP }) => {
    const yhat = await yhatP;
    if (head.active) head.add(yhat, data.y.subarray(start * T * head.width, (start + count) * T * head.width), count);
    else for (let i = 0; i < count * T; i++) {
      const y = data.y[start * T + i]!;
      sse += (yhat[i]! - y) ** 2;
      sumY += y;
      sumY2 += y * y;
    }
    if (gatesP) (await gatesP).forEach((s, k) => (gateSums[k] = gateSums[k]! + s));
  });
  try {
    for (let start = 0; start < n; start += chunk) {
      const count = Math.min(chunk, n - start);
      const step = ctx.step('evaluate', `evaluate ${cell}`);
      if (options.deviceX) step.copy(options.deviceX, start * T * D * 4, b.x, 0, count * T * D * 4);
      else ctx.device.queue.writeBuffer(b.x, 0, data.x as Float32Array<ArrayBuffer>, start * T * D, count * T * D);
      step.clear(b.state);
      // a stack: the layers below give the top layer its input; ŷ and the gate terms are the top layer's
      const inputs = recordStackInputs(step, { layout, params, x: b.x, batch: count, steps: T });
      const top = layerView(layout, inputs.length - 1);
      recordForward(step, { layout: top, params, x: inputs[inputs.length - 1]!, batch: count, steps: T, state: b.state, yhat: b.yhat, intermediates: b.inter });
      const yhatP = step.readF32(b.yhat, 0, count * T * K);
      let gatesP: Promise<Float32Array> | undefined;
      if (b.inter) {
        const out = { sums: step.scratch('eval/term-sums', names.length * 4), means: step.scratch('eval/term-means', names.length * 4) };
        recordSegmentedReduce(step, b.inter, names.length, count * T * H, out);
        gatesP = step.readF32(out.sums);
      }
      await chunks.submit(step, { start, count, yhat: yhatP, gates: gatesP });
    }
    await chunks.flush();
  } finally {
    if (!options.buffers) for (const buf of Object.values(b)) buf?.destroy();
  }
  const m = n * T;
  const sst = sumY2 - (sumY * sumY) / m;
  const result: Evaluation = head.active ? { ...head.finish(), chunk } : { loss: sse / m, r2: sst > 0 ? 1 - sse / sst : NaN, chunk };
  if (options.gates) result.gates = Object.fromEntries(names.map((name, k) => [name, gateSums[k]! / (m * H)]));
  return result;
}

/**
 * Loss and R² (mse) or accuracy (ce) of a K-output head at the steps where the loss is taken (SPEC §13), in float64
 * from ŷ [B, T, K]; inactive for the paper's scalar mse at every step, which evaluate sums itself.
 */
class HeadScore {
  readonly active: boolean;
  /** Targets per step: K (mse) or 1 (ce class index). */
  readonly width: number;
  private loss = 0;
  private terms = 0;
  private correct = 0;
  private rows = 0;
  private sumY = 0;
  private sumY2 = 0;

  constructor(private readonly K: number, private readonly T: number, private readonly readout: ReadoutLoss) {
    this.active = !(K === 1 && readout.loss === 'mse' && readout.lossSteps === 'all');
    this.width = readout.loss === 'mse' ? K : 1;
  }

  add(yhat: Float32Array, y: Float32Array, count: number): void {
    const { K, T } = this;
    for (let b = 0; b < count; b++) {
      for (let t = this.readout.lossSteps === 'last' ? T - 1 : 0; t < T; t++) {
        const row = b * T + t;
        const logits = yhat.subarray(row * K, (row + 1) * K);
        if (this.readout.loss === 'mse') {
          for (let k = 0; k < K; k++) {
            const target = y[row * K + k]!;
            this.loss += (logits[k]! - target) ** 2;
            this.sumY += target;
            this.sumY2 += target * target;
          }
          this.terms += K;
        } else {
          const label = y[row]!;
          let top = 0;
          for (let k = 1; k < K; k++) if (logits[k]! > logits[top]!) top = k;
          let sum = 0;
          for (let k = 0; k < K; k++) sum += Math.exp(logits[k]! - logits[top]!);
          this.loss += logits[top]! + Math.log(sum) - logits[label]!;
          if (top === label) this.correct++;
          this.terms++;
        }
        this.rows++;
      }
    }
  }

  finish(): { loss: number; r2: number } {
    const loss = this.loss / this.terms;
    if (this.readout.loss === 'ce') return { loss, r2: this.correct / this.rows };
    const sst = this.sumY2 - (this.sumY * this.sumY) / this.terms;
    return { loss, r2: sst > 0 ? 1 - this.loss / sst : NaN };
  }
}
