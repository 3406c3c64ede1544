// `npm run bench -- peers`: lwin against TF.js (bench/tfjs-peer.ts) on the same adapter, in the same process, on the
// same batch: GRU and LSTM, LayerNorm off on both, Adam (lwin's adamw at weight decay 0, no clipping) with the same
// lr, MSE on every step's scalar readout, one training step per batch. The two are interleaved (lwin, TF.js, lwin,
// TF.js …, after one warm-up step each) so a shared machine's load falls on both; medians and lwin/TF.js ratios.
import type { GpuContext } from '../src/gpu/index.ts';
import { buildLayout, cellLayerNorm, initParams } from '../src/model/index.ts';
import { recordBatchGradient } from '../src/cells/backward.ts';
import { ensureTile } from '../src/cells/autotune.ts';
import { GpuOptimizer } from '../src/train/optim/index.ts';
import { Rng } from '../src/util/random.ts';
import { median } from './ab.ts';
import { PEER_ADAM, tfjsTrainer, useTfjsOn, type PeerCell, type PeerSize } from './tfjs-peer.ts';

export const PEER_CELLS: readonly PeerCell[] = ['gru', 'lstm'];

/** One cell at one size (also the GPU kit's parts/peers.json records). */
export interface PeerBenchResult {
  cell: PeerCell;
  size: PeerSize;
  repeats: number;
  /** Median wall time of one training step (forward, BPTT, Adam) on the batch, readback of the loss included. */
  lwinMsPerBatch: number;
  tfjsMsPerBatch: number;
  lwinSequenceStepsPerSecond: number;
  tfjsSequenceStepsPerSecond: number;
  /** lwin's throughput over TF.js's (TF.js ms / lwin ms): above 1, lwin is faster. */
  ratio: number;
  /** Each library's MSE on the batch before its first update (same data; different initial weights). */
  lwinInitialLoss: number;
  tfjsInitialLoss: number;
  /** Every timed step's wall ms, in order (the spread a shared machine gives). */
  lwinStepMs: number[];
  tfjsStepMs: number[];
  /** Each library's MSE before its last timed update: below the initial one when training steps really update. */
  lwinLastLoss: number;
  tfjsLastLoss: number;
}

interface Trainer {
  step(): Promise<number>;
  dispose(): void;
}

function lwinTrainer(ctx: GpuContext, cell: PeerCell, size: PeerSize, x: Float32Array, y: Float32Array): Trainer {
  const { batch: B, steps: T, hidden: H, input: D } = size;
  const layout = buildLayout({ cell, inputSize: D, hiddenSize: H, layernorm: cellLayerNorm(cell, false) });
  const b = {
    params: ctx.upload('peers/P', Float32Array.from(initParams(layout, { seed: 1 }))),
    x: ctx.upload('peers/x', x),
    y: ctx.upload('peers/y', y),
    yhat: ctx.storage('peers/yhat', B * T * 4), grad: ctx.storage('peers/grad', layout.totalSize * 4), loss: ctx.storage('peers/loss', 4),
  };
  const optimizer = new GpuOptimizer(ctx, layout, { name: 'adamw', lr: PEER_ADAM.lr, weightDecay: 0, betas: [PEER_ADAM.beta1, PEER_ADAM.beta2], eps: PEER_ADAM.eps, clip: null });
  return {
    async step() {
      const step = ctx.step(`peers lwin ${cell}`);
      recordBatchGradient(step, { layout, ...b, batch: B, steps: T });
      optimizer.record(step, b.params, b.grad);
      const loss = step.readF32(b.loss);
      await step.submit();
      return (await loss)[0]!;
    },
    dispose() {
      optimizer.destroy();
      for (const buf of Object.values(b)) buf.destroy();
    },
  };
}

async function timed(trainer: Trainer, times: number[]): Promise<number> {
  const t0 = performance.now();
  const loss = await trainer.step();
  times.push(performance.now() - t0);
  return loss;
}

/** Both libraries on one cell and size, interleaved; `repeats` timed steps each after one warm-up step. */
export async function benchPeer(ctx: GpuContext, cell: PeerCell, size: PeerSize, repeats: number): Promise<PeerBenchResult> {
  const { batch: B, steps: T, input: D } = size;
  const rng = new Rng(1);
  const x = Float32Array.from({ length: B * T * D }, () => rng.normal());
  const y = Float32Array.from({ length: B * T }, () => rng.normal());
  await useTfjsOn(ctx.device);
  // lwin's tile as training would pick it (autotuned and cached, LWIN_TILE, or the default without a cache).
  await ensureTile(ctx, { cell, layernorm: cellLayerNorm(cell, false), hidden: size.hidden, input: D, batch: B });
  const lwin = lwinTrainer(ctx, cell, size, x, y);
  const tfjs = tfjsTrainer(cell, size, x, y);
  try {
    // Warm-up: pipelines compile; the first step's loss is each model's MSE before any update.
    const lwinInitialLoss = await lwin.step();
    const tfjsInitialLoss = await tfjs.step();
    const lwinMs: number[] = [];
    const tfjsMs: number[] = [];
    let [lwinLastLoss, tfjsLastLoss] = [lwinInitialLoss, tfjsInitialLoss];
    for (let i = 0; i < repeats; i++) {
      lwinLastLoss = await timed(lwin, lwinMs);
      tfjsLastLoss = await timed(tfjs, tfjsMs);
    }
    const lwinMsPerBatch = median(lwinMs);
    const tfjsMsPerBatch = median(tfjsMs);
    return {
      cell, size, repeats, lwinMsPerBatch, tfjsMsPerBatch,
      lwinSequenceStepsPerSecond: (B * T) / (lwinMsPerBatch / 1000), tfjsSequenceStepsPerSecond: (B * T) / (tfjsMsPerBatch / 1000),
      ratio: tfjsMsPerBatch / lwinMsPerBatch, lwinStepMs: lwinMs, tfjsStepMs: tfjsMs, lwinInitialLoss, tfjsInitialLoss, lwinLastLoss, tfjsLastLoss,
    };
  } finally {
    lwin.dispose();
    tfjs.dispose();
  }
}

export function formatPeerResult(r: PeerBenchResult): string {
  const { batch: B, steps: T, hidden: H, input: D } = r.size;
  const k = (rate: number) => `${(rate / 1e3).toFixed(1)}k`;
  const range = (ms: number[]) => `${Math.min(...ms).toFixed(0)}–${Math.max(...ms).toFixed(0)}`;
  return (
    `${r.cell.padEnd(5)} B=${B} T=${T} H=${H} D=${D}: lwin ${r.lwinMsPerBatch.toFixed(1)} ms (${k(r.lwinSequenceStepsPerSecond)} seq-steps/s), ` +
    `TF.js ${r.tfjsMsPerBatch.toFixed(1)} ms (${k(r.tfjsSequenceStepsPerSecond)} seq-steps/s), lwin/TF.js ${r.ratio.toFixed(2)}×  ` +
    `[median of ${r.repeats}; ms ranges lwin ${range(r.lwinStepMs)}, TF.js ${range(r.tfjsStepMs)}; ` +
    `initial MSE lwin ${r.lwinInitialLoss.toFixed(3)}, TF.js ${r.tfjsInitialLoss.toFixed(3)}]`
  );
}

/** Every peer cell at every size; `onResult` sees each result as it comes (the kit saves partial results). */
export async function benchPeers(
  ctx: GpuContext, sizes: PeerSize[], repeats: number, cells: readonly PeerCell[] = PEER_CELLS,
  onResult: (result: PeerBenchResult) => void | Promise<void> = () => {},
): Promise<PeerBenchResult[]> {
  const results: PeerBenchResult[] = [];
  for (const size of sizes) {
    for (const cell of cells) {
      const result = await benchPeer(ctx, cell, size, repeats);
      console.log(formatPeerResult(result));
      results.push(result);
      await onResult(result);
    }
  }
  return results;
}
