// Host side of the forward recurrence (shaders/recurrence/forward.ts): records the dispatches of one call.
import type { Step } from '../gpu/step.ts';
import type { ParamLayout } from '../model/params.ts';
import { getTensorSpec } from '../model/params.ts';
import { readoutOutputs } from '../model/cells.ts';
import { MAX_TRAIN_HIDDEN, tileFor } from './tiles.ts';
import { recordRowWeights, rowLayout } from './weights.ts';
import { forwardProgram, type ForwardVariant } from '../../shaders/recurrence/forward.ts';
import { NO_SLOT, offsetField, recurrentParams, type RecurrentSizes } from '../../shaders/recurrence/params.ts';

/**
 * Steps per dispatch. A dispatch must end well within a GPU watchdog (~2 s on desktop drivers); 64 steps of the
 * largest cell at H=256 are a few ms on a discrete GPU. All dispatches of a call go into the same submit.
 */
export const STEPS_PER_DISPATCH = 64;

/** Offsets of every tensor of `layout`, as the recurrent uniform block wants them. */
export function tensorOffsets(layout: ParamLayout): Record<string, number> {
  const { names } = recurrentParams(layout.config);
  return Object.fromEntries(names.map((n) => [offsetField(n), getTensorSpec(layout, n).offset]));
}

export interface StoredStates {
  buffer: GPUBuffer;
  /** Slots: the buffer is [slots, B, W, H] with W = 2 for lstm (h then c), else 1 (one slot is contiguous). */
  slots: number;
  every: number;
  from: number;
}

export interface ForwardCall {
  layout: ParamLayout;
  /** Flat f32 parameters in `layout`. */
  params: GPUBuffer;
  /** [B, T, D]. */
  x: GPUBuffer;
  batch: number;
  /** T: steps per stored sequence (x, ŷ and the intermediates are indexed by it). */
  steps: number;
  /** State [B, W, H] to start from and to leave the final state in (clear it for the zero state). */
  state: GPUBuffer;
  /** ŷ [B, T] ([B, T, K] with a K-output readout). */
  yhat: GPUBuffer;
  /** States to keep (for backward or checkpoints); a 4-byte dummy when none. */
  stored?: StoredStates;
  /**
   * Also keep the dot products of every stored step in `stored.buffer`, [B, slots, ND, H] floats from this float
   * offset on (after the states), for the backward to replay (shaders/cells/replay.ts). Needs `stored.every` 1.
   */
  dotsAt?: number;
  /** SPEC §4 terms [n, B, T, H], n = INTERMEDIATE_COUNT[cell]. */
  intermediates?: GPUBuffer;
  /** Run only steps [from, to) of the T (default all). */
  range?: [number, number];
  /** recordRowWeights(step, layout, params) when the caller has it (a batch's passes share one); made here if absent. */
  weights?: GPUBuffer;
}

export function checkRecurrentSizes(layout: ParamLayout): void {
  const { hiddenSize } = layout.config;
  if (hiddenSize > MAX_TRAIN_HIDDEN) throw new RangeError(`hidden size H=${hiddenSize} exceeds the recurrent kernels' limit of ${MAX_TRAIN_HIDDEN}`);
}

/** Records the forward recurrence for steps `range` of `call` into `step`. */
export function recordForward(step: Step, call: ForwardCall): void {
  const { layout } = call;
  checkRecurrentSizes(layout);
  const { cell, layernorm, hiddenSize: H, inputSize: D } = layout.config;
  const variant: ForwardVariant = {
    cell, layernorm, tile: tileFor(step.device, cell, layernorm, H, D), intermediates: Boolean(call.intermediates), outputs: readoutOutputs(layout.config), rows: rowLayout(step.device, layout),
    ...(call.dotsAt !== undefined && { keepDots: true }),
  };
  if (call.dotsAt !== undefined && call.stored?.every !== 1) throw new Error('recordForward: dot products are kept only with states stored at every step (stored.every 1)');
  const program = forwardProgram(variant);
  const weights = call.weights ?? recordRowWeights(step, layout, call.params);
  const stored = call.stored ?? { buffer: step.scratch('forward/no-stored-states', 4), slots: 1, every: 0xffffffff, from: 0xffffffff };
  const [from, to] = call.range ?? [0, call.steps];
  const buffers = { P: weights, x: call.x, state: call.state, stored: stored.buffer, yhat: call.yhat, inter: call.intermediates };
  const offsets = tensorOffsets(layout);
  for (let t0 = from; t0 < to; t0 += STEPS_PER_DISPATCH) {
    const sizes: RecurrentSizes = {
      batch: call.batch, T: call.steps, D, H, t0, steps: Math.min(STEPS_PER_DISPATCH, to - t0),
      slots: stored.slots, storeEvery: stored.every, storeFrom: stored.from, startSlot: NO_SLOT,
    };
    step.run(program, buffers, { ...sizes, ...offsets, ...(call.dotsAt !== undefined && { dotsAt: call.dotsAt }) });
  }
}
