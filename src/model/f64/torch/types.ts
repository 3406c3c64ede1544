// The contract of one PyTorch recurrent layer's time step in float64 (SPEC §13): forward, adjoint, tangent and the
// per-step diagonal terms. Stacks (stack.ts) and Jacobians (jacobian.ts) are built on these four.
import type { RecurrentState } from '../types.ts';
import type { TorchCell, TorchLayerParams } from './config.ts';

export interface TorchStepRecord {
  /** The layer's input at this step [D_k]: x_t for layer 0, h^{(k-1)}_t above it. */
  x: Float64Array;
  prev: RecurrentState;
  next: RecurrentState;
}

/** SPEC §13 per-step diagonal terms, each [H]: rnn {d}; torch_gru {gate = 1-z, leak = z, rdiag}; torch_lstm {f, e, cdiag}. */
export type DiagonalTerms = Record<string, Float64Array>;

export interface TorchCellReference<R extends TorchStepRecord = TorchStepRecord> {
  readonly cell: TorchCell;
  /** Names of diagonalTerms' entries, in a fixed order. */
  readonly termNames: readonly string[];
  step(p: TorchLayerParams, x: Float64Array, prev: RecurrentState): R;
  diagonalTerms(p: TorchLayerParams, rec: R): DiagonalTerms;
  /**
   * Given the adjoint of the output state (total: ∂L/∂h_t[, ∂L/∂c_t]), adds the step's parameter gradient into
   * `grad` (null: skip) and returns the adjoints of the input state and of the input x.
   */
  backward(p: TorchLayerParams, grad: TorchLayerParams | null, rec: R, adjoint: RecurrentState): { state: RecurrentState; x: Float64Array };
  /** The output state's tangent along parameter direction `dir` (null: none), input-state tangent and input tangent ẋ (null: 0). */
  tangent(p: TorchLayerParams, dir: TorchLayerParams | null, rec: R, prevTangent: RecurrentState, xDot: Float64Array | null): RecurrentState;
}
