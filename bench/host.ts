// The host's share of a training batch at the paper's size, per cell: what the trainer does on the CPU for each
// batch while the device runs the previous one. With one batch in flight the device idles whenever this exceeds the
// batch's GPU time (an H200 ran const's in 13.6 ms: bench/RESULTS.md). Nothing is submitted: the device's queue
// submit is stubbed out while the steps are encoded, so this runs in seconds on any adapter, lavapipe included.
//   gather      the batch's sequences copied from the training set into the host batch arrays (gatherBatch); 0 where
//               the trainer keeps the set on the device (src/train/resident.ts: GPUs), whose gather is recorded
//               with the step
//   validation  the share of the epoch's validation set drawn after each batch (512 sequences over 16 batches); 0
//               where worker threads draw it (src/diagnostics/worker-pool.ts: Node), as the trainer then does
//   record      the step recorded: forward, BPTT, weight gradients, AdamW (recordBatchGradient, optimizer)
//   encode      the step encoded: pipelines looked up, uniforms packed and written, bind groups, the command buffer
import { GpuContext } from '../src/gpu/index.ts';
import { buildLayout, cellLayerNorm, type CellKind } from '../src/model/index.ts';
import { recordBatchGradient } from '../src/cells/backward.ts';
import { GpuOptimizer } from '../src/train/optim/index.ts';
import { MultiLagTask, PAPER_TASK } from '../src/data/task.ts';
import { batchBuffers, epochPermutation, gatherBatch } from '../src/data/batches.ts';
import { validationSize } from '../src/data/dataset.ts';
import { Rng } from '../src/util/random.ts';
import { ResidentSet, keepsResident } from '../src/train/resident.ts';
import { hostWorkers } from '../src/diagnostics/worker-pool.ts';
import { median } from './ab.ts';
import { PAPER_TRAINING, stepBuffers } from './cells.ts';

export interface HostBenchResult {
  cell: CellKind;
  /** Dispatches in one training step. */
  dispatches: number;
  /** The trainer keeps the set on the device on this adapter (keepsResident): gathering is part of the step. */
  resident: boolean;
  /** Worker threads draw the validation sets (hostWorkers): none of it is on the thread that drives the GPU. */
  validationOnWorker: boolean;
  /** Median host milliseconds per batch of each part, and their sum. */
  gatherMs: number;
  validationMs: number;
  recordMs: number;
  encodeMs: number;
  totalMs: number;
}

/** The paper's batch (B=512, T=1024, H=128, D=16) for each cell: medians over `repeats` batches after one warm-up. */
export async function benchHost(ctx: GpuContext, cells: readonly CellKind[], repeats: number): Promise<HostBenchResult[]> {
  const { batch: B, steps: T, hidden: H, sequences } = PAPER_TRAINING;
  const D = PAPER_TASK.inputSize;
  const task = new MultiLagTask(PAPER_TASK);
  const train = task.trainingSet(2 * B); // gathering depends on the batch, not on the set it is drawn from
  const order = epochPermutation(train.count, new Rng(1));
  const host = batchBuffers(train, B);
  const batchesPerEpoch = Math.ceil(sequences / B);
  const results: HostBenchResult[] = [];
  const plain = new GpuContext(ctx.device, { adapter: ctx.options.adapter });
  const resident = keepsResident(plain, 4 * sequences * T * (D + 1)) // the paper's 8000 sequences
    ? new ResidentSet(plain, train, B)
    : undefined;
  const queue = ctx.device.queue;
  const submit = queue.submit.bind(queue);
  for (const cell of cells) {
    const layout = buildLayout({ cell, inputSize: D, hiddenSize: H, layernorm: cellLayerNorm(cell, true) });
    const b = stepBuffers(plain, layout, B, T, 'host');
    const optimizer = new GpuOptimizer(plain, layout, { name: 'adamw', lr: 1e-3, weightDecay: 1e-4, clip: 1 });
    const times = { gather: [] as number[], validation: [] as number[], record: [] as number[], encode: [] as number[] };
    let dispatches = 0;
    const valCount = validationSize(B);
    const part = Math.ceil(valCount / batchesPerEpoch);
    let validation = task.validationDraw(valCount, 0);
    const onWorker = hostWorkers();
    queue.submit = () => {}; // nothing reaches the device
    try {
      for (let i = 0; i <= repeats; i++) {
        const indices = order.subarray((i % 2) * B, (i % 2) * B + B);
        const t0 = performance.now();
        if (!resident) gatherBatch(train, indices, host);
        const t1 = performance.now();
        if (!onWorker) {
          if (validation.remaining === 0) validation = task.validationDraw(valCount, i);
          validation.advance(part);
        }
        const t2 = performance.now();
        const step = plain.step(`host ${cell}`);
        resident?.record(step, indices, b.x, b.y);
        recordBatchGradient(step, { layout, ...b, batch: B, steps: T });
        optimizer.record(step, b.params, b.grad);
        const t3 = performance.now();
        const done = step.submit();
        await step.queued;
        const t4 = performance.now();
        await done;
        dispatches = step.dispatchCount;
        if (i === 0) continue; // warm-up: pipelines compiled, pools filled
        times.gather.push(t1 - t0);
        times.validation.push(t2 - t1);
        times.record.push(t3 - t2);
        times.encode.push(t4 - t3);
      }
    } finally {
      queue.submit = submit;
      optimizer.destroy();
      plain.releaseIdle();
      for (const buffer of Object.values(b)) buffer.destroy();
    }
    const result = {
      cell, dispatches, resident: Boolean(resident), validationOnWorker: onWorker, gatherMs: median(times.gather), validationMs: median(times.validation), recordMs: median(times.record), encodeMs: median(times.encode),
    };
    results.push({ ...result, totalMs: result.gatherMs + result.validationMs + result.recordMs + result.encodeMs });
  }
  resident?.destroy();
  plain.destroy();
  return results;
}

export function formatHost(results: readonly HostBenchResult[], adapter: string): string {
  const f = (ms: number) => ms.toFixed(2);
  return [
    `Host ms per training batch at the paper size (B=512 T=1024 H=128 D=16; medians; nothing submitted), ${adapter}${results[0]?.resident ? '; training set on the device, batches gathered there' : ''}${results[0]?.validationOnWorker ? '; validation sets drawn on a worker thread' : ''}:`,
    '',
    '| cell | dispatches | gather | validation share | record | encode | total |',
    '|---|---|---|---|---|---|---|',
    ...results.map((r) => `| ${r.cell} | ${r.dispatches} | ${f(r.gatherMs)} | ${f(r.validationMs)} | ${f(r.recordMs)} | ${f(r.encodeMs)} | ${f(r.totalMs)} |`),
  ].join('\n');
}
