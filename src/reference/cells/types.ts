// The contract every float64 reference cell implements: one time step forward, its adjoint (backward) and its
// tangent (forward-mode JVP). The batch drivers (forward.ts, backward.ts, tangent.ts) only loop over these.
import type { CellKind } from '../../model/cells.ts';
import type { TensorViews } from '../../model/params.ts';

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

/**
 * Per-step diagnostic terms of SPEC §4, each [H] per step ([B,T,H] over a batch):
 * - `gate`: the cell's update gate broadcast to H (s for const/shared/diag, z for gru); not in lstm.
 * - `leak`, `rdiag`: retention and first-order diagonal term (const/shared/diag/gru); for linear, `leak` is the
 *   signed diagonal Wh_qq of its Jacobian Wh, and it has no first-order term.
 * - `r`: the GRU reset gate.
 * - `f`, `e`, `cdiag`: the LSTM forget gate, expression factor o(1 - tanh²c) and diagonal cell term.
 */
export type IntermediateName = 'gate' | 'leak' | 'rdiag' | 'r' | 'f' | 'e' | 'cdiag';

export type IntermediateValues = Partial<Record<IntermediateName, Float64Array>>;

export const INTERMEDIATE_NAMES: Readonly<Record<CellKind, readonly IntermediateName[]>> = {
  const: ['gate', 'leak', 'rdiag'],
  shared: ['gate', 'leak', 'rdiag'],
  diag: ['gate', 'leak', 'rdiag'],
  gru: ['gate', 'leak', 'rdiag', 'r'],
  lstm: ['f', 'e', 'cdiag'],
  linear: ['leak'],
};

export interface CellReference<R extends StepRecord = StepRecord> {
  readonly kind: CellKind;
  /** (h_{t-1}[, c_{t-1}], x_t) → h_t[, c_t] and everything backward/tangent need. */
  step(p: Params, x: Float64Array, prev: RecurrentState): R;
  /** SPEC §4 terms of this step, each [H], named as in INTERMEDIATE_NAMES[kind]. */
  intermediates(p: Params, rec: R): IntermediateValues;
  /**
   * Given the adjoint of this step's output state (∂L/∂h_t[, ∂L/∂c_t], total, including later steps), adds this
   * step's parameter gradient into `grad` and returns the adjoint of its input state.
   */
  backward(p: Params, grad: Params, rec: R, adjoint: RecurrentState): RecurrentState;
  /** Given the tangent of the input state along direction `dir`, returns the tangent of the output state. */
  tangent(p: Params, dir: Params, rec: R, prevTangent: RecurrentState): RecurrentState;
}
