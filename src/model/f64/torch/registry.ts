// One float64 step reference per PyTorch layer kind.
import type { CellKind } from '../../cells.ts';
import type { TorchCell, TorchNonlinearity } from './config.ts';
import { torchGruCell } from './gru.ts';
import { torchLstmCell } from './lstm.ts';
import { rnnCell } from './rnn.ts';
import type { TorchCellReference } from './types.ts';

const RNN = { tanh: rnnCell('tanh'), relu: rnnCell('relu') };

export function torchCellReference(cell: TorchCell, nonlinearity: TorchNonlinearity = 'tanh'): TorchCellReference {
  switch (cell) {
    case 'rnn':
      return RNN[nonlinearity] as TorchCellReference;
    case 'torch_gru':
      return torchGruCell as TorchCellReference;
    case 'torch_lstm':
      return torchLstmCell as TorchCellReference;
  }
}

/**
 * Whose SPEC §5 window rule a layer's μ follows, with its diagonal terms in that cell's plane order
 * (INTERMEDIATE_NAMES): rnn's d as linear's signed, unclamped `leak` product (μ1 = 0); torch_gru's
 * (gate, leak = z, rdiag) as diag's Π leak (1 + Σ rdiag/leak); torch_lstm's (f, e, cdiag) as lstm's.
 */
export const WINDOW_RULE: Readonly<Record<TorchCell, CellKind>> = { rnn: 'linear', torch_gru: 'diag', torch_lstm: 'lstm' };
