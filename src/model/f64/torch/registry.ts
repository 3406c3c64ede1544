// One float64 step reference per PyTorch layer kind.
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
