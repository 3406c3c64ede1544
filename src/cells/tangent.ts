// Host side of the tangent recurrence (shaders/recurrence/tangent.ts): records the dispatches of one call.
// SPEC §7: v_t = (dh_t/dθ)[w] along a parameter direction w, and ŷ̇_t, for every step.
import { stateWidth } from '../model/cells.ts';
import type { Step } from '../gpu/step.ts';
import type { ParamLayout } from '../model/params.ts';
import { tangentProgram, type TangentVariant } from '../../shaders/recurrence/tangent.ts';
import type { RecurrentSizes } from '../../shaders/recurrence/params.ts';
import { STEPS_PER_DISPATCH, checkRecurrentSizes, tensorOffsets } from './forward.ts';
import { diagnosticTile } from './tiles.ts';
import { recordRowWeights, rowLayout } from './weights.ts';

export interface TangentCall {
  layout: ParamLayout;
  /** Flat f32 parameters in `layout`. */
  params: GPUBuffer;
  /** The direction w, flat f32 in `layout`. Only trainable tensors are read: s_const and padding may hold anything. */
  direction: GPUBuffer;
  /** [B, T, D]. */
  x: GPUBuffer;
  batch: number;
  /** T: steps per stored sequence (x, v and ŷ̇ are indexed by it). */
  steps: number;
  /**
   * State [B, 2W, H] (W = 2 for lstm: h, c, v, ċ; else h, v) to start from and to leave the final state in;
   * clear it for the zero state (whose tangent is 0 whatever θ is).
   */
  state: GPUBuffer;
  /** v [B, T, H]. */
  v: GPUBuffer;
  /** ċ [B, T, H], lstm only; omit to skip writing it. */
  cellTangent?: GPUBuffer;
  /** ŷ̇ [B, T]. */
  yhatDot: GPUBuffer;
  /**
   * An input perturbation as well (lag recovery, SPEC §12): [D] ẋ then [B] the step (as a float) at which each
   * sequence's input moves along ẋ. Pass a zero `direction` for the input tangent alone.
   */
  inputDirection?: GPUBuffer;
  /** Run only steps [from, to) of the T (default all). */
  range?: [number, number];
}

/** Records the tangent recurrence for steps `range` of `call` into `step`. */
export function recordTangent(step: Step, call: TangentCall): void {
  const { layout } = call;
  checkRecurrentSizes(layout);
  const { cell, layernorm, hiddenSize: H, inputSize: D } = layout.config;
  if (call.cellTangent && stateWidth(cell) !== 2) {
    throw new Error(`recordTangent: a cell-state tangent buffer was given for a ${cell} model; only lstm and torch_lstm have a cell state`);
  }
  // The training kernels' default tile (one sequence per thread group, K units per thread up to H = 1024) and their
  // weight layout: by columns, P and the direction Pd are read from copies made here, so that a GPU's threads read
  // consecutive words of both at each step of a dot product. By rows, each thread walks its own rows of two matrices
  // at once; on an H200 the tangent then took ten times the forward's time per step (bench/RESULTS.md, 2026-11-27).
  const rows = rowLayout(step.device, layout);
  const variant: TangentVariant = { cell, layernorm, tile: diagnosticTile(step.device, cell, H, D), cellTangent: Boolean(call.cellTangent), inputTangent: Boolean(call.inputDirection), rows };
  const program = tangentProgram(variant);
  const [from, to] = call.range ?? [0, call.steps];
  const buffers = {
    P: recordRowWeights(step, layout, call.params), Pd: recordRowWeights(step, layout, call.direction, 'weights/direction-by-columns'),
    x: call.x, state: call.state, v_out: call.v, yhat_dot: call.yhatDot,
    vc_out: call.cellTangent, input_dir: call.inputDirection,
  };
  const offsets = tensorOffsets(layout);
  for (let t0 = from; t0 < to; t0 += STEPS_PER_DISPATCH) {
    // This kernel stores no states: the shared uniform block's store fields are unused.
    const sizes: RecurrentSizes = {
      batch: call.batch, T: call.steps, D, H, t0, steps: Math.min(STEPS_PER_DISPATCH, to - t0),
      slots: 0, storeEvery: 0, storeFrom: 0, startSlot: 0,
    };
    step.run(program, buffers, { ...sizes, ...offsets });
  }
}
