// Host side of the forward recurrence (shaders/recurrence/forward.ts): records the dispatches of one call.
import type { Step } from '../gpu/step.ts';
import type { ParamLayout } from '../model/params.ts';
import { getTensorSpec } from '../model/params.ts';
import { readoutOutputs } from '../model/cells.ts';
import { MAX_TRAIN_HIDDEN, tileFor } from './tiles.ts';
import { recordRowWeights, rowLayout } from './weights.ts';
import { forwardDots, forwardProgram, type ForwardVariant } from '../../shaders/recurrence/forward.ts';
import { keptStride } from '../../shaders/cells/replay.ts';
import { envSetting } from '../gpu/runtime.ts';
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
  /** Also keep every step's dot products and sums over units there, for the backward to replay (keptValues). */
  kept?: KeptValues;
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
    ...(call.kept && { keepDots: true }),
  };
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
    const kept = keptArgs(call.kept, t0, sizes.steps);
    step.run(program, { ...buffers, ...kept.buffers }, { ...sizes, ...offsets, ...kept.uniforms });
  }
}

/**
 * Where a forward keeps the values its backward replays (shaders/cells/replay.ts): `buffer` holds steps `from`,
 * `from` + 1, … of the call, `stride` floats each ([B, ND, H], padded).
 */
export interface KeptValues {
  buffer: GPUBuffer;
  stride: number;
  from: number;
}

/**
 * A buffer for the values a forward over `steps` steps from step `from` keeps, or undefined where it would not fit
 * the adapter (in one buffer, maxBufferSize, and a dispatch's window of it in one binding) or `LWIN_REPLAY=off`
 * (a benchmark switch: BPTT then recomputes them).
 */
export function keptValues(step: KeptHost, layout: ParamLayout, batch: number, steps: number, from: number, label: string): KeptValues | undefined {
  if (envSetting('LWIN_REPLAY') === 'off') return undefined;
  const { cell, layernorm, hiddenSize: H } = layout.config;
  const stride = keptStride(batch, forwardDots(cell, layernorm), H, step.device.limits.minStorageBufferOffsetAlignment);
  const bytes = steps * stride * 4;
  if (bytes > step.device.limits.maxBufferSize || Math.min(steps, STEPS_PER_DISPATCH) * stride * 4 > step.maxBindingBytes) return undefined;
  return { buffer: step.scratch(label, bytes, 'windows'), stride, from };
}

/** What keptValues needs of a Step. */
export type KeptHost = Pick<Step, 'device' | 'maxBindingBytes' | 'scratch'>;

/** The part of `kept` a dispatch over `steps` steps from step t0 reads or writes: its binding. */
export function keptWindow(kept: KeptValues, t0: number, steps: number): GPUBufferBinding {
  return { buffer: kept.buffer, offset: (t0 - kept.from) * kept.stride * 4, size: steps * kept.stride * 4 };
}

/** What a keeping or replaying dispatch over `steps` steps from t0 adds to its buffers and uniforms (nothing without `kept`). */
export function keptArgs(kept: KeptValues | undefined, t0: number, steps: number): { buffers: Record<string, GPUBufferBinding>; uniforms: Record<string, number> } {
  return kept ? { buffers: { kept: keptWindow(kept, t0, steps) }, uniforms: { keptStride: kept.stride } } : { buffers: {}, uniforms: {} };
}
