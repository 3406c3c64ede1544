// PyTorch's layers as lwin cells (SPEC §13, single layer): the torch twins behind the CellReference contract the
// batch drivers, exact transport and the GPU kernels' checks use. Parameters are read by their state_dict names
// (weight_ih_l0 …) from the cell's layout; the readout stays with the drivers. The twins' diagonal terms become the
// cell's SPEC §4 planes (CELL_FACTS): rnn's d is its `leak`, the gated layers' names are already lwin's.
import type { TorchCellKind } from '../../cells.ts';
import type { CellReference, IntermediateValues, Params, RecurrentState, StepRecord } from '../types.ts';
import type { TorchLayerParams } from './config.ts';
import { torchCellReference } from './registry.ts';
import { torchStateJacobian } from './jacobian.ts';

function layerParams(p: Params): TorchLayerParams {
  const weightIh = p.get('weight_ih_l0');
  const rows = p.layout.tensors.find((t) => t.name === 'weight_ih_l0')!.shape;
  return { weightIh, weightHh: p.get('weight_hh_l0'), biasIh: p.get('bias_ih_l0'), biasHh: p.get('bias_hh_l0'), inputSize: rows[1]! };
}

function twinOf(kind: TorchCellKind) {
  return kind === 'rnn' || kind === 'rnn_relu' ? torchCellReference('rnn', kind === 'rnn' ? 'tanh' : 'relu') : torchCellReference(kind);
}

/** The full one-step Jacobian ∂(h'[, c'])/∂(h[, c]) of a step of this cell (torchStateJacobian's layout). */
export function torchSingleLayerJacobian(kind: TorchCellKind, p: Params, rec: StepRecord): Float64Array {
  return torchStateJacobian(twinOf(kind), layerParams(p), rec);
}

export function torchSingleLayerCell(kind: TorchCellKind): CellReference {
  const twin = twinOf(kind);
  return {
    kind,
    step(p: Params, x: Float64Array, prev: RecurrentState): StepRecord {
      return twin.step(layerParams(p), x, prev);
    },
    intermediates(p: Params, rec: StepRecord): IntermediateValues {
      const terms = twin.diagonalTerms(layerParams(p), rec);
      return twin.cell === 'rnn' ? { leak: terms.d! } : (terms as IntermediateValues);
    },
    backward(p: Params, grad: Params, rec: StepRecord, adjoint: RecurrentState): RecurrentState {
      return twin.backward(layerParams(p), layerParams(grad), rec, adjoint).state;
    },
    tangent(p: Params, dir: Params, rec: StepRecord, prevTangent: RecurrentState): RecurrentState {
      return twin.tangent(layerParams(p), layerParams(dir), rec, prevTangent, null);
    },
  };
}
