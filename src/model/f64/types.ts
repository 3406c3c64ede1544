// The contract every float64 cell implements: one time step forward, its adjoint (backward) and its tangent
// (forward-mode JVP). Exact transport runs these cells; the batch drivers of src/reference/cells only loop over them.
import type { CellKind, IntermediateName } from '../cells.ts';
import type { TensorViews } from '../params.ts';

/** Named float64 views of a flat parameter-shaped array: the weights, their gradient, or a direction. */
export type Params = TensorViews<Float64Array>;

/** A cell's recurrent state (h, plus c for LSTM). Tangents and adjoints of the state have the same shape. */
export interface RecurrentState {
  h: Float64Array;
  /** LSTM cell state; absent for the other cells. */
  c?: Float64Array;
}

/** What one forward step keeps for its backward and tangent passes. */
export interface StepRecord {
  /** x_t [D]. */
  x: Float64Array;
  prev: RecurrentState;
  next: RecurrentState;
}

export type IntermediateValues = Partial<Record<IntermediateName, Float64Array>>;

export interface CellReference<R extends StepRecord = StepRecord> {
  readonly kind: CellKind;
  /** (h_{t-1}[, c_{t-1}], x_t) → h_t[, c_t] and everything backward/tangent need. */
  step(p: Params, x: Float64Array, prev: RecurrentState): R;
  /** SPEC §4 terms of this step, each [H], named as in CELL_FACTS[kind].intermediates (src/model/cells.ts). */
  intermediates(p: Params, rec: R): IntermediateValues;
  /**
   * Given the adjoint of this step's output state (∂L/∂h_t[, ∂L/∂c_t], total, including later steps), adds this
   * step's parameter gradient into `grad` and returns the adjoint of its input state.
   */
  backward(p: Params, grad: Params, rec: R, adjoint: RecurrentState): RecurrentState;
  /** Given the tangent of the input state along direction `dir`, returns the tangent of the output state. */
  tangent(p: Params, dir: Params, rec: R, prevTangent: RecurrentState): RecurrentState;
}
