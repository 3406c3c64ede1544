// Loss and exact gradients (BPTT) on the GPU for one batch, in one step.
//
//   stored mode (default): the forward keeps every state ([T, B, W, H]); one backward pass over all steps.
//   checkpointed (every k): the forward keeps the state after every k-th step; the backward walks segments of k
//   steps from the last, recomputing each segment's states from its checkpoint first. Memory O(B·H·(T/k + k)).
// Both run the same kernels on the same inputs, so they give the same gradients.
import { readoutOutputs, stateWidth } from '../model/cells.ts';
import type { Step } from '../gpu/step.ts';
import type { ParamLayout } from '../model/params.ts';
import { adjointBlocks, backwardProgram, operandNames } from '../../shaders/recurrence/backward.ts';
import { NO_SLOT, type RecurrentSizes } from '../../shaders/recurrence/params.ts';
import { readoutLossProgram, residualProgram } from '../../shaders/loss.ts';
import { recordSegmentedReduce } from '../kernels/reduce.ts';
import { STEPS_PER_DISPATCH, checkRecurrentSizes, recordForward, tensorOffsets } from './forward.ts';
import { GradientPartials } from './gradients.ts';
import { tileFor } from './tiles.ts';
import { recordRowWeights, rowLayout } from './weights.ts';

/** SPEC §13's loss of a readout: `mse` (K outputs) or `ce` (K classes), at every step or the last only. */
export interface ReadoutLoss {
  loss: 'mse' | 'ce';
  lossSteps: 'all' | 'last';
}

export interface BatchGradientCall {
  layout: ParamLayout;
  params: GPUBuffer;
  /** [B, T, D]; y: [B, T] (scalar readout), [B, T, K] (mse with K outputs) or class indices [B, T] (ce). */
  x: GPUBuffer;
  y: GPUBuffer;
  batch: number;
  steps: number;
  /** Outputs: ŷ [B, T], ∂L/∂θ (flat, layout.totalSize; non-trainable entries 0), and the loss [1] (with its sum). */
  yhat: GPUBuffer;
  grad: GPUBuffer;
  loss: GPUBuffer;
  /** Keep only every k-th state and recompute the rest (default: keep all). */
  checkpointEvery?: number;
  /** Default: mse at every step, the paper's loss. */
  readoutLoss?: ReadoutLoss;
}

/**
 * Records SPEC §13's readout loss of ŷ [B, T, K] against y into `total` [1] (the mean over the terms taken: B·T'·K
 * for mse, B·T' for ce, T' = T or 1) and ∂L/∂ŷ into `dy` [B, T, K]. `scale` replaces 1/terms (the diagnostics
 * take 1: the residual itself, the same factor in every batch).
 */
export function recordReadoutLoss(step: Step, call: { yhat: GPUBuffer; y: GPUBuffer; batch: number; steps: number; outputs: number; total: GPUBuffer; dy: GPUBuffer; scale?: number } & ReadoutLoss): void {
  const rows = call.batch * call.steps;
  const taken = call.batch * (call.lossSteps === 'last' ? 1 : call.steps);
  const terms = taken * (call.loss === 'mse' ? call.outputs : 1);
  const rowloss = step.scratch('readout_loss/rows', rows * 4);
  step.run(readoutLossProgram(call.loss), { yhat: call.yhat, y: call.y, rowloss, dy: call.dy }, { rows, T: call.steps, K: call.outputs, last: call.lossSteps === 'last' ? 1 : 0, scale: call.scale ?? 1 / terms });
  recordSegmentedReduce(step, rowloss, 1, rows, { sums: call.total, means: step.scratch('readout_loss/mean', 4) });
}

/**
 * Records the MSE loss of ŷ against y over `count` values into `loss` [1], and ∂L/∂ŷ into `dy` when given
 * (a scratch buffer otherwise).
 */
export function recordMseLoss(step: Step, call: { yhat: GPUBuffer; y: GPUBuffer; count: number; loss: GPUBuffer; dy?: GPUBuffer }): void {
  const { count } = call;
  const sq = step.scratch('mse/squares', count * 4);
  const dy = call.dy ?? step.scratch('mse/dy', count * 4);
  step.run(residualProgram, { yhat: call.yhat, y: call.y, sq, dy }, { count, slope: 2 / count });
  recordSegmentedReduce(step, sq, 1, count, { sums: step.scratch('mse/sum', 4), means: call.loss });
}

/** Records forward, loss and backward of one batch into `step`. */
export function recordBatchGradient(step: Step, call: BatchGradientCall): void {
  const { layout, batch: B, steps: T } = call;
  checkRecurrentSizes(layout);
  const { cell, layernorm, hiddenSize: H } = layout.config;
  const W = stateWidth(cell);
  const k = Math.min(call.checkpointEvery ?? T, T, largestSegment(step, layout, B));
  const segments = Math.ceil(T / k);
  const stateBytes = B * W * H * 4;
  const state = step.scratch('bptt/state', stateBytes);
  // Stored mode keeps all T states; checkpointed mode keeps ⌊T/k⌋ checkpoints plus one segment's states.
  const checkpoints = k < T ? step.scratch('bptt/checkpoints', Math.max(1, Math.floor(T / k)) * stateBytes) : undefined;
  const segmentStates = step.scratch('bptt/segment-states', k * stateBytes);
  step.clear(state);
  const weights = recordRowWeights(step, layout, call.params);
  recordForward(step, {
    layout, params: call.params, weights, x: call.x, batch: B, steps: T, state, yhat: call.yhat,
    stored: checkpoints ? { buffer: checkpoints, slots: Math.floor(T / k), every: k, from: 0 } : { buffer: segmentStates, slots: T, every: 1, from: 0 },
  });
  const K = readoutOutputs(layout.config);
  const dy = step.scratch('bptt/dy', B * T * K * 4);
  const readoutLoss = call.readoutLoss ?? { loss: 'mse', lossSteps: 'all' };
  // The paper's loss keeps its own kernel; SPEC §13's others (ce, the last step only) go through readout_loss.
  if (readoutLoss.loss === 'mse' && readoutLoss.lossSteps === 'all') recordMseLoss(step, { yhat: call.yhat, y: call.y, count: B * T * K, loss: call.loss, dy });
  else recordReadoutLoss(step, { yhat: call.yhat, y: call.y, batch: B, steps: T, outputs: K, total: call.loss, dy, ...readoutLoss });

  const deltas = step.scratch('bptt/deltas', B * k * adjointBlocks(cell, layernorm).length * H * 4);
  const ops = step.scratch('bptt/operands', B * k * operandNames(cell).length * H * 4);
  // The carried adjoint, then the segment's starting state (the backward kernel's `adj`).
  const adj = step.scratch('bptt/adjoint', 2 * stateBytes);
  step.clear(adj);
  const recomputedYhat = checkpoints ? step.scratch('bptt/yhat-recomputed', B * T * K * 4) : undefined;
  const partials = GradientPartials.plan(step, layout, segments);
  for (let seg = segments - 1; seg >= 0; seg--) {
    const from = seg * k;
    const to = Math.min(T, from + k);
    const startSlot = seg === 0 ? NO_SLOT : seg - 1;
    if (checkpoints) {
      // Recompute this segment's states from the checkpoint before it.
      if (seg === 0) step.clear(state);
      else step.copy(checkpoints, (seg - 1) * stateBytes, state, 0, stateBytes);
      recordForward(step, {
        layout, params: call.params, weights, x: call.x, batch: B, steps: T, state, yhat: recomputedYhat!,
        stored: { buffer: segmentStates, slots: k, every: 1, from }, range: [from, to],
      });
      if (seg > 0) step.copy(checkpoints, (seg - 1) * stateBytes, adj, stateBytes, stateBytes);
    }
    recordBackwardSegment(step, call, { from, to, slots: k, states: segmentStates, weights, startSlot, dy, adj, deltas, ops });
    partials.record(step, { x: call.x, dy, deltas, ops }, segments - 1 - seg, B, T, from, to - from, k);
  }
  step.clear(call.grad);
  partials.finish(step, call.grad);
}

/**
 * The longest BPTT segment whose per-segment buffers (states, adjoints, operands: [B, k, ·, H]) fit one storage
 * binding. Stored mode becomes checkpointed on its own when a batch is too large for the adapter (the paper's
 * B=512, T=1024, H=128 needs 256 MiB of states alone, twice lavapipe's binding limit); results are the same.
 */
export function largestSegment(step: Step, layout: ParamLayout, batch: number): number {
  const { cell, layernorm, hiddenSize: H } = layout.config;
  const widest = Math.max(adjointBlocks(cell, layernorm).length, operandNames(cell).length, stateWidth(cell));
  return Math.max(1, Math.floor(step.maxBindingBytes / (batch * widest * H * 4)));
}

interface SegmentCall {
  from: number;
  to: number;
  slots: number;
  states: GPUBuffer;
  /** The row helpers' weights (recordRowWeights). */
  weights: GPUBuffer;
  /** NO_SLOT: the segment starts from the zero state; else its starting state is in adj's second half. */
  startSlot: number;
  dy: GPUBuffer;
  adj: GPUBuffer;
  deltas: GPUBuffer;
  ops: GPUBuffer;
}

function recordBackwardSegment(step: Step, call: BatchGradientCall, seg: SegmentCall): void {
  const { layout, batch: B, steps: T } = call;
  const { cell, layernorm, hiddenSize: H, inputSize: D } = layout.config;
  const program = backwardProgram({ cell, layernorm, tile: tileFor(step.device, cell, layernorm, H), outputs: readoutOutputs(layout.config), rows: rowLayout(step.device, layout) });
  const offsets = tensorOffsets(layout);
  const buffers = {
    P: call.params, PT: seg.weights, x: call.x, dy: seg.dy, states: seg.states, adj: seg.adj, deltas: seg.deltas, ops: seg.ops,
  };
  // Later steps first: dispatches walk the segment backwards.
  for (let end = seg.to; end > seg.from; end -= STEPS_PER_DISPATCH) {
    const t0 = Math.max(seg.from, end - STEPS_PER_DISPATCH);
    const sizes: RecurrentSizes = {
      batch: B, T, D, H, t0, steps: end - t0, slots: seg.slots, storeEvery: 1, storeFrom: seg.from, startSlot: seg.startSlot,
    };
    step.run(program, buffers, { ...sizes, ...offsets });
  }
}
