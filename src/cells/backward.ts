// Loss and exact gradients (BPTT) on the GPU for one batch, in one step.
//
//   stored mode (default): the forward keeps every state ([T, B, W, H], and a zero slot after them: the state
//   before step 0); one backward pass over all steps.
//   checkpointed (every k): the forward keeps the state after every k-th step; the backward walks segments of k
//   steps from the last, recomputing each segment's states from its checkpoint first. Memory O(B·H·(T/k + k)).
// Both run the same kernels on the same inputs, so they give the same gradients.
import { modelLayers, readoutOutputs, stateWidth } from '../model/cells.ts';
import { layerView } from '../model/stack.ts';
import { recordInputAdjoint, recordStackInputs, type KeptStates } from './stack.ts';
import type { Step } from '../gpu/step.ts';
import type { ParamLayout } from '../model/params.ts';
import { adjointBlocks, backwardProgram, deltasFloats, operandNames, startStateSlots } from '../../shaders/recurrence/backward.ts';
import type { RecurrentSizes } from '../../shaders/recurrence/params.ts';
import { readoutLossProgram, residualProgram } from '../../shaders/loss.ts';
import { recordSegmentedReduce } from '../kernels/reduce.ts';
import { STEPS_PER_DISPATCH, checkRecurrentSizes, keptArgs, keptValues, recordForward, tensorOffsets, type KeptValues } from './forward.ts';
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

/** Records forward, loss and backward of one batch into `step`; a stack of PyTorch layers through every layer (SPEC §13). */
export function recordBatchGradient(step: Step, call: BatchGradientCall): void {
  const L = modelLayers(call.layout.config);
  step.clear(call.grad);
  // A stack, bottom up: each layer's h [B, T, H] is the next layer's x (src/cells/stack.ts); top down: each layer's
  // input adjoint is the error of the layer below. A lower layer's BPTT reuses the states its first forward kept
  // (stored mode; checkpointed BPTT recomputes its segments as one layer does). One layer: its readout loss alone.
  const kept: KeptStates[] = [];
  const inputs = recordStackInputs(step, call, kept);
  let above: GPUBuffer | undefined;
  for (let k = L - 1; k >= 0; k--) {
    const layout = layerView(call.layout, k);
    const dx = k > 0 ? step.scratch(`bptt/input-adjoint-l${k}`, call.batch * call.steps * layout.config.inputSize * 4) : undefined;
    const errors: LayerErrors = above ? { kind: 'hidden', dy: above } : { kind: 'readout', y: call.y, yhat: call.yhat, loss: call.loss, readoutLoss: call.readoutLoss };
    recordLayerGradient(step, { ...call, layout, x: inputs[k]!, errors, dx, storedStates: kept[k] });
    above = dx;
  }
}

/** Where a layer's loss comes from: its readout (the model's top layer) or the error of the layer above. */
type LayerErrors =
  | { kind: 'readout'; y: GPUBuffer; yhat: GPUBuffer; loss: GPUBuffer; readoutLoss?: ReadoutLoss }
  | { kind: 'hidden'; dy: GPUBuffer };

interface LayerGradientCall {
  layout: ParamLayout;
  params: GPUBuffer;
  x: GPUBuffer;
  batch: number;
  steps: number;
  grad: GPUBuffer;
  checkpointEvery?: number;
  errors: LayerErrors;
  /** ∂L/∂x [B, T, D] out: the error of the layer below in a stack. */
  dx?: GPUBuffer;
  /**
   * The layer's states after every step [T, B, W, H] and a zero slot after them (startStateSlots), already recorded
   * (a stack's lower layer): stored mode skips its forward.
   */
  storedStates?: KeptStates;
}

/**
 * Forward, loss (from the readout) and backward of one layer, its gradients written into `grad` (cleared by the
 * caller; the readout's only from the readout). With `dx`, the input adjoint of every step too.
 */
function recordLayerGradient(step: Step, call: LayerGradientCall): void {
  const { layout, batch: B, steps: T, errors } = call;
  checkRecurrentSizes(layout);
  const { cell, layernorm, hiddenSize: H } = layout.config;
  const W = stateWidth(cell);
  const k = Math.min(call.checkpointEvery ?? T, T, largestSegment(step, layout, B));
  const segments = Math.ceil(T / k);
  const stateBytes = B * W * H * 4;
  const state = step.scratch('bptt/state', stateBytes);
  // Stored mode keeps all T states; checkpointed mode keeps ⌊T/k⌋ checkpoints plus one segment's states. Either way
  // the segment's states have a slot after its k (startStateSlots): the state before the segment, which the backward
  // and the weight gradients read as h_{t-1} of its first step.
  const checkpoints = k < T ? step.scratch('bptt/checkpoints', Math.max(1, Math.floor(T / k)) * stateBytes) : undefined;
  const reuse = checkpoints || (call.storedStates?.slots ?? 0) < startStateSlots(T) ? undefined : call.storedStates;
  const segmentStates = reuse?.buffer ?? step.scratch('bptt/segment-states', startStateSlots(k) * stateBytes);
  // The forward that stores a segment's states also keeps its dot products and sums over units, for the backward
  // to replay instead of recomputing (shaders/cells/replay.ts). A stack's lower layer reuses its first forward's
  // states, with the values that forward kept, if it kept them.
  const kept = reuse ? reuse.kept : keptValues(step, layout, B, k, 0, 'bptt/kept');
  step.clear(state);
  const weights = recordRowWeights(step, layout, call.params);
  const K = readoutOutputs(layout.config);
  const yhat = errors.kind === 'readout' ? errors.yhat : step.scratch('bptt/yhat-unread', B * T * K * 4);
  if (!reuse) {
    recordForward(step, {
      layout, params: call.params, weights, x: call.x, batch: B, steps: T, state, yhat,
      ...(checkpoints ? { stored: { buffer: checkpoints, slots: Math.floor(T / k), every: k, from: 0 } } : { stored: { buffer: segmentStates, slots: T, every: 1, from: 0 }, kept }),
    });
  }
  let dy: GPUBuffer;
  if (errors.kind === 'readout') {
    dy = step.scratch('bptt/dy', B * T * K * 4);
    const readoutLoss = errors.readoutLoss ?? { loss: 'mse', lossSteps: 'all' };
    // The paper's loss keeps its own kernel; SPEC §13's others (ce, the last step only) go through readout_loss.
    if (readoutLoss.loss === 'mse' && readoutLoss.lossSteps === 'all') recordMseLoss(step, { yhat, y: errors.y, count: B * T * K, loss: errors.loss, dy });
    else recordReadoutLoss(step, { yhat, y: errors.y, batch: B, steps: T, outputs: K, total: errors.loss, dy, ...readoutLoss });
  } else dy = errors.dy;

  const deltas = step.scratch('bptt/deltas', deltasFloats(cell, layernorm, B, k, H) * 4);
  const operands = operandNames(cell).length;
  const ops = operands > 0 ? step.scratch('bptt/operands', B * k * operands * H * 4) : undefined;
  const adj = step.scratch('bptt/adjoint', stateBytes); // the carried adjoint
  step.clear(adj);
  const recomputedYhat = checkpoints ? step.scratch('bptt/yhat-recomputed', B * T * K * 4) : undefined;
  const partials = GradientPartials.plan(step, layout, segments, { readout: errors.kind === 'readout' });
  for (let seg = segments - 1; seg >= 0; seg--) {
    const from = seg * k;
    const to = Math.min(T, from + k);
    const segmentKept = kept && { ...kept, from }; // the buffer holds this segment's steps from `from` on
    // The state before the segment in its slot k: zero before step 0, else the checkpoint.
    if (seg === 0) step.clear(segmentStates, k * stateBytes, stateBytes);
    else step.copy(checkpoints!, (seg - 1) * stateBytes, segmentStates, k * stateBytes, stateBytes);
    if (checkpoints) {
      // Recompute this segment's states from the checkpoint before it.
      if (seg === 0) step.clear(state);
      else step.copy(checkpoints, (seg - 1) * stateBytes, state, 0, stateBytes);
      recordForward(step, {
        layout, params: call.params, weights, x: call.x, batch: B, steps: T, state, yhat: recomputedYhat!,
        stored: { buffer: segmentStates, slots: k, every: 1, from }, kept: segmentKept, range: [from, to],
      });
    }
    recordBackwardSegment(step, call, { from, to, slots: k, states: segmentStates, kept: segmentKept, weights, dy, adj, deltas, ops });
    partials.record(step, { x: call.x, dy, deltas, ops, states: segmentStates }, segments - 1 - seg, B, T, from, to - from, k);
    if (call.dx) recordInputAdjoint(step, { layout, params: call.params, deltas, slots: k, storeFrom: from, batch: B, steps: T, dx: call.dx, range: [from, to] });
  }
  partials.finish(step, call.grad);
}

/**
 * The longest BPTT segment whose per-segment buffers (states: k + 1 slots; adjoints, operands: [B, k, ·, H]; the
 * adjoints with LayerNorm's planes) fit one storage binding. Stored mode becomes checkpointed on its own when a batch is too large for the adapter (the paper's
 * B=512, T=1024, H=128 needs 256 MiB of states alone, twice lavapipe's binding limit); results are the same.
 */
export function largestSegment(step: Step, layout: ParamLayout, batch: number): number {
  const { cell, layernorm, hiddenSize: H } = layout.config;
  const fixed = deltasFloats(cell, layernorm, batch, 0, H) * 4; // LayerNorm's planes in deltas (LN_PLANES)
  const perStep = (width: number) => batch * width * H * 4;
  const byDeltas = Math.floor((step.maxBindingBytes - fixed) / perStep(Math.max(adjointBlocks(cell).length, operandNames(cell).length)));
  const byStates = Math.floor(step.maxBindingBytes / perStep(stateWidth(cell))) - 1; // startStateSlots(k) = k + 1
  return Math.max(1, Math.min(byDeltas, byStates));
}

interface SegmentCall {
  from: number;
  to: number;
  slots: number;
  states: GPUBuffer;
  /** The values the segment's forward kept, if it did: the backward replays them. */
  kept?: KeptValues;
  /** The row helpers' weights (recordRowWeights). */
  weights: GPUBuffer;
  dy: GPUBuffer;
  adj: GPUBuffer;
  deltas: GPUBuffer;
  /** gru's operands (operandNames); absent for the other cells. */
  ops?: GPUBuffer;
}

function recordBackwardSegment(step: Step, call: LayerGradientCall, seg: SegmentCall): void {
  const { layout, batch: B, steps: T } = call;
  const { cell, layernorm, hiddenSize: H, inputSize: D } = layout.config;
  const program = backwardProgram({
    cell, layernorm, tile: tileFor(step.device, cell, layernorm, H, D), outputs: readoutOutputs(layout.config), rows: rowLayout(step.device, layout), ...(call.errors.kind === 'hidden' && { errors: 'hidden' as const }),
    ...(seg.kept && { replay: true }),
  });
  const offsets = tensorOffsets(layout);
  const all: Record<string, GPUBuffer | undefined> = {
    P: call.params, PT: seg.weights, x: call.x, dy: seg.dy, states: seg.states, adj: seg.adj, deltas: seg.deltas, ops: seg.ops,
  };
  const buffers = Object.fromEntries(program.bindings.filter((b) => b.name !== 'kept').map((b) => [b.name, all[b.name]])); // a replaying kernel reads neither PT nor x
  // Later steps first: dispatches walk the segment backwards.
  for (let end = seg.to; end > seg.from; end -= STEPS_PER_DISPATCH) {
    const t0 = Math.max(seg.from, end - STEPS_PER_DISPATCH);
    const sizes: RecurrentSizes = {
      batch: B, T, D, H, t0, steps: end - t0, slots: seg.slots, storeEvery: 1, storeFrom: seg.from, startSlot: seg.slots,
    };
    const kept = keptArgs(seg.kept, t0, sizes.steps);
    step.run(program, { ...buffers, ...kept.buffers }, { ...sizes, ...offsets, ...kept.uniforms });
  }
}
